use alloc::string::ToString;

use fusebench_guest::log::Level;
use fusebench_guest::{HostError, fake};

use super::*;

const ORDER: &str = r#"{"order_id":"o-1","customer":"ann","sku":"sku-2","qty":3}"#;

/// pricing quotes 1250 a unit; fraud scores `risk` for everyone.
fn world(risk: i64) {
    fake::reset();
    fake::on_call("pricing", "quote", |_| Ok(br#"{"unit_cents":1250}"#.to_vec()));
    fake::on_call("fraud", "score", move |_| Ok(format!(r#"{{"risk":{risk}}}"#).into_bytes()));
}

#[test]
fn prices_then_scores() {
    world(12);
    let reply = fake::invoke(checkout, ORDER);
    assert_eq!(
        reply,
        r#"{"order_id":"o-1","status":"accepted","total_cents":3750,"fraud_checked":true}"#
    );
    let calls: alloc::vec::Vec<(String, String, String)> = fake::calls();
    assert_eq!(
        calls,
        [
            ("pricing".to_string(), "quote".to_string(), r#"{"sku":"sku-2","qty":3}"#.to_string()),
            (
                "fraud".to_string(),
                "score".to_string(),
                r#"{"customer":"ann","amount_cents":3750}"#.to_string()
            ),
        ]
    );
    assert!(fake::logs().is_empty());
}

#[test]
fn risky_orders_are_held() {
    world(RISK_HOLD);
    let reply = fake::invoke(checkout, ORDER);
    assert_eq!(
        reply,
        r#"{"order_id":"o-1","status":"held","total_cents":3750,"fraud_checked":true}"#
    );
}

#[test]
fn a_refused_fraud_call_fails_open() {
    // What the host does when `fraud.score` is not among the service's declared calls.
    world(99);
    fake::fail("fraud", Some(HostError::Denied));
    let reply = fake::invoke(checkout, ORDER);
    assert_eq!(
        reply,
        r#"{"order_id":"o-1","status":"accepted","total_cents":3750,"fraud_checked":false}"#
    );
    assert_eq!(
        fake::logs(),
        [(Level::Warn, "order o-1: fraud check skipped (call failed: denied)".to_string())]
    );
}

#[test]
fn pricing_failures_are_errors() {
    world(0);
    fake::fail("pricing", Some(HostError::Unavailable));
    assert_eq!(fake::invoke(checkout, ORDER), r#"{"error":"pricing_unavailable"}"#);
    fake::fail("pricing", None);
    fake::on_call("pricing", "quote", |_| Ok(br#"{"error":"unknown_sku"}"#.to_vec()));
    assert_eq!(fake::invoke(checkout, ORDER), r#"{"error":"pricing_failed"}"#);
    let bad = r#"{"order_id":"o-1","customer":"ann","sku":"sku-2","qty":0}"#;
    assert_eq!(fake::invoke(checkout, bad), r#"{"error":"bad_request: qty must be positive"}"#);
}
