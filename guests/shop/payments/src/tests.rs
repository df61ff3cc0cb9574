use alloc::format;

use fusebench_guest::{HostError, fake};

use super::*;

fn charge_json(payment_id: &str, order_id: &str, amount_cents: i64) -> String {
    format!(
        r#"{{"payment_id":"{payment_id}","order_id":"{order_id}","amount_cents":{amount_cents}}}"#
    )
}

#[test]
fn charges_and_keeps_the_total() {
    fake::reset();
    let reply = fake::invoke(charge, &charge_json("p1", "o1", 2500));
    assert_eq!(
        reply,
        r#"{"payment_id":"p1","order_id":"o1","amount_cents":2500,"status":"charged"}"#
    );
    assert_eq!(fake::kv_text(DB, "payment/p1").as_deref(), Some(reply.as_str()));
    assert_eq!(fake::kv_text(DB, "charged/o1").as_deref(), Some("2500"));
    // A second payment for the same order adds to its total.
    fake::invoke(charge, &charge_json("p2", "o1", 500));
    assert_eq!(fake::kv_text(DB, "charged/o1").as_deref(), Some("3000"));
}

#[test]
fn repeated_payment_id_charges_nothing_again() {
    fake::reset();
    let first = fake::invoke(charge, &charge_json("p1", "o1", 2500));
    assert_eq!(fake::invoke(charge, &charge_json("p1", "o1", 2500)), first);
    // Even with another amount the stored payment is the answer.
    assert_eq!(fake::invoke(charge, &charge_json("p1", "o1", 9)), first);
    assert_eq!(fake::kv_text(DB, "charged/o1").as_deref(), Some("2500"));
}

#[test]
fn declines_out_of_range_amounts() {
    fake::reset();
    for (id, amount) in [("big", AMOUNT_CENTS_MAX + 1), ("zero", 0), ("negative", -5)] {
        let reply = fake::invoke(charge, &charge_json(id, "o9", amount));
        assert!(reply.ends_with(r#""status":"declined"}"#), "{reply}");
        assert!(fake::kv_text(DB, format!("payment/{id}")).is_some(), "declines are recorded");
    }
    assert_eq!(fake::kv_text(DB, "charged/o9"), None);
    let edge = fake::invoke(charge, &charge_json("edge", "o9", AMOUNT_CENTS_MAX));
    assert!(edge.ends_with(r#""status":"charged"}"#), "{edge}");
}

#[test]
fn a_declined_payment_stays_declined() {
    fake::reset();
    let declined = fake::invoke(charge, &charge_json("p1", "o1", 200_000));
    assert_eq!(fake::invoke(charge, &charge_json("p1", "o1", 100)), declined);
    assert_eq!(fake::kv_text(DB, "charged/o1"), None);
}

#[test]
fn storage_failures_are_errors() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(charge, &charge_json("p1", "o1", 100));
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
}

#[test]
fn malformed_requests() {
    fake::reset();
    let reply = fake::invoke(charge, r#"{"payment_id":"p1","order_id":"o1","amount_cents":"10"}"#);
    assert!(reply.starts_with(r#"{"error":"bad_request: invalid type: string"#), "{reply}");
    assert!(fake::kv_keys(DB).is_empty());
}
