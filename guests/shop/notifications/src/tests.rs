use alloc::format;
use alloc::string::ToString;

use fusebench_guest::log::Level;
use fusebench_guest::{HostError, fake};

use super::*;

fn created(shipment_id: &str, customer: &str) -> String {
    format!(
        r#"{{"type":"shipment_created","shipment_id":"{shipment_id}","order_id":"o","customer":"{customer}"}}"#
    )
}

#[test]
fn notifies_once_per_shipment() {
    fake::reset();
    assert_eq!(fake::invoke(on_shipment_created, &created("s1", "ann")), r#"{"ok":true}"#);
    assert_eq!(fake::invoke(on_shipment_created, &created("s1", "ann")), r#"{"ok":true}"#);
    assert_eq!(fake::invoke(on_shipment_created, &created("s2", "ann")), r#"{"ok":true}"#);
    assert_eq!(fake::kv_text(DB, "count/ann").as_deref(), Some("2"));
    assert_eq!(fake::kv_text(DB, "sent/s1").as_deref(), Some("ann"));
    assert_eq!(
        fake::logs(),
        [
            (Level::Info, "notify ann: shipment s1".to_string()),
            (Level::Info, "notify ann: shipment s2".to_string())
        ]
    );
    assert_eq!(fake::invoke(sent_count, r#"{"customer":"ann"}"#), r#"{"customer":"ann","sent":2}"#);
    assert_eq!(fake::invoke(sent_count, r#"{"customer":"bob"}"#), r#"{"customer":"bob","sent":0}"#);
}

#[test]
fn storage_failure_is_an_error_and_redelivery_completes() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(on_shipment_created, &created("s1", "ann"));
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    fake::fail(DB, None);
    fake::invoke(on_shipment_created, &created("s1", "ann"));
    assert_eq!(fake::kv_text(DB, "count/ann").as_deref(), Some("1"));
    assert_eq!(fake::logs().len(), 1);
}

#[test]
fn missing_fields_are_bad_requests() {
    fake::reset();
    let reply = fake::invoke(on_shipment_created, r#"{"shipment_id":"s1"}"#);
    assert!(reply.starts_with(r#"{"error":"bad_request: missing field `customer`"#), "{reply}");
    assert!(fake::kv_keys(DB).is_empty());
}
