use alloc::vec::Vec;

use fusebench_guest::log::Level;
use fusebench_guest::{HostError, fake};

use super::*;

fn aggregate(metric: &str, window: i64, max: &str) -> String {
    format!(
        r#"{{"device_id":"dev-7","metric":"{metric}","window":{window},"count":10,"mean":50.0,"min":0.0,"max":{max}}}"#
    )
}

fn store() -> Vec<(String, Option<String>)> {
    fake::kv_keys(DB).into_iter().map(|k| (k.clone(), fake::kv_text(DB, k))).collect()
}

const DEV7: &str = r#"{"device_id":"dev-7"}"#;

#[test]
fn alerts_only_above_the_threshold() {
    fake::reset();
    for max in ["0", "79.9", "80", "80.0"] {
        assert_eq!(fake::invoke(on_aggregate, &aggregate("temperature", 1, max)), r#"{"ok":true}"#);
    }
    assert!(fake::kv_keys(DB).is_empty());
    assert!(fake::logs().is_empty());
    assert_eq!(fake::invoke(list_alerts, DEV7), r#"{"device_id":"dev-7","alerts":0}"#);

    assert_eq!(fake::invoke(on_aggregate, &aggregate("temperature", 1, "80.5")), r#"{"ok":true}"#);
    assert_eq!(fake::kv_text(DB, "alert/dev-7/1").as_deref(), Some(r#"{"temperature":80.5}"#));
    assert_eq!(fake::kv_text(DB, "count/dev-7").as_deref(), Some("1"));
    assert_eq!(
        fake::logs(),
        [(Level::Warn, "alert dev-7: temperature max 80.5 in window 1".into())]
    );
    assert_eq!(fake::invoke(list_alerts, DEV7), r#"{"device_id":"dev-7","alerts":1}"#);
}

#[test]
fn a_redelivered_alert_changes_nothing() {
    fake::reset();
    fake::invoke(on_aggregate, &aggregate("temperature", 1, "95"));
    let before = store();
    fake::invoke(on_aggregate, &aggregate("temperature", 1, "95"));
    fake::invoke(on_aggregate, &aggregate("temperature", 1, "99"));
    assert_eq!(store(), before);
    assert_eq!(fake::logs().len(), 1);
}

#[test]
fn every_metric_of_a_window_counts_once() {
    fake::reset();
    fake::invoke(on_aggregate, &aggregate("temperature", 3, "95"));
    fake::invoke(on_aggregate, &aggregate("vibration", 3, "81"));
    fake::invoke(on_aggregate, &aggregate("vibration", 3, "81"));
    fake::invoke(on_aggregate, &aggregate("temperature", 4, "100"));
    assert_eq!(
        fake::kv_text(DB, "alert/dev-7/3").as_deref(),
        Some(r#"{"temperature":95.0,"vibration":81.0}"#)
    );
    assert_eq!(fake::invoke(list_alerts, DEV7), r#"{"device_id":"dev-7","alerts":3}"#);
    assert_eq!(
        fake::invoke(list_alerts, r#"{"device_id":"dev-8"}"#),
        r#"{"device_id":"dev-8","alerts":0}"#
    );
}

#[test]
fn storage_failure_is_an_error_and_redelivery_completes() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let unavailable = r#"{"error":"storage_unavailable"}"#;
    assert_eq!(fake::invoke(on_aggregate, &aggregate("temperature", 1, "95")), unavailable);
    assert_eq!(fake::invoke(list_alerts, DEV7), unavailable);
    // Below the threshold there is nothing to store, so nothing fails.
    assert_eq!(fake::invoke(on_aggregate, &aggregate("temperature", 2, "5")), r#"{"ok":true}"#);
    fake::fail(DB, None);
    assert!(fake::kv_keys(DB).is_empty());
    fake::invoke(on_aggregate, &aggregate("temperature", 1, "95"));
    assert_eq!(fake::invoke(list_alerts, DEV7), r#"{"device_id":"dev-7","alerts":1}"#);
    fake::set_kv(DB, "count/dev-7", "many");
    assert_eq!(fake::invoke(list_alerts, DEV7), r#"{"error":"corrupt_record"}"#);
    fake::set_kv(DB, "alert/dev-7/9", "[1]");
    assert_eq!(
        fake::invoke(on_aggregate, &aggregate("temperature", 9, "95")),
        r#"{"error":"corrupt_record"}"#
    );
}
