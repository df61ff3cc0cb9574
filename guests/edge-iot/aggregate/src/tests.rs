use alloc::vec::Vec;

use fusebench_guest::{HostError, fake};

use super::*;

fn reading(reading_id: &str, metric: &str, value: f64) -> String {
    format!(
        r#"{{"reading_id":"{reading_id}","device_id":"dev-7","metric":"{metric}","value":{value},"ts_ms":1}}"#
    )
}

/// Readings `r<from>`..`r<to>` of dev-7's temperature, with values 10, 20, ... by index.
fn feed(from: u32, to: u32) {
    for i in from..=to {
        let reply =
            fake::invoke(on_reading, &reading(&format!("r{i}"), "temperature", f64::from(i * 10)));
        assert_eq!(reply, r#"{"ok":true}"#, "r{i}");
    }
}

fn store() -> Vec<(String, Option<String>)> {
    fake::kv_keys(DB).into_iter().map(|k| (k.clone(), fake::kv_text(DB, k))).collect()
}

#[test]
fn a_window_closes_at_ten_readings_and_publishes_once() {
    fake::reset();
    feed(1, 9);
    assert!(fake::published(AGGREGATES).is_empty());
    assert_eq!(
        fake::kv_text(DB, "window/dev-7/temperature").as_deref(),
        Some(r#"{"window":1,"count":9,"sum":450.0,"min":10.0,"max":90.0}"#)
    );
    feed(10, 10);
    assert_eq!(
        fake::published(AGGREGATES),
        [
            r#"{"device_id":"dev-7","metric":"temperature","window":1,"count":10,"mean":55.0,"min":10.0,"max":100.0}"#
        ]
    );
    assert_eq!(
        fake::kv_text(DB, "window/dev-7/temperature").as_deref(),
        Some(r#"{"window":2,"count":0,"sum":0.0,"min":0.0,"max":0.0}"#)
    );
    assert_eq!(fake::kv_text(DB, "applied/r10").as_deref(), Some("1"));
    feed(11, 29);
    assert_eq!(fake::published(AGGREGATES).len(), 2);
    assert!(
        fake::published(AGGREGATES)[1]
            .contains(r#""window":2,"count":10,"mean":155.0,"min":110.0,"max":200.0"#)
    );
    assert_eq!(fake::kv_text(DB, "applied/r29").as_deref(), Some("3"));
}

#[test]
fn replayed_readings_change_nothing() {
    fake::reset();
    feed(1, 10);
    let before = store();
    // Redeliveries, including of the reading that closed the window.
    feed(1, 10);
    assert_eq!(store(), before);
    assert_eq!(fake::published(AGGREGATES).len(), 1);
    // Same id with another value: still applied once.
    fake::invoke(on_reading, &reading("r5", "temperature", 1000.0));
    assert_eq!(store(), before);
}

#[test]
fn windows_are_per_device_and_metric() {
    fake::reset();
    fake::invoke(on_reading, &reading("a", "temperature", 21.5));
    fake::invoke(on_reading, &reading("b", "vibration", -3.25));
    fake::invoke(on_reading, &reading("c", "vibration", 4.0));
    assert_eq!(
        fake::invoke(get_aggregate, r#"{"device_id":"dev-7","metric":"temperature"}"#),
        r#"{"device_id":"dev-7","metric":"temperature","window":1,"count":1,"mean":21.5,"min":21.5,"max":21.5}"#
    );
    assert_eq!(
        fake::invoke(get_aggregate, r#"{"device_id":"dev-7","metric":"vibration"}"#),
        r#"{"device_id":"dev-7","metric":"vibration","window":1,"count":2,"mean":0.375,"min":-3.25,"max":4.0}"#
    );
    assert_eq!(
        fake::invoke(get_aggregate, r#"{"device_id":"dev-8","metric":"temperature"}"#),
        r#"{"error":"not_found"}"#
    );
}

#[test]
fn a_just_closed_window_reads_as_the_empty_next_one() {
    fake::reset();
    feed(1, 10);
    assert_eq!(
        fake::invoke(get_aggregate, r#"{"device_id":"dev-7","metric":"temperature"}"#),
        r#"{"device_id":"dev-7","metric":"temperature","window":2,"count":0,"mean":0.0,"min":0.0,"max":0.0}"#
    );
}

#[test]
fn a_failed_publication_stores_nothing_and_redelivery_completes() {
    fake::reset();
    feed(1, 9);
    let before = store();
    fake::fail(AGGREGATES, Some(HostError::Unavailable));
    let reply = fake::invoke(on_reading, &reading("r10", "temperature", 100.0));
    assert_eq!(reply, r#"{"error":"events_unavailable"}"#);
    assert_eq!(store(), before);
    fake::fail(AGGREGATES, None);
    feed(10, 10);
    assert_eq!(fake::published(AGGREGATES).len(), 1);
    assert!(
        fake::kv_text(DB, "window/dev-7/temperature").is_some_and(|w| w.contains(r#""window":2"#))
    );
}

#[test]
fn storage_failures_and_bad_records() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let unavailable = r#"{"error":"storage_unavailable"}"#;
    assert_eq!(fake::invoke(on_reading, &reading("r1", "temperature", 1.0)), unavailable);
    let query = r#"{"device_id":"dev-7","metric":"temperature"}"#;
    assert_eq!(fake::invoke(get_aggregate, query), unavailable);
    fake::fail(DB, None);
    assert!(fake::kv_keys(DB).is_empty());
    fake::set_kv(DB, "window/dev-7/temperature", "[]");
    let corrupt = r#"{"error":"corrupt_record"}"#;
    assert_eq!(fake::invoke(on_reading, &reading("r1", "temperature", 1.0)), corrupt);
    assert_eq!(fake::invoke(get_aggregate, query), corrupt);
    let reply = fake::invoke(on_reading, &reading("r2", "temperature", 1e301));
    assert_eq!(reply, r#"{"error":"bad_request: value out of range"}"#);
}
