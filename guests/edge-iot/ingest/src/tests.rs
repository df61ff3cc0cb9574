use alloc::string::ToString;
use alloc::vec::Vec;

use fusebench_guest::{HostError, fake, serde_json};

use super::*;

/// A stand-in for devices with its contract: `dev-*` ids are active fleet devices, `off-1` is
/// registered but inactive, anything else is unknown.
fn world() {
    fake::reset();
    fake::on_call("devices", "get_device", |req| {
        let req: serde_json::Value =
            serde_json::from_slice(req).map_err(|_| HostError::Rejected)?;
        let id = req["device_id"].as_str().unwrap_or_default();
        Ok(if id.starts_with("dev-") {
            format!(r#"{{"device_id":"{id}","site":"unknown","active":true}}"#).into_bytes()
        } else if id == "off-1" {
            br#"{"device_id":"off-1","site":"plant-a","active":false}"#.to_vec()
        } else {
            br#"{"error":"not_found"}"#.to_vec()
        })
    });
}

fn reading(reading_id: &str, device_id: &str, value: &str) -> String {
    format!(
        r#"{{"reading_id":"{reading_id}","device_id":"{device_id}","metric":"temperature","value":{value},"ts_ms":1}}"#
    )
}

fn store() -> Vec<(String, Option<String>)> {
    fake::kv_keys(DB).into_iter().map(|k| (k.clone(), fake::kv_text(DB, k))).collect()
}

#[test]
fn accepts_a_fleet_device_reading() {
    world();
    let reply = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
    assert_eq!(reply, r#"{"reading_id":"r1","accepted":true}"#);
    assert_eq!(
        fake::calls(),
        [("devices".to_string(), "get_device".to_string(), r#"{"device_id":"dev-7"}"#.to_string())]
    );
    assert_eq!(fake::published(READINGS), [reading("r1", "dev-7", "21.5")]);
    assert_eq!(fake::kv_text(DB, "last/dev-7/temperature").as_deref(), Some("21.5"));
    assert_eq!(fake::kv_text(DB, "seen/r1").as_deref(), Some(reply.as_str()));
}

#[test]
fn values_are_json_numbers() {
    world();
    fake::invoke(submit_reading, &reading("r1", "dev-7", "21"));
    fake::invoke(submit_reading, &reading("r2", "dev-8", "-0.125e2"));
    assert_eq!(
        fake::published(READINGS),
        [reading("r1", "dev-7", "21.0"), reading("r2", "dev-8", "-12.5")]
    );
    assert_eq!(fake::kv_text(DB, "last/dev-7/temperature").as_deref(), Some("21.0"));
    let reply = fake::invoke(submit_reading, &reading("r3", "dev-7", "\"hot\""));
    assert!(reply.starts_with(r#"{"error":"bad_request: invalid type"#), "{reply}");
    let reply = fake::invoke(submit_reading, &reading("r4", "dev-7", "1e301"));
    assert_eq!(reply, r#"{"error":"bad_request: value out of range"}"#);
    assert_eq!(fake::calls().len(), 2);
}

#[test]
fn a_replayed_reading_changes_nothing() {
    world();
    let first = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
    let before = store();
    // Same id, other content: still the stored answer, no call, no publication, no write.
    let again = fake::invoke(submit_reading, &reading("r1", "dev-8", "99"));
    assert_eq!(again, first);
    assert_eq!(fake::calls().len(), 1);
    assert_eq!(fake::published(READINGS).len(), 1);
    assert_eq!(store(), before);
}

#[test]
fn unknown_and_inactive_devices_are_refused_and_remembered() {
    world();
    let refused = fake::invoke(submit_reading, &reading("r1", "rogue-1", "21.5"));
    assert_eq!(refused, r#"{"reading_id":"r1","accepted":false}"#);
    let inactive = fake::invoke(submit_reading, &reading("r2", "off-1", "21.5"));
    assert_eq!(inactive, r#"{"reading_id":"r2","accepted":false}"#);
    assert!(fake::published(READINGS).is_empty());
    assert_eq!(fake::kv_keys(DB), ["seen/r1", "seen/r2"]);
    assert_eq!(fake::invoke(submit_reading, &reading("r1", "rogue-1", "21.5")), refused);
    assert_eq!(fake::calls().len(), 2, "a refused reading is answered from the store");
}

#[test]
fn a_failed_call_stores_nothing_and_a_retry_completes() {
    world();
    fake::fail("devices", Some(HostError::Unavailable));
    let reply = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
    assert_eq!(reply, r#"{"error":"devices_unavailable"}"#);
    assert!(fake::kv_keys(DB).is_empty());
    assert!(fake::published(READINGS).is_empty());
    fake::fail("devices", None);
    let retry = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
    assert_eq!(retry, r#"{"reading_id":"r1","accepted":true}"#);
    assert_eq!(fake::published(READINGS).len(), 1);
}

#[test]
fn devices_answering_outside_its_rules_stores_nothing() {
    for answer in [&br#"{"error":"storage_unavailable"}"#[..], b"[]", br#"{"active":"yes"}"#] {
        world();
        fake::on_call("devices", "get_device", move |_| Ok(answer.to_vec()));
        let reply = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
        assert_eq!(reply, r#"{"error":"devices_failed"}"#);
        assert!(fake::kv_keys(DB).is_empty());
        assert!(fake::published(READINGS).is_empty());
    }
}

#[test]
fn publish_or_storage_failures_store_nothing() {
    for (name, code) in [(READINGS, "events_unavailable"), (DB, "storage_unavailable")] {
        world();
        fake::fail(name, Some(HostError::Unavailable));
        let reply = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
        assert_eq!(reply, format!(r#"{{"error":"{code}"}}"#), "{name}");
        assert!(fake::kv_keys(DB).is_empty(), "{name}");
        assert!(fake::published(READINGS).is_empty(), "{name}");
    }
}

#[test]
fn a_lost_store_write_republishes_on_retry() {
    world();
    fake::fail_writes(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    // Published before the write failed: at-least-once, never lost.
    assert_eq!(fake::published(READINGS).len(), 1);
    assert!(fake::kv_keys(DB).is_empty());
    fake::fail_writes(DB, None);
    fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
    assert_eq!(fake::published(READINGS).len(), 2, "aggregate drops the duplicate by id");
    assert_eq!(fake::kv_keys(DB), ["last/dev-7/temperature", "seen/r1"]);
}

#[test]
fn a_corrupt_answer_record_is_an_error() {
    world();
    fake::set_kv(DB, "seen/r1", "accepted");
    let reply = fake::invoke(submit_reading, &reading("r1", "dev-7", "21.5"));
    assert_eq!(reply, r#"{"error":"corrupt_record"}"#);
    assert!(fake::calls().is_empty());
}
