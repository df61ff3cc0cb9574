use alloc::vec::Vec;

use fusebench_guest::{HostError, fake};

use super::*;

fn aggregate(metric: &str, window: i64, mean: f64) -> String {
    format!(
        r#"{{"device_id":"dev-7","metric":"{metric}","window":{window},"count":10,"mean":{mean:?},"min":0.0,"max":90.5}}"#
    )
}

fn store() -> Vec<(String, Option<String>)> {
    fake::kv_keys(DB).into_iter().map(|k| (k.clone(), fake::kv_text(DB, k))).collect()
}

const TEMPERATURE: &str = r#"{"device_id":"dev-7","metric":"temperature"}"#;

#[test]
fn records_each_window_and_the_mean_of_means() {
    fake::reset();
    let first = aggregate("temperature", 1, 40.0);
    assert_eq!(fake::invoke(on_aggregate, &first), r#"{"ok":true}"#);
    assert_eq!(fake::kv_text(DB, "agg/dev-7/temperature/1"), Some(first));
    assert_eq!(
        fake::kv_text(DB, "summary/dev-7/temperature").as_deref(),
        Some(r#"{"windows":1,"mean":40.0}"#)
    );
    fake::invoke(on_aggregate, &aggregate("temperature", 2, 50.0));
    fake::invoke(on_aggregate, &aggregate("temperature", 3, 75.5));
    fake::invoke(on_aggregate, &aggregate("vibration", 1, 1.0));
    assert_eq!(
        fake::invoke(query, TEMPERATURE),
        r#"{"device_id":"dev-7","metric":"temperature","windows":3,"mean":55.166666666666664}"#
    );
    assert_eq!(
        fake::invoke(query, r#"{"device_id":"dev-7","metric":"vibration"}"#),
        r#"{"device_id":"dev-7","metric":"vibration","windows":1,"mean":1.0}"#
    );
}

#[test]
fn a_redelivered_window_changes_nothing() {
    fake::reset();
    fake::invoke(on_aggregate, &aggregate("temperature", 1, 40.0));
    fake::invoke(on_aggregate, &aggregate("temperature", 2, 50.0));
    let before = store();
    // Again, and with other statistics for the same window: the first one stands.
    fake::invoke(on_aggregate, &aggregate("temperature", 2, 50.0));
    fake::invoke(on_aggregate, &aggregate("temperature", 1, 99.0));
    assert_eq!(store(), before);
    assert!(fake::invoke(query, TEMPERATURE).ends_with(r#""windows":2,"mean":45.0}"#));
}

#[test]
fn nothing_recorded_reads_as_zeros() {
    fake::reset();
    assert_eq!(
        fake::invoke(query, TEMPERATURE),
        r#"{"device_id":"dev-7","metric":"temperature","windows":0,"mean":0.0}"#
    );
    assert!(fake::kv_keys(DB).is_empty());
}

#[test]
fn storage_failure_is_an_error_and_redelivery_completes() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(on_aggregate, &aggregate("temperature", 1, 40.0));
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    assert_eq!(fake::invoke(query, TEMPERATURE), r#"{"error":"storage_unavailable"}"#);
    fake::fail(DB, None);
    assert!(fake::kv_keys(DB).is_empty());
    fake::invoke(on_aggregate, &aggregate("temperature", 1, 40.0));
    assert!(fake::invoke(query, TEMPERATURE).ends_with(r#""windows":1,"mean":40.0}"#));
    fake::set_kv(DB, "summary/dev-7/temperature", "40");
    assert_eq!(fake::invoke(query, TEMPERATURE), r#"{"error":"corrupt_record"}"#);
}
