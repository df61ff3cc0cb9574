//! `fusebench invoke`: every shop endpoint answers through its real module — Rust, C,
//! AssemblyScript and WAT — with a response that conforms to its contract.

use serde_json::Value;

use crate::support::{code, fusebench, stderr, stdout};

const CALLS: &[(&str, &str, &str)] = &[
    ("catalog", "get_product", r#"{"sku":"sku-1"}"#),
    ("catalog", "put_product", r#"{"sku":"sku-9","name":"Spoon","price_cents":199}"#),
    ("inventory", "reserve", r#"{"reservation_id":"r1","sku":"sku-1","qty":2}"#),
    ("inventory", "restock", r#"{"sku":"sku-1","qty":5}"#),
    ("inventory", "stock", r#"{"sku":"sku-1"}"#),
    (
        "orders",
        "create_order",
        r#"{"idempotency_key":"k1","customer":"ada","sku":"sku-2","qty":2}"#,
    ),
    ("orders", "get_order", r#"{"order_id":"ord-k1"}"#),
    ("payments", "charge", r#"{"payment_id":"p1","order_id":"o1","amount_cents":1200}"#),
    (
        "shipping",
        "on_order_placed",
        r#"{"type":"order_placed","order_id":"o1","customer":"ada","sku":"sku-1","qty":1,"total_cents":100}"#,
    ),
    ("shipping", "get_shipment", r#"{"order_id":"o1"}"#),
    (
        "notifications",
        "on_shipment_created",
        r#"{"type":"shipment_created","shipment_id":"s1","order_id":"o1","customer":"ada"}"#,
    ),
    ("notifications", "sent_count", r#"{"customer":"ada"}"#),
];

#[test]
fn every_shop_endpoint_answers_through_its_module_in_four_languages() {
    for (service, endpoint, data) in CALLS {
        let o = fusebench(&[
            "invoke",
            "scenarios/shop/shop.toml",
            service,
            endpoint,
            "--data",
            data,
            "--json",
        ]);
        assert_eq!(code(&o), 0, "{service}.{endpoint}: {}{}", stdout(&o), stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
        assert!(v["problem"].is_null(), "{service}.{endpoint}: {v:#}");
        assert!(v["response"].is_object(), "{service}.{endpoint}: {v:#}");
        assert!(v["fuel"].as_u64().is_some_and(|f| f > 0), "{service}.{endpoint}: no fuel burnt");
    }
}

#[test]
fn create_order_calls_three_services_and_changes_their_stores() {
    let o = fusebench(&[
        "invoke",
        "scenarios/shop/shop.toml",
        "orders",
        "create_order",
        "--data",
        CALLS[5].2,
        "--json",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["response"]["status"], "placed", "{v:#}");
    assert_eq!(v["response"]["total_cents"], 4900, "{v:#}");
    let stores: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["store"].as_str())
        .collect();
    for s in ["orders-db", "inventory-db", "payments-db"] {
        assert!(stores.contains(&s), "{s} unchanged: {stores:?}");
    }
    assert_eq!(v["published"][0][0], "order-events");
}

#[test]
fn unknown_names_and_bad_data_are_clear_errors() {
    let o =
        fusebench(&["invoke", "scenarios/shop/shop.toml", "order", "create_order", "--data", "{}"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no service `order`"), "{}", stderr(&o));
    let o = fusebench(&[
        "invoke",
        "scenarios/shop/shop.toml",
        "orders",
        "create_order",
        "--data",
        "{oops",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--data is not valid JSON"), "{}", stderr(&o));
}
