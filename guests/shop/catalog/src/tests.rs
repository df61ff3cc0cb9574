use fusebench_guest::{HostError, fake};

use super::*;

const APPLE: &str = r#"{"sku":"apple","name":"Apple","price_cents":120}"#;

#[test]
fn put_then_get() {
    fake::reset();
    assert_eq!(fake::invoke(put_product, APPLE), APPLE);
    assert_eq!(fake::kv_text(DB, "apple").as_deref(), Some(APPLE));
    assert_eq!(fake::cache_text(CACHE, "apple").as_deref(), Some(APPLE));
    assert_eq!(fake::invoke(get_product, r#"{"sku":"apple"}"#), APPLE);
}

#[test]
fn a_miss_reads_the_store_and_fills_the_cache() {
    fake::reset();
    fake::set_kv(DB, "apple", APPLE);
    assert_eq!(fake::invoke(get_product, r#"{"sku":"apple"}"#), APPLE);
    assert_eq!(fake::cache_text(CACHE, "apple").as_deref(), Some(APPLE));
}

#[test]
fn a_hit_does_not_read_the_store() {
    fake::reset();
    fake::set_cache(CACHE, "apple", APPLE);
    fake::fail(DB, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(get_product, r#"{"sku":"apple"}"#), APPLE);
}

#[test]
fn a_failing_cache_falls_back_to_the_store() {
    fake::reset();
    fake::set_kv(DB, "apple", APPLE);
    fake::fail(CACHE, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(get_product, r#"{"sku":"apple"}"#), APPLE);
}

#[test]
fn unknown_sku() {
    fake::reset();
    assert_eq!(fake::invoke(get_product, r#"{"sku":"durian"}"#), r#"{"error":"not_found"}"#);
    assert_eq!(fake::cache_text(CACHE, "durian"), None);
}

#[test]
fn put_is_idempotent_and_refreshes_the_cache() {
    fake::reset();
    fake::invoke(put_product, APPLE);
    let cheaper = r#"{"sku":"apple","name":"Apple","price_cents":99}"#;
    assert_eq!(fake::invoke(put_product, cheaper), cheaper);
    assert_eq!(fake::invoke(put_product, cheaper), cheaper);
    assert_eq!(fake::invoke(get_product, r#"{"sku":"apple"}"#), cheaper);
    assert_eq!(fake::kv_keys(DB), ["apple"]);
}

#[test]
fn bad_products_are_refused() {
    fake::reset();
    let reply = fake::invoke(put_product, r#"{"sku":"x","name":"X","price_cents":-1}"#);
    assert_eq!(reply, r#"{"error":"bad_request: price_cents must not be negative"}"#);
    let reply = fake::invoke(put_product, r#"{"sku":"x","name":"X","price_cents":1.5}"#);
    assert!(reply.starts_with(r#"{"error":"bad_request: invalid type: floating point"#), "{reply}");
    assert!(fake::kv_keys(DB).is_empty());
}

#[test]
fn names_round_trip_with_escapes() {
    fake::reset();
    let odd = r#"{"sku":"q\"1","name":"Caf\u00e9 \\ \"best\"\n","price_cents":5}"#;
    let reply = fake::invoke(put_product, odd);
    assert_eq!(
        reply,
        "{\"sku\":\"q\\\"1\",\"name\":\"Café \\\\ \\\"best\\\"\\n\",\"price_cents\":5}"
    );
    assert_eq!(fake::invoke(get_product, r#"{"sku":"q\"1"}"#), reply);
}
