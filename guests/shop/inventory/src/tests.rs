use alloc::format;

use fusebench_guest::{HostError, fake};

use super::*;

const RESERVE_R1: &str = r#"{"reservation_id":"r1","sku":"apple","qty":30}"#;

#[test]
fn reserve_takes_from_the_initial_stock() {
    fake::reset();
    let reply = fake::invoke(reserve, RESERVE_R1);
    assert_eq!(
        reply,
        r#"{"reservation_id":"r1","sku":"apple","qty":30,"reserved":true,"available":70}"#
    );
    assert_eq!(fake::kv_text(DB, "stock/apple").as_deref(), Some("70"));
    assert_eq!(fake::kv_text(DB, "reservation/r1").as_deref(), Some(reply.as_str()));
}

#[test]
fn repeated_reservation_id_changes_nothing() {
    fake::reset();
    let first = fake::invoke(reserve, RESERVE_R1);
    let again = fake::invoke(reserve, RESERVE_R1);
    assert_eq!(first, again);
    assert_eq!(fake::kv_text(DB, "stock/apple").as_deref(), Some("70"));
    // Even a different quantity under the same id returns the stored reservation.
    let other_qty = fake::invoke(reserve, r#"{"reservation_id":"r1","sku":"apple","qty":1}"#);
    assert_eq!(other_qty, first);
    assert_eq!(fake::kv_text(DB, "stock/apple").as_deref(), Some("70"));
}

#[test]
fn stock_runs_out() {
    fake::reset();
    for i in 0..3 {
        let req = format!(r#"{{"reservation_id":"r{i}","sku":"pear","qty":30}}"#);
        assert!(fake::invoke(reserve, &req).contains(r#""reserved":true"#));
    }
    let reply = fake::invoke(reserve, r#"{"reservation_id":"r3","sku":"pear","qty":30}"#);
    assert_eq!(
        reply,
        r#"{"reservation_id":"r3","sku":"pear","qty":30,"reserved":false,"available":10}"#
    );
    assert_eq!(fake::kv_text(DB, "stock/pear").as_deref(), Some("10"));
    assert_eq!(fake::kv_text(DB, "reservation/r3"), None, "a refusal is not recorded");
    // The last ten units can still go.
    let last = fake::invoke(reserve, r#"{"reservation_id":"r4","sku":"pear","qty":10}"#);
    assert!(last.ends_with(r#""reserved":true,"available":0}"#), "{last}");
}

#[test]
fn restock_adds_and_is_not_idempotent() {
    fake::reset();
    fake::set_kv(DB, "stock/fig", "5");
    assert_eq!(
        fake::invoke(restock, r#"{"sku":"fig","qty":10}"#),
        r#"{"sku":"fig","available":15}"#
    );
    assert_eq!(
        fake::invoke(restock, r#"{"sku":"fig","qty":10}"#),
        r#"{"sku":"fig","available":25}"#
    );
    assert_eq!(fake::invoke(stock, r#"{"sku":"fig"}"#), r#"{"sku":"fig","available":25}"#);
    assert_eq!(fake::invoke(stock, r#"{"sku":"kiwi"}"#), r#"{"sku":"kiwi","available":100}"#);
}

#[test]
fn bad_requests_are_answers_not_faults() {
    fake::reset();
    let reply = fake::invoke(reserve, r#"{"sku":"apple","qty":1}"#);
    assert!(
        reply.starts_with(r#"{"error":"bad_request: missing field `reservation_id`"#),
        "{reply}"
    );
    let reply = fake::invoke(reserve, r#"{"reservation_id":"r","sku":"apple","qty":0}"#);
    assert_eq!(reply, r#"{"error":"bad_request: qty must be positive"}"#);
    let reply = fake::invoke(restock, "not json");
    assert!(reply.starts_with(r#"{"error":"bad_request: "#), "{reply}");
    assert!(fake::kv_keys(DB).is_empty());
}

#[test]
fn storage_failure_is_reported_and_changes_nothing() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(reserve, RESERVE_R1), r#"{"error":"storage_unavailable"}"#);
    fake::fail(DB, None);
    assert!(fake::kv_keys(DB).is_empty());
}

#[test]
fn corrupt_stock_is_reported() {
    fake::reset();
    fake::set_kv(DB, "stock/apple", "lots");
    assert_eq!(fake::invoke(stock, r#"{"sku":"apple"}"#), r#"{"error":"corrupt_record"}"#);
}
