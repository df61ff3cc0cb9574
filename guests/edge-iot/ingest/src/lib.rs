//! `ingest`: accepts readings at a plant's local edge (scenarios/edge-iot/SERVICES.md).
//!
//! Store `readings-buffer`: `seen/<reading_id>` holds the answer given for a reading
//! (`{"reading_id","accepted"}`), `last/<device_id>/<metric>` the latest accepted value (a JSON
//! number). The steps of `submit_reading`, in the order of their host calls:
//!
//! 1. `seen/<reading_id>` known: answer it, unchanged (no call, no publication).
//! 2. `devices.get_device`: `active` decides; `{"error":"not_found"}` is an unknown device.
//!    A call that fails at the host answers `devices_unavailable`, any other error answer or
//!    reply outside the contract `devices_failed`; both store nothing, so a retry asks again.
//! 3. Accepted: publish the reading on `readings`, *then* store `last/...` and `seen/...`.
//!    A lost store write makes a retry publish again (at-least-once; aggregate is idempotent
//!    by reading id), never loses the reading. Refused: only `seen/...` is stored.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, CallError, Reply, call, endpoint, kv, publish};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "readings-buffer";
const READINGS: &str = "readings";
/// Larger magnitudes could overflow a window's sum to infinity, which JSON cannot carry.
const MAX_ABS_VALUE: f64 = 1e300;

/// A reading, as submitted and as published on `readings`.
#[derive(Debug, Serialize, Deserialize)]
struct Reading {
    reading_id: String,
    device_id: String,
    metric: String,
    value: f64,
    ts_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Verdict {
    reading_id: String,
    accepted: bool,
}

/// What ingest needs of the devices contract.
mod remote {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize)]
    pub struct DeviceQuery<'a> {
        pub device_id: &'a str,
    }

    #[derive(Debug, Deserialize)]
    pub struct Device {
        pub active: bool,
    }
}

endpoint!(submit_reading, fn(req: Reading) -> Reply<Verdict>);

/// POST /readings, idempotent by `reading_id`.
fn submit_reading(req: Reading) -> Reply<Verdict> {
    if !(req.value.is_finite() && req.value.abs() <= MAX_ABS_VALUE) {
        return Err(AppError::bad_request("value out of range"));
    }
    let seen_key = format!("seen/{}", req.reading_id);
    if let Some(stored) = kv::get(DB, &seen_key).map_err(|_| storage_unavailable())? {
        return serde_json::from_slice(&stored).map_err(|_| AppError::new("corrupt_record"));
    }

    let query = remote::DeviceQuery { device_id: &req.device_id };
    let accepted = match call::<_, remote::Device>("devices", "get_device", &query) {
        Ok(device) => device.active,
        Err(CallError::Failed(e)) if e.code() == "not_found" => false,
        Err(CallError::Host(_)) => return Err(AppError::unavailable("devices")),
        Err(_) => return Err(AppError::new("devices_failed")),
    };

    if accepted {
        publish(READINGS, &req).map_err(|_| AppError::unavailable("events"))?;
        let value = serde_json::to_vec(&req.value).map_err(|_| AppError::new("internal"))?;
        kv::put(DB, format!("last/{}/{}", req.device_id, req.metric), value)
            .map_err(|_| storage_unavailable())?;
    }
    let verdict = Verdict { reading_id: req.reading_id, accepted };
    let record = serde_json::to_vec(&verdict).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &seen_key, record).map_err(|_| storage_unavailable())?;
    Ok(verdict)
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
