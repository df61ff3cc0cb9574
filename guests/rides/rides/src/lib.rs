//! `rides`: a rider's ride from request to completion (scenarios/rides/SERVICES.md).
//!
//! Store `rides-db` (owned): `ride/<ride_id>` holds the ride as JSON,
//! `{"ride_id","rider_id","driver_id","distance_km","fare_cents","status"}` with status
//! `assigned` or `completed`. The steps of `request_ride`, in the order of their host calls:
//!
//! 1. a fresh ride id, `ride-<16 hex digits>` from the service's random stream;
//! 2. `pricing.quote {distance_km}` for the fare;
//! 3. `dispatch.match_driver {ride_id}` for a driver (`no_driver` is a business answer);
//! 4. the ride stored as `assigned`. When 3 failed at the host or 4 failed, the driver the match
//!    may have claimed is given back (`dispatch.release_driver`, best effort) before answering
//!    the error: a ride nobody knows of must not keep a driver busy.
//!
//! `complete_ride` releases the driver *before* storing the ride as `completed`, so a driver is
//! never left busy with a finished ride; a failed release answers `dispatch_unavailable` and
//! leaves the ride `assigned` (completing it again is safe: both steps are idempotent).
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, CallError, Reply, call, endpoint, kv};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "rides-db";

/// The longest ride quoted, in km.
pub const DISTANCE_KM_MAX: i64 = 500;

#[derive(Debug, Deserialize)]
struct RequestRide {
    rider_id: String,
    distance_km: i64,
}

#[derive(Debug, Deserialize)]
struct RideQuery {
    ride_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Assigned,
    Completed,
}

#[derive(Debug, Serialize, Deserialize)]
struct Ride {
    ride_id: String,
    rider_id: String,
    driver_id: String,
    distance_km: i64,
    fare_cents: i64,
    status: Status,
}

/// What rides needs of the other services' contracts.
mod remote {
    use alloc::string::String;

    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize)]
    pub struct Quote {
        pub distance_km: i64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Fare {
        pub fare_cents: i64,
    }

    #[derive(Debug, Serialize)]
    pub struct RideRef<'a> {
        pub ride_id: &'a str,
    }

    #[derive(Debug, Deserialize)]
    pub struct Assignment {
        pub driver_id: String,
    }
}

endpoint!(request_ride, fn(req: RequestRide) -> Reply<Ride>);
endpoint!(complete_ride, fn(req: RideQuery) -> Reply<Ride>);
endpoint!(get_ride, fn(req: RideQuery) -> Reply<Ride>);

/// POST /rides: a priced ride with a driver, or why not.
fn request_ride(req: RequestRide) -> Reply<Ride> {
    if !(1..=DISTANCE_KM_MAX).contains(&req.distance_km) {
        return Err(AppError::bad_request(format!(
            "distance_km must be within 1..={DISTANCE_KM_MAX}"
        )));
    }
    let ride_id = format!("ride-{:016x}", fusebench_guest::random());
    let quote = remote::Quote { distance_km: req.distance_km };
    let fare_cents = match call::<_, remote::Fare>("pricing", "quote", &quote) {
        Ok(fare) => fare.fare_cents,
        Err(CallError::Host(_)) => return Err(AppError::unavailable("pricing")),
        Err(_) => return Err(AppError::new("pricing_failed")),
    };
    let ride_ref = remote::RideRef { ride_id: &ride_id };
    let driver_id = match call::<_, remote::Assignment>("dispatch", "match_driver", &ride_ref) {
        Ok(assignment) => assignment.driver_id,
        Err(CallError::Failed(e)) if e.code() == "no_driver" => return Err(e),
        Err(CallError::Host(_)) => {
            // The match may have claimed a driver before its answer was lost.
            give_back(&ride_id);
            return Err(AppError::unavailable("dispatch"));
        }
        Err(_) => return Err(AppError::new("dispatch_failed")),
    };
    let RequestRide { rider_id, distance_km } = req;
    let ride =
        Ride { ride_id, rider_id, driver_id, distance_km, fare_cents, status: Status::Assigned };
    if let Err(e) = store(&ride) {
        give_back(&ride.ride_id);
        return Err(e);
    }
    Ok(ride)
}

/// POST /rides/{ride_id}/complete: the driver is free again, the ride `completed`.
fn complete_ride(req: RideQuery) -> Reply<Ride> {
    let mut ride = load(&req.ride_id)?.ok_or(AppError::new("not_found"))?;
    if ride.status == Status::Completed {
        return Ok(ride);
    }
    let ride_ref = remote::RideRef { ride_id: &ride.ride_id };
    match call::<_, IgnoredAny>("dispatch", "release_driver", &ride_ref) {
        Ok(_) => {}
        Err(CallError::Host(_)) => return Err(AppError::unavailable("dispatch")),
        Err(_) => return Err(AppError::new("dispatch_failed")),
    }
    ride.status = Status::Completed;
    store(&ride)?;
    Ok(ride)
}

/// GET /rides/{ride_id}.
fn get_ride(req: RideQuery) -> Reply<Ride> {
    load(&req.ride_id)?.ok_or(AppError::new("not_found"))
}

/// Best effort: a failure leaves the driver busy with a ride nobody knows of (visible in
/// `drivers-db`), and the rider has an error answer either way.
fn give_back(ride_id: &str) {
    let ride_ref = remote::RideRef { ride_id };
    let _ = call::<_, IgnoredAny>("dispatch", "release_driver", &ride_ref);
}

fn load(ride_id: &str) -> Result<Option<Ride>, AppError> {
    let Some(bytes) = kv::get(DB, format!("ride/{ride_id}")).map_err(|_| storage_unavailable())?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|_| AppError::new("corrupt_record"))
}

fn store(ride: &Ride) -> Result<(), AppError> {
    let record = serde_json::to_vec(ride).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, format!("ride/{}", ride.ride_id), record).map_err(|_| storage_unavailable())
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
