use alloc::string::ToString;

use fusebench_guest::{HostError, fake};

use super::*;

fn free(id: &str, trips: i64) -> String {
    format!(r#"{{"driver_id":"{id}","status":"free","trips":{trips}}}"#)
}

fn busy(id: &str, ride: &str, trips: i64) -> String {
    format!(r#"{{"driver_id":"{id}","status":"busy","ride_id":"{ride}","trips":{trips}}}"#)
}

fn record(id: &str) -> Option<String> {
    fake::kv_text(DB, format!("driver/{id}"))
}

/// Three drivers: d-1 busy with ride r-0, d-2 and d-3 free.
fn fleet_of_three() {
    fake::reset();
    fake::set_kv(DB, "driver/d-1", busy("d-1", "r-0", 4));
    fake::set_kv(DB, "driver/d-2", free("d-2", 2));
    fake::set_kv(DB, "driver/d-3", free("d-3", 0));
}

#[test]
fn a_ride_gets_the_first_free_driver() {
    fleet_of_three();
    let reply = fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#);
    assert_eq!(reply, r#"{"ride_id":"r-1","driver_id":"d-2"}"#);
    assert_eq!(record("d-2"), Some(busy("d-2", "r-1", 3)));
    assert_eq!(record("d-1"), Some(busy("d-1", "r-0", 4)));
    assert_eq!(record("d-3"), Some(free("d-3", 0)));
}

#[test]
fn a_ride_that_has_a_driver_gets_it_again_and_nothing_is_written() {
    fleet_of_three();
    let first = fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#);
    assert_eq!(fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#), first);
    assert_eq!(
        fake::invoke(match_driver, r#"{"ride_id":"r-0"}"#),
        r#"{"ride_id":"r-0","driver_id":"d-1"}"#
    );
    assert_eq!(record("d-2"), Some(busy("d-2", "r-1", 3)));
    assert_eq!(record("d-3"), Some(free("d-3", 0)));
}

#[test]
fn without_a_free_driver_the_answer_is_no_driver() {
    fleet_of_three();
    fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#);
    fake::invoke(match_driver, r#"{"ride_id":"r-2"}"#);
    assert_eq!(fake::invoke(match_driver, r#"{"ride_id":"r-3"}"#), r#"{"error":"no_driver"}"#);
    fake::reset();
    assert_eq!(fake::invoke(match_driver, r#"{"ride_id":"r-3"}"#), r#"{"error":"no_driver"}"#);
}

#[test]
fn a_driver_claimed_since_the_scan_is_not_taken_again() {
    // What a concurrent match does between this one's scan and its claim: the scan saw d-2
    // free, the store now says busy with r-9.
    fleet_of_three();
    let seen = kv::Entry { key: "driver/d-2".to_string(), value: free("d-2", 2), version: 0 };
    let driver: Driver = serde_json::from_str(&seen.value).expect("driver");
    kv::put(DB, "driver/d-2", busy("d-2", "r-9", 3)).expect("put");
    assert_eq!(claim(&seen, driver, "r-1"), Ok(false));
    assert_eq!(record("d-2"), Some(busy("d-2", "r-9", 3)));
}

#[test]
fn a_driver_written_back_to_the_same_bytes_since_the_scan_is_not_taken_either() {
    // Between this match's scan and its claim, the record was written twice and ends with the
    // bytes the scan saw (A→B→A): by value the claim would go through, by version it does not.
    fleet_of_three();
    let seen = kv::Entry { key: "driver/d-2".to_string(), value: free("d-2", 2), version: 0 };
    let driver: Driver = serde_json::from_str(&seen.value).expect("driver");
    kv::put(DB, "driver/d-2", busy("d-2", "r-9", 3)).expect("put");
    kv::put(DB, "driver/d-2", free("d-2", 2)).expect("put");
    assert_eq!(claim(&seen, driver, "r-1"), Ok(false));
    assert_eq!(record("d-2"), Some(free("d-2", 2)));
}

#[test]
fn release_frees_the_rides_driver_only_and_once() {
    fleet_of_three();
    fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#);
    let reply = fake::invoke(release_driver, r#"{"ride_id":"r-1"}"#);
    assert_eq!(reply, r#"{"ride_id":"r-1","released":1}"#);
    assert_eq!(record("d-2"), Some(free("d-2", 3)));
    assert_eq!(record("d-1"), Some(busy("d-1", "r-0", 4)));
    let again = fake::invoke(release_driver, r#"{"ride_id":"r-1"}"#);
    assert_eq!(again, r#"{"ride_id":"r-1","released":0}"#);
    assert_eq!(record("d-2"), Some(free("d-2", 3)));
    // Freed, the driver serves the next ride.
    let next = fake::invoke(match_driver, r#"{"ride_id":"r-2"}"#);
    assert_eq!(next, r#"{"ride_id":"r-2","driver_id":"d-2"}"#);
    assert_eq!(record("d-2"), Some(busy("d-2", "r-2", 4)));
}

#[test]
fn a_corrupt_or_misfiled_record_is_an_error() {
    fleet_of_three();
    fake::set_kv(DB, "driver/d-4", "not json");
    assert_eq!(fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#), r#"{"error":"corrupt_record"}"#);
    fleet_of_three();
    fake::set_kv(DB, "driver/d-4", free("d-5", 0));
    assert_eq!(
        fake::invoke(release_driver, r#"{"ride_id":"r-0"}"#),
        r#"{"error":"corrupt_record"}"#
    );
    assert_eq!(record("d-1"), Some(busy("d-1", "r-0", 4)));
}

#[test]
fn storage_failures_are_errors_and_claim_nothing() {
    fleet_of_three();
    fake::fail(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#);
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    fake::fail(DB, None);
    fake::fail_writes(DB, Some(HostError::Unavailable));
    let reply = fake::invoke(match_driver, r#"{"ride_id":"r-1"}"#);
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    assert_eq!(record("d-2"), Some(free("d-2", 2)));
    let reply = fake::invoke(release_driver, r#"{"ride_id":"r-0"}"#);
    assert_eq!(reply, r#"{"error":"storage_unavailable"}"#);
    assert_eq!(record("d-1"), Some(busy("d-1", "r-0", 4)));
}

#[test]
fn a_malformed_request_is_a_bad_request() {
    fleet_of_three();
    let reply = fake::invoke(match_driver, r#"{"ride":"r-1"}"#);
    assert!(reply.starts_with(r#"{"error":"bad_request: missing field `ride_id`"#), "{reply}");
}
