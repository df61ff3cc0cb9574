use fusebench_guest::{HostError, fake};

use super::*;

#[test]
fn publishes_one_payment_request_keyed_by_the_order() {
    fake::reset();
    let reply = fake::invoke(place_order, r#"{"order_id":"o-7","amount_cents":1250}"#);
    assert_eq!(reply, r#"{"order_id":"o-7","payment_id":"pay-o-7","status":"payment_requested"}"#);
    assert_eq!(
        fake::published(PAYMENT_REQUESTS),
        [r#"{"payment_id":"pay-o-7","order_id":"o-7","amount_cents":1250}"#]
    );
}

#[test]
fn refuses_non_positive_amounts() {
    fake::reset();
    let reply = fake::invoke(place_order, r#"{"order_id":"o-1","amount_cents":0}"#);
    assert_eq!(reply, r#"{"error":"bad_request: amount_cents must be positive"}"#);
    assert!(fake::published(PAYMENT_REQUESTS).is_empty());
}

#[test]
fn a_failed_publish_is_an_error() {
    fake::reset();
    fake::fail(PAYMENT_REQUESTS, Some(HostError::Unavailable));
    let reply = fake::invoke(place_order, r#"{"order_id":"o-1","amount_cents":5}"#);
    assert_eq!(reply, r#"{"error":"events_unavailable"}"#);
}
