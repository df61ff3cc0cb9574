use fusebench_guest::{HostError, fake};

use super::*;

const PLACED: &str = r#"{"type":"order_placed","order_id":"ord-k1","customer":"ann","sku":"apple","qty":2,"total_cents":500}"#;
const SHIPMENT: &str =
    r#"{"shipment_id":"shp-ord-k1","order_id":"ord-k1","customer":"ann","status":"created"}"#;
const CREATED: &str = r#"{"type":"shipment_created","shipment_id":"shp-ord-k1","order_id":"ord-k1","customer":"ann"}"#;

#[test]
fn creates_a_shipment_and_announces_it() {
    fake::reset();
    assert_eq!(fake::invoke(on_order_placed, PLACED), r#"{"ok":true}"#);
    assert_eq!(fake::kv_text(DB, "shipment/ord-k1").as_deref(), Some(SHIPMENT));
    assert_eq!(fake::published(EVENTS), [CREATED]);
    assert_eq!(fake::invoke(get_shipment, r#"{"order_id":"ord-k1"}"#), SHIPMENT);
}

#[test]
fn redelivery_changes_nothing() {
    fake::reset();
    fake::invoke(on_order_placed, PLACED);
    assert_eq!(fake::invoke(on_order_placed, PLACED), r#"{"ok":true}"#);
    assert_eq!(fake::published(EVENTS).len(), 1);
    assert_eq!(fake::kv_keys(DB), ["shipment/ord-k1"]);
}

#[test]
fn a_failed_publish_stores_nothing_so_redelivery_retries() {
    fake::reset();
    fake::fail(EVENTS, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(on_order_placed, PLACED), r#"{"error":"events_unavailable"}"#);
    assert!(fake::kv_keys(DB).is_empty());
    fake::fail(EVENTS, None);
    fake::invoke(on_order_placed, PLACED);
    assert_eq!(fake::published(EVENTS), [CREATED]);
}

#[test]
fn a_lost_store_write_announces_again_on_redelivery() {
    fake::reset();
    fake::fail_writes(DB, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(on_order_placed, PLACED), r#"{"error":"storage_unavailable"}"#);
    fake::fail_writes(DB, None);
    fake::invoke(on_order_placed, PLACED);
    assert_eq!(fake::published(EVENTS), [CREATED, CREATED]);
    assert_eq!(fake::kv_text(DB, "shipment/ord-k1").as_deref(), Some(SHIPMENT));
}

#[test]
fn other_event_types_are_acknowledged_and_ignored() {
    fake::reset();
    let other = r#"{"type":"order_cancelled","order_id":"ord-k1","customer":"ann"}"#;
    assert_eq!(fake::invoke(on_order_placed, other), r#"{"ok":true}"#);
    assert!(fake::published(EVENTS).is_empty());
}

#[test]
fn unknown_shipment() {
    fake::reset();
    assert_eq!(fake::invoke(get_shipment, r#"{"order_id":"nope"}"#), r#"{"error":"not_found"}"#);
}
