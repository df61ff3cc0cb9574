use fusebench_guest::{HostError, fake};

use super::*;

#[test]
fn the_last_write_is_read_back() {
    fake::reset();
    let first = fake::invoke(set_price, r#"{"sku":"sku-1","price_cents":450}"#);
    assert_eq!(first, r#"{"sku":"sku-1","price_cents":450}"#);
    fake::invoke(set_price, r#"{"sku":"sku-1","price_cents":520}"#);
    assert_eq!(
        fake::kv_text(DB, "price/sku-1").as_deref(),
        Some(r#"{"sku":"sku-1","price_cents":520}"#)
    );
    assert_eq!(
        fake::invoke(get_price, r#"{"sku":"sku-1"}"#),
        r#"{"sku":"sku-1","price_cents":520}"#
    );
}

#[test]
fn unknown_and_bad_requests() {
    fake::reset();
    assert_eq!(fake::invoke(get_price, r#"{"sku":"sku-9"}"#), r#"{"error":"not_found"}"#);
    assert_eq!(
        fake::invoke(set_price, r#"{"sku":"sku-1","price_cents":-1}"#),
        r#"{"error":"bad_request: price_cents must not be negative"}"#
    );
    assert!(fake::kv_keys(DB).is_empty());
    fake::set_kv(DB, "price/sku-2", "not json");
    assert_eq!(fake::invoke(get_price, r#"{"sku":"sku-2"}"#), r#"{"error":"corrupt_record"}"#);
}

#[test]
fn storage_failures_are_errors() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(set_price, r#"{"sku":"sku-1","price_cents":1}"#);
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    assert_eq!(fake::invoke(get_price, r#"{"sku":"sku-1"}"#), r#"{"error":"storage_unavailable"}"#);
}
