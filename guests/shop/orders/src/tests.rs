use alloc::vec::Vec;

use fusebench_guest::{HostError, fake, serde_json};

use super::*;

/// Stand-ins for the three callees, with the contracts of scenarios/shop/SERVICES.md.
fn world(stock: i64) {
    fake::reset();
    fake::on_call("catalog", "get_product", |req| {
        let req: serde_json::Value =
            serde_json::from_slice(req).map_err(|_| HostError::Rejected)?;
        Ok(match req["sku"].as_str() {
            Some("apple") => br#"{"sku":"apple","name":"Apple","price_cents":250}"#.to_vec(),
            Some("gold") => br#"{"sku":"gold","name":"Gold","price_cents":60000}"#.to_vec(),
            _ => br#"{"error":"not_found"}"#.to_vec(),
        })
    });
    fake::on_call("inventory", "reserve", move |req| {
        let req: serde_json::Value =
            serde_json::from_slice(req).map_err(|_| HostError::Rejected)?;
        let reserved = req["qty"].as_i64().is_some_and(|qty| qty <= stock);
        Ok(format!(
            r#"{{"reservation_id":{},"sku":{},"qty":{},"reserved":{reserved},"available":{stock}}}"#,
            req["reservation_id"], req["sku"], req["qty"]
        )
        .into_bytes())
    });
    fake::on_call("payments", "charge", |req| {
        let req: serde_json::Value =
            serde_json::from_slice(req).map_err(|_| HostError::Rejected)?;
        let amount = req["amount_cents"].as_i64().unwrap_or(0);
        let status = if amount > 0 && amount <= 100_000 { "charged" } else { "declined" };
        Ok(format!(
            r#"{{"payment_id":{},"order_id":{},"amount_cents":{amount},"status":"{status}"}}"#,
            req["payment_id"], req["order_id"]
        )
        .into_bytes())
    });
}

const ORDER_K1: &str = r#"{"idempotency_key":"k1","customer":"ann","sku":"apple","qty":2}"#;

fn services_called() -> Vec<String> {
    fake::calls().into_iter().map(|(s, e, _)| format!("{s}.{e}")).collect()
}

#[test]
fn places_an_order() {
    world(100);
    let reply = fake::invoke(create_order, ORDER_K1);
    assert_eq!(reply, r#"{"order_id":"ord-k1","status":"placed","total_cents":500}"#);
    assert_eq!(
        fake::kv_text(DB, "order/ord-k1").as_deref(),
        Some(
            r#"{"order_id":"ord-k1","customer":"ann","sku":"apple","qty":2,"total_cents":500,"status":"placed"}"#
        )
    );
    assert_eq!(fake::kv_text(DB, "order-key/k1").as_deref(), Some("ord-k1"));
    assert_eq!(
        fake::published(EVENTS),
        [
            r#"{"type":"order_placed","order_id":"ord-k1","customer":"ann","sku":"apple","qty":2,"total_cents":500}"#
        ]
    );
    let calls = fake::calls();
    assert_eq!(services_called(), ["catalog.get_product", "inventory.reserve", "payments.charge"]);
    assert_eq!(calls[0].2, r#"{"sku":"apple"}"#);
    assert_eq!(calls[1].2, r#"{"reservation_id":"ord-k1","sku":"apple","qty":2}"#);
    assert_eq!(calls[2].2, r#"{"payment_id":"pay-ord-k1","order_id":"ord-k1","amount_cents":500}"#);
}

#[test]
fn repeated_key_changes_nothing() {
    world(100);
    let first = fake::invoke(create_order, ORDER_K1);
    let calls_before = fake::calls().len();
    // Same key, other content: still the stored order, and no downstream effect.
    let again = fake::invoke(
        create_order,
        r#"{"idempotency_key":"k1","customer":"bob","sku":"gold","qty":9}"#,
    );
    assert_eq!(again, first);
    assert_eq!(fake::calls().len(), calls_before);
    assert_eq!(fake::published(EVENTS).len(), 1);
    assert_eq!(fake::kv_keys(DB), ["order-key/k1", "order/ord-k1"]);
}

#[test]
fn out_of_stock_is_rejected_and_stored() {
    world(1);
    let reply = fake::invoke(create_order, ORDER_K1);
    assert_eq!(reply, r#"{"order_id":"ord-k1","status":"rejected","total_cents":500}"#);
    assert_eq!(services_called(), ["catalog.get_product", "inventory.reserve"]);
    assert!(fake::published(EVENTS).is_empty());
    assert_eq!(fake::invoke(create_order, ORDER_K1), reply, "a retry is answered from the store");
    assert_eq!(fake::calls().len(), 2);
}

#[test]
fn declined_payment() {
    world(100);
    let reply = fake::invoke(
        create_order,
        r#"{"idempotency_key":"k2","customer":"ann","sku":"gold","qty":2}"#,
    );
    assert_eq!(reply, r#"{"order_id":"ord-k2","status":"payment_declined","total_cents":120000}"#);
    assert!(fake::published(EVENTS).is_empty());
    assert!(fake::kv_text(DB, "order/ord-k2").is_some_and(|o| o.contains("payment_declined")));
}

#[test]
fn unknown_product_stores_nothing() {
    world(100);
    let reply = fake::invoke(
        create_order,
        r#"{"idempotency_key":"k3","customer":"ann","sku":"durian","qty":1}"#,
    );
    assert_eq!(reply, r#"{"error":"unknown_product"}"#);
    assert_eq!(services_called(), ["catalog.get_product"]);
    assert!(fake::kv_keys(DB).is_empty());
}

#[test]
fn unavailable_downstream_stores_nothing_and_a_retry_completes() {
    for (name, code) in [
        ("catalog", "catalog_unavailable"),
        ("inventory", "inventory_unavailable"),
        ("payments", "payments_unavailable"),
        (EVENTS, "events_unavailable"),
        (DB, "storage_unavailable"),
    ] {
        world(100);
        fake::fail(name, Some(HostError::Unavailable));
        let reply = fake::invoke(create_order, ORDER_K1);
        assert_eq!(reply, format!(r#"{{"error":"{code}"}}"#), "{name}");
        assert!(fake::kv_keys(DB).is_empty(), "{name}");
        fake::fail(name, None);
        let retry = fake::invoke(create_order, ORDER_K1);
        assert_eq!(retry, r#"{"order_id":"ord-k1","status":"placed","total_cents":500}"#);
    }
}

#[test]
fn a_lost_store_write_republishes_on_retry() {
    world(100);
    fake::fail_writes(DB, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(create_order, ORDER_K1), r#"{"error":"storage_unavailable"}"#);
    // Published before the store write failed: at-least-once, never lost.
    assert_eq!(fake::published(EVENTS).len(), 1);
    assert!(fake::kv_keys(DB).is_empty());
    fake::fail_writes(DB, None);
    let retry = fake::invoke(create_order, ORDER_K1);
    assert_eq!(retry, r#"{"order_id":"ord-k1","status":"placed","total_cents":500}"#);
    assert_eq!(fake::published(EVENTS).len(), 2, "the retry announces the order again");
}

#[test]
fn contract_violations_downstream() {
    world(100);
    fake::on_call("payments", "charge", |_| Ok(br#"{"error":"storage_unavailable"}"#.to_vec()));
    assert_eq!(fake::invoke(create_order, ORDER_K1), r#"{"error":"payments_failed"}"#);
    fake::on_call("inventory", "reserve", |_| Ok(b"[]".to_vec()));
    assert_eq!(fake::invoke(create_order, ORDER_K1), r#"{"error":"inventory_failed"}"#);
    assert!(fake::kv_keys(DB).is_empty());
}

#[test]
fn get_order_reads_the_store() {
    world(100);
    fake::invoke(create_order, ORDER_K1);
    let order = fake::invoke(get_order, r#"{"order_id":"ord-k1"}"#);
    assert_eq!(Some(order), fake::kv_text(DB, "order/ord-k1"));
    assert_eq!(fake::invoke(get_order, r#"{"order_id":"ord-zz"}"#), r#"{"error":"not_found"}"#);
}

#[test]
fn bad_quantities() {
    world(100);
    let reply = fake::invoke(
        create_order,
        r#"{"idempotency_key":"k","customer":"ann","sku":"apple","qty":0}"#,
    );
    assert_eq!(reply, r#"{"error":"bad_request: qty must be positive"}"#);
    assert!(fake::calls().is_empty());
}
