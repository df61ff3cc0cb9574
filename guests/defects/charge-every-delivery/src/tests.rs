//! The defect, pinned: these tests document what the flawed consumer does.

use fusebench_guest::{HostError, fake};

use super::*;

fn charge_json(payment_id: &str, order_id: &str, amount_cents: i64) -> String {
    format!(
        r#"{{"payment_id":"{payment_id}","order_id":"{order_id}","amount_cents":{amount_cents}}}"#
    )
}

#[test]
fn charges_and_records() {
    fake::reset();
    let reply = fake::invoke(charge, &charge_json("pay-o1", "o1", 2500));
    assert_eq!(
        reply,
        r#"{"payment_id":"pay-o1","order_id":"o1","amount_cents":2500,"status":"charged"}"#
    );
    assert_eq!(fake::kv_text(DB, "payment/pay-o1").as_deref(), Some(reply.as_str()));
    assert_eq!(fake::kv_text(DB, "charged/o1").as_deref(), Some("2500"));
}

#[test]
fn defect_a_redelivered_request_charges_again() {
    fake::reset();
    let first = fake::invoke(charge, &charge_json("pay-o1", "o1", 2500));
    let second = fake::invoke(charge, &charge_json("pay-o1", "o1", 2500));
    assert_eq!(first, second, "the answer looks idempotent...");
    // ...but f(f(r)) != f(r) on the store: the order is charged twice.
    assert_eq!(fake::kv_text(DB, "charged/o1").as_deref(), Some("5000"));
    assert_eq!(fake::kv_keys(DB), ["charged/o1", "payment/pay-o1"]);
}

#[test]
fn declines_out_of_range_amounts() {
    fake::reset();
    let reply = fake::invoke(charge, &charge_json("pay-o9", "o9", AMOUNT_CENTS_MAX + 1));
    assert!(reply.ends_with(r#""status":"declined"}"#), "{reply}");
    assert_eq!(fake::kv_text(DB, "charged/o9"), None);
}

#[test]
fn storage_failures_are_errors() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(charge, &charge_json("pay-o1", "o1", 100));
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
}
