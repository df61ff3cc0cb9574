use alloc::vec::Vec;

use fusebench_guest::{HostError, fake, serde_json};

use super::*;

/// Stand-ins for pricing and dispatch with the contracts of scenarios/rides/SERVICES.md:
/// 250 + 120 per km; `driver` is the driver every match hands out (`None`: `no_driver`).
fn world(driver: Option<&'static str>) {
    fake::reset();
    fake::on_call("pricing", "quote", |req| {
        let req: serde_json::Value =
            serde_json::from_slice(req).map_err(|_| HostError::Rejected)?;
        let km = req["distance_km"].as_i64().ok_or(HostError::Rejected)?;
        Ok(format!(r#"{{"distance_km":{km},"fare_cents":{}}}"#, 250 + 120 * km).into_bytes())
    });
    fake::on_call("dispatch", "match_driver", move |req| {
        let req: serde_json::Value =
            serde_json::from_slice(req).map_err(|_| HostError::Rejected)?;
        Ok(match driver {
            Some(d) => format!(r#"{{"ride_id":{},"driver_id":"{d}"}}"#, req["ride_id"]),
            None => r#"{"error":"no_driver"}"#.into(),
        }
        .into_bytes())
    });
    fake::on_call("dispatch", "release_driver", |req| {
        let req: serde_json::Value =
            serde_json::from_slice(req).map_err(|_| HostError::Rejected)?;
        Ok(format!(r#"{{"ride_id":{},"released":1}}"#, req["ride_id"]).into_bytes())
    });
}

fn called() -> Vec<String> {
    fake::calls().into_iter().map(|(s, e, r)| format!("{s}.{e} {r}")).collect()
}

const REQUEST: &str = r#"{"rider_id":"u-7","distance_km":5}"#;

/// The first ride id the fake host's random stream gives (it restarts at every reset).
fn first_ride_id() -> String {
    fake::reset();
    format!("ride-{:016x}", fusebench_guest::random())
}

#[test]
fn a_requested_ride_is_priced_matched_and_stored() {
    let id = first_ride_id();
    world(Some("d-3"));
    let reply = fake::invoke(request_ride, REQUEST);
    let ride = format!(
        r#"{{"ride_id":"{id}","rider_id":"u-7","driver_id":"d-3","distance_km":5,"fare_cents":850,"status":"assigned"}}"#
    );
    assert_eq!(reply, ride);
    assert_eq!(fake::kv_text(DB, format!("ride/{id}")), Some(ride));
    assert_eq!(
        called(),
        [
            String::from(r#"pricing.quote {"distance_km":5}"#),
            format!(r#"dispatch.match_driver {{"ride_id":"{id}"}}"#),
        ]
    );
    // Every request gets its own ride.
    let second = fake::invoke(request_ride, REQUEST);
    assert!(!second.contains(&id), "{second}");
    assert_eq!(fake::kv_keys(DB).len(), 2);
}

#[test]
fn no_driver_is_a_business_answer_and_stores_nothing() {
    world(None);
    assert_eq!(fake::invoke(request_ride, REQUEST), r#"{"error":"no_driver"}"#);
    assert!(fake::kv_keys(DB).is_empty());
    assert_eq!(called().len(), 2, "no release for a ride that got no driver: {:?}", called());
}

#[test]
fn a_lost_match_answer_gives_the_driver_back() {
    let id = first_ride_id();
    world(Some("d-3"));
    fake::on_call("dispatch", "match_driver", |_| Err(HostError::Unavailable));
    assert_eq!(fake::invoke(request_ride, REQUEST), r#"{"error":"dispatch_unavailable"}"#);
    assert!(fake::kv_keys(DB).is_empty());
    assert_eq!(called()[2], format!(r#"dispatch.release_driver {{"ride_id":"{id}"}}"#));
}

#[test]
fn a_ride_that_cannot_be_stored_gives_its_driver_back() {
    let id = first_ride_id();
    world(Some("d-3"));
    fake::fail_writes(DB, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(request_ride, REQUEST), r#"{"error":"storage_unavailable"}"#);
    assert_eq!(called().len(), 3);
    assert_eq!(called()[2], format!(r#"dispatch.release_driver {{"ride_id":"{id}"}}"#));
}

#[test]
fn without_a_price_no_driver_is_asked_for() {
    world(Some("d-3"));
    fake::fail("pricing", Some(HostError::Unavailable));
    assert_eq!(fake::invoke(request_ride, REQUEST), r#"{"error":"pricing_unavailable"}"#);
    fake::fail("pricing", None);
    fake::on_call("pricing", "quote", |_| Ok(br#"{"error":"tariff_missing"}"#.to_vec()));
    assert_eq!(fake::invoke(request_ride, REQUEST), r#"{"error":"pricing_failed"}"#);
    assert!(called().iter().all(|c| c.starts_with("pricing.quote")), "{:?}", called());
}

#[test]
fn an_out_of_range_distance_is_a_bad_request() {
    world(Some("d-3"));
    for km in [0, -3, DISTANCE_KM_MAX + 1] {
        let reply =
            fake::invoke(request_ride, &format!(r#"{{"rider_id":"u-7","distance_km":{km}}}"#));
        assert!(reply.starts_with(r#"{"error":"bad_request: distance_km"#), "{reply}");
    }
    assert!(called().is_empty());
}

#[test]
fn completing_releases_the_driver_then_stores_the_ride_once() {
    let id = first_ride_id();
    world(Some("d-3"));
    fake::invoke(request_ride, REQUEST);
    let query = format!(r#"{{"ride_id":"{id}"}}"#);
    let done = fake::invoke(complete_ride, &query);
    assert!(
        done.ends_with(
            r#""driver_id":"d-3","distance_km":5,"fare_cents":850,"status":"completed"}"#
        ),
        "{done}"
    );
    assert_eq!(fake::kv_text(DB, format!("ride/{id}")), Some(done.clone()));
    assert_eq!(called()[2], format!(r#"dispatch.release_driver {query}"#));
    // Completing again answers the same and releases nothing more.
    assert_eq!(fake::invoke(complete_ride, &query), done);
    assert_eq!(called().len(), 3);
    assert_eq!(fake::invoke(get_ride, &query), done);
}

#[test]
fn a_failed_release_leaves_the_ride_assigned() {
    let id = first_ride_id();
    world(Some("d-3"));
    let assigned = fake::invoke(request_ride, REQUEST);
    fake::on_call("dispatch", "release_driver", |_| Err(HostError::Unavailable));
    let query = format!(r#"{{"ride_id":"{id}"}}"#);
    assert_eq!(fake::invoke(complete_ride, &query), r#"{"error":"dispatch_unavailable"}"#);
    assert_eq!(fake::kv_text(DB, format!("ride/{id}")), Some(assigned));
}

#[test]
fn unknown_and_unreadable_rides() {
    world(Some("d-3"));
    let query = r#"{"ride_id":"ride-x"}"#;
    assert_eq!(fake::invoke(get_ride, query), r#"{"error":"not_found"}"#);
    assert_eq!(fake::invoke(complete_ride, query), r#"{"error":"not_found"}"#);
    fake::set_kv(DB, "ride/ride-x", "{");
    assert_eq!(fake::invoke(get_ride, query), r#"{"error":"corrupt_record"}"#);
    fake::fail(DB, Some(HostError::Unavailable));
    assert_eq!(fake::invoke(get_ride, query), r#"{"error":"storage_unavailable"}"#);
    assert!(called().is_empty());
}
