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
fn a_redelivered_request_charges_nothing_more() {
    fake::reset();
    let first = fake::invoke(charge, &charge_json("pay-o1", "o1", 2500));
    assert_eq!(fake::invoke(charge, &charge_json("pay-o1", "o1", 2500)), first);
    assert_eq!(fake::kv_text(DB, "charged/o1").as_deref(), Some("2500"));
    assert_eq!(fake::kv_keys(DB), ["charged/o1", "payment/pay-o1"]);
}

#[test]
fn another_payment_for_the_order_adds_to_its_total() {
    fake::reset();
    fake::invoke(charge, &charge_json("pay-o1", "o1", 2500));
    fake::invoke(charge, &charge_json("pay-o1-b", "o1", 500));
    assert_eq!(fake::kv_text(DB, "charged/o1").as_deref(), Some("3000"));
}

#[test]
fn declines_out_of_range_amounts_once() {
    fake::reset();
    let declined = fake::invoke(charge, &charge_json("pay-o9", "o9", AMOUNT_CENTS_MAX + 1));
    assert!(declined.ends_with(r#""status":"declined"}"#), "{declined}");
    assert_eq!(fake::invoke(charge, &charge_json("pay-o9", "o9", 100)), declined);
    assert_eq!(fake::kv_text(DB, "charged/o9"), None);
}

#[test]
fn a_lost_total_write_under_counts() {
    fake::reset();
    fake::set_kv(
        DB,
        "payment/pay-o1",
        r#"{"payment_id":"pay-o1","order_id":"o1","amount_cents":7,"status":"charged"}"#,
    );
    let reply = fake::invoke(charge, &charge_json("pay-o1", "o1", 7));
    assert!(reply.ends_with(r#""status":"charged"}"#), "{reply}");
    assert_eq!(fake::kv_text(DB, "charged/o1"), None);
}

#[test]
fn storage_failures_are_errors() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(charge, &charge_json("pay-o1", "o1", 100));
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    fake::fail(DB, None);
    fake::fail_writes(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(charge, &charge_json("pay-o1", "o1", 100));
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    assert!(fake::kv_keys(DB).is_empty());
}
