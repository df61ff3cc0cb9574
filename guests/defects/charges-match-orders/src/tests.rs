use alloc::format;
use alloc::string::String;
use fusebench_guest::property::{Stores, run, run_with_state};

use super::ChargesMatchOrders;

const PLACED: &str = r#"{"t":1,"ev":"arrival","req":1,"service":"orders","endpoint":"place_order","body":"{\"order_id\":\"o-1\",\"amount_cents\":700}"}"#;

fn total(t: u64, order: &str, value: &str) -> String {
    format!(
        r#"{{"t":{t},"ev":"store_write","store":"payments-db","replica":0,"key":"charged/{order}","version":3,"inv":2,"prev_version":0,"changed":true,"value":"{value}"}}"#
    )
}

#[test]
fn a_total_up_to_the_order_holds_and_exercises() {
    let r = run::<ChargesMatchOrders>([PLACED, &total(5, "o-1", "700")]);
    assert!(r.violations.is_empty(), "{r:?}");
    assert!(r.end.exercised);
}

#[test]
fn a_second_charge_is_a_violation_at_its_write() {
    let r = run::<ChargesMatchOrders>([PLACED, &total(5, "o-1", "700"), &total(9, "o-1", "1400")]);
    assert_eq!(r.violations.len(), 1, "{r:?}");
    assert_eq!(r.violations[0].0, 9);
    assert!(r.violations[0].1.contains("charged 1400 cents in all, placed for 700"), "{r:?}");
}

#[test]
fn a_charge_without_an_order_is_a_violation() {
    let r = run::<ChargesMatchOrders>([total(5, "o-9", "10").as_str()]);
    assert!(r.violations[0].1.contains("no place_order for it arrived"), "{r:?}");
}

#[test]
fn other_events_and_stores_are_ignored_and_nothing_written_is_not_exercised() {
    let other =
        r#"{"t":2,"ev":"store_write","store":"orders-db","key":"charged/o-1","value":"99999"}"#;
    let records =
        r#"{"t":3,"ev":"store_write","store":"payments-db","key":"payment/p-1","value":"{}"}"#;
    let r = run::<ChargesMatchOrders>([PLACED, other, records, r#"{"t":4,"ev":"response"}"#]);
    assert!(r.violations.is_empty(), "{r:?}");
    assert!(!r.end.exercised);
    assert_eq!(r.end.notes, ["no order total was written to payments-db"]);
}

#[test]
fn an_unreadable_line_is_a_violation_not_a_pass() {
    let r = run::<ChargesMatchOrders>(["not json"]);
    assert!(r.violations[0].1.starts_with("a trace line is not JSON"), "{r:?}");
}

fn ending_with(total: &str) -> Stores {
    let mut stores = Stores::new();
    let totals = stores.entry("payments-db".into()).or_default();
    totals.insert("charged/o-1".into(), total.into());
    totals.insert("charged/o-9".into(), "5".into()); // no order seen: not this view's business
    stores.entry("orders-db".into()).or_default().insert("charged/o-1".into(), "99999".into());
    stores
}

#[test]
fn the_totals_the_run_ends_with_are_judged_too() {
    let lines = [PLACED, &total(5, "o-1", "700")];
    let r = run_with_state::<ChargesMatchOrders>(lines, &ending_with("700"));
    assert!(r.end.findings.is_empty(), "{r:?}");
    // A second charge the trace did not show as a write of the total, seen in the end state.
    let r = run_with_state::<ChargesMatchOrders>(lines, &ending_with("1400"));
    assert!(r.violations.is_empty(), "{r:?}");
    assert_eq!(r.end.findings.len(), 1, "{r:?}");
    assert!(r.end.findings[0].contains("ends the run charged 1400 cents, placed for 700"), "{r:?}");
}

#[test]
fn the_end_input_as_the_host_sends_it_reaches_the_checker() {
    use fusebench_guest::property::{end_reply, event_reply};
    let findings = |reply: &[u8]| -> serde_json::Value {
        let end: serde_json::Value = serde_json::from_slice(reply).expect("JSON");
        end["findings"].clone()
    };
    let mut checker = ChargesMatchOrders::default();
    let _ = event_reply(&mut checker, PLACED.as_bytes());
    let input = br#"{"stores":{"payments-db":{"charged/o-1":"1400"}}}"#;
    let seen = findings(&end_reply(&mut checker, input));
    assert_eq!(seen.as_array().map(alloc::vec::Vec::len), Some(1), "{seen}");
    // Input that cannot be read is a finding, never a pass.
    let seen = findings(&end_reply(&mut checker, b"[1"));
    assert!(format!("{seen}").contains("could not be read"), "{seen}");
}
