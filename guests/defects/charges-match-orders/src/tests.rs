use alloc::format;
use alloc::string::String;
use fusebench_guest::property::run;

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
