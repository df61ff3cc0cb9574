use alloc::string::ToString;

use fusebench_guest::log::Level;
use fusebench_guest::{HostError, fake};

use super::*;

#[test]
fn registers_and_reads_back() {
    fake::reset();
    let reply = fake::invoke(register_device, r#"{"device_id":"pump-1","site":"plant-a"}"#);
    assert_eq!(reply, r#"{"device_id":"pump-1","site":"plant-a","active":true}"#);
    assert_eq!(fake::kv_text(DB, "device/pump-1").as_deref(), Some(reply.as_str()));
    assert_eq!(fake::invoke(get_device, r#"{"device_id":"pump-1"}"#), reply);
    assert_eq!(fake::logs(), [(Level::Info, "device pump-1 registered at plant-a".to_string())]);
}

#[test]
fn registering_again_is_idempotent_and_can_move_a_device() {
    fake::reset();
    let first = fake::invoke(register_device, r#"{"device_id":"dev-1","site":"plant-a"}"#);
    assert_eq!(fake::invoke(register_device, r#"{"device_id":"dev-1","site":"plant-a"}"#), first);
    assert_eq!(fake::kv_keys(DB), ["device/dev-1"]);
    fake::invoke(register_device, r#"{"device_id":"dev-1","site":"plant-b"}"#);
    assert_eq!(
        fake::invoke(get_device, r#"{"device_id":"dev-1"}"#),
        r#"{"device_id":"dev-1","site":"plant-b","active":true}"#
    );
}

#[test]
fn fleet_devices_are_known_without_registration() {
    fake::reset();
    assert_eq!(
        fake::invoke(get_device, r#"{"device_id":"dev-7"}"#),
        r#"{"device_id":"dev-7","site":"unknown","active":true}"#
    );
    assert!(fake::kv_keys(DB).is_empty(), "a read stores nothing");
}

#[test]
fn stored_record_wins_over_the_fleet_rule() {
    fake::reset();
    fake::set_kv(DB, "device/dev-9", r#"{"device_id":"dev-9","site":"plant-b","active":false}"#);
    assert_eq!(
        fake::invoke(get_device, r#"{"device_id":"dev-9"}"#),
        r#"{"device_id":"dev-9","site":"plant-b","active":false}"#
    );
}

#[test]
fn unknown_other_devices_are_not_found() {
    fake::reset();
    assert_eq!(fake::invoke(get_device, r#"{"device_id":"rogue-1"}"#), r#"{"error":"not_found"}"#);
    assert_eq!(fake::invoke(get_device, r#"{"device_id":"dev"}"#), r#"{"error":"not_found"}"#);
}

#[test]
fn storage_failures_and_bad_records() {
    fake::reset();
    fake::fail(DB, Some(HostError::Unavailable));
    let unavailable = r#"{"error":"storage_unavailable"}"#;
    assert_eq!(fake::invoke(get_device, r#"{"device_id":"dev-7"}"#), unavailable);
    assert_eq!(
        fake::invoke(register_device, r#"{"device_id":"dev-7","site":"plant-a"}"#),
        unavailable
    );
    fake::fail(DB, None);
    fake::set_kv(DB, "device/dev-7", "{");
    assert_eq!(
        fake::invoke(get_device, r#"{"device_id":"dev-7"}"#),
        r#"{"error":"corrupt_record"}"#
    );
    assert_eq!(
        fake::invoke(register_device, r#"{"device_id":"","site":"plant-a"}"#),
        r#"{"error":"bad_request: device_id must not be empty"}"#
    );
}
