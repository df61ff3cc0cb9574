//! `dispatch` of scenarios/rides/rides.toml: hands each ride a free driver, and takes it back.
//!
//! Store `drivers-db` (owned): `driver/<driver_id>` holds the driver as JSON,
//! `{"driver_id","status":"free","trips"}` or `{"driver_id","status":"busy","ride_id","trips"}`;
//! `trips` counts the rides the driver was given. The fleet is the scenario's `[store.init]` (at
//! most [`FLEET_MAX`] drivers: one scan reads it all).
//!
//! A driver is claimed with `kv_cas_version` over the version the scan returned: when a
//! concurrent match (another replica, or another instance of this one) wrote the record since
//! the scan, the compare-and-set fails and the next free driver is tried; with none left the
//! answer is `no_driver`. A version, not the bytes read: a claim and a release in between
//! leave the bytes as they were but not the version (no A→B→A). The twin
//! `guests/rides/dispatch-racy` differs only in that claim.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use fusebench_guest::{AppError, Reply, endpoint, kv};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "drivers-db";
const PREFIX: &str = "driver/";

/// The most drivers one scan reads: the fleet must not be larger.
pub const FLEET_MAX: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Free,
    Busy,
}

#[derive(Debug, Serialize, Deserialize)]
struct Driver {
    driver_id: String,
    status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ride_id: Option<String>,
    trips: i64,
}

#[derive(Debug, Deserialize)]
struct RideRef {
    ride_id: String,
}

#[derive(Debug, Serialize)]
struct Assignment {
    ride_id: String,
    driver_id: String,
}

#[derive(Debug, Serialize)]
struct Released {
    ride_id: String,
    released: i64,
}

endpoint!(match_driver, fn(req: RideRef) -> Reply<Assignment>);
endpoint!(release_driver, fn(req: RideRef) -> Reply<Released>);

/// Gives the ride a free driver (idempotent by `ride_id`: a ride that has a driver gets it
/// again), or answers `no_driver`.
fn match_driver(req: RideRef) -> Reply<Assignment> {
    let fleet = fleet()?;
    if let Some((_, driver)) = fleet.iter().find(|(_, d)| carries(d, &req.ride_id)) {
        return Ok(Assignment { ride_id: req.ride_id, driver_id: driver.driver_id.clone() });
    }
    for (entry, driver) in fleet {
        if driver.status != Status::Free {
            continue;
        }
        let driver_id = driver.driver_id.clone();
        if claim(&entry, driver, &req.ride_id)? {
            return Ok(Assignment { ride_id: req.ride_id, driver_id });
        }
        // Claimed by a concurrent match since the scan: try the next free driver.
    }
    Err(AppError::new("no_driver"))
}

/// Makes the free `driver`, read as `entry`, busy with the ride, only if its record is still
/// the one read: `Ok(false)` when a concurrent match changed it since (nothing written).
fn claim(entry: &kv::Entry, driver: Driver, ride_id: &str) -> Result<bool, AppError> {
    let claimed = Driver {
        status: Status::Busy,
        ride_id: Some(ride_id.into()),
        trips: driver.trips.saturating_add(1),
        ..driver
    };
    let record = serde_json::to_vec(&claimed).map_err(|_| AppError::new("internal"))?;
    kv::cas_version(DB, &entry.key, Some(entry.version), record).map_err(|_| storage_unavailable())
}

/// Frees every driver busy with the ride (idempotent: a ride with no driver frees nothing).
fn release_driver(req: RideRef) -> Reply<Released> {
    let mut released = 0;
    for (entry, driver) in fleet()? {
        if !carries(&driver, &req.ride_id) {
            continue;
        }
        let freed = Driver { status: Status::Free, ride_id: None, ..driver };
        let record = serde_json::to_vec(&freed).map_err(|_| AppError::new("internal"))?;
        // Only from the record read: a concurrent release of the same ride may have won.
        if kv::cas_version(DB, &entry.key, Some(entry.version), record)
            .map_err(|_| storage_unavailable())?
        {
            released += 1;
        }
    }
    Ok(Released { ride_id: req.ride_id, released })
}

/// Every driver, in key order, with the entry it was read from.
fn fleet() -> Result<Vec<(kv::Entry, Driver)>, AppError> {
    let entries = kv::scan(DB, PREFIX, FLEET_MAX).map_err(|_| storage_unavailable())?;
    entries
        .into_iter()
        .map(|entry| match serde_json::from_str::<Driver>(&entry.value) {
            Ok(driver) if entry.key == format!("{PREFIX}{}", driver.driver_id) => {
                Ok((entry, driver))
            }
            _ => Err(AppError::new("corrupt_record")),
        })
        .collect()
}

fn carries(driver: &Driver, ride_id: &str) -> bool {
    driver.status == Status::Busy && driver.ride_id.as_deref() == Some(ride_id)
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
