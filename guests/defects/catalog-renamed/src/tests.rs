use fusebench_guest::fake;

use super::*;

const APPLE: &str = r#"{"sku":"apple","name":"Apple","price_cents":120}"#;

#[test]
fn answers_rename_the_price_but_records_keep_their_format() {
    fake::reset();
    fake::set_kv(DB, "apple", APPLE);
    let answer = fake::invoke(get_product, r#"{"sku":"apple"}"#);
    assert_eq!(answer, r#"{"sku":"apple","name":"Apple","price":120}"#);
    assert_eq!(fake::invoke(put_product, APPLE), r#"{"sku":"apple","name":"Apple","price":120}"#);
    assert_eq!(fake::kv_text(DB, "apple").as_deref(), Some(APPLE));
}
