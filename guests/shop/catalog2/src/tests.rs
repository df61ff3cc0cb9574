use fusebench_guest::fake;

use super::*;

const APPLE: &str = r#"{"sku":"apple","name":"Apple","price_cents":120}"#;

#[test]
fn answers_carry_the_currency_and_records_keep_their_format() {
    fake::reset();
    let answer = r#"{"sku":"apple","name":"Apple","price_cents":120,"currency":"EUR"}"#;
    assert_eq!(fake::invoke(put_product, APPLE), answer);
    assert_eq!(fake::kv_text(DB, "apple").as_deref(), Some(APPLE));
    assert_eq!(fake::invoke(get_product, r#"{"sku":"apple"}"#), answer);
}

#[test]
fn a_record_written_by_the_old_version_is_read() {
    fake::reset();
    fake::set_kv(DB, "apple", APPLE);
    let answer = fake::invoke(get_product, r#"{"sku":"apple"}"#);
    assert_eq!(answer, r#"{"sku":"apple","name":"Apple","price_cents":120,"currency":"EUR"}"#);
    assert_eq!(fake::invoke(get_product, r#"{"sku":"durian"}"#), r#"{"error":"not_found"}"#);
}
