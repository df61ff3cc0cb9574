//! `devices`: the device fleet (scenarios/edge-iot/SERVICES.md).
//!
//! Store `devices-db`: `device/<device_id>` holds the device as JSON
//! (`{"device_id","site","active"}`). `get_device` treats an unknown id starting with `dev-` as
//! registered at site `"unknown"` and active (the simulated fleet is provisioned out of band);
//! it answers without storing anything, so reads stay reads.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, Reply, endpoint, kv, log};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "devices-db";
/// Ids with this prefix are known to the fleet even when never registered.
const FLEET_PREFIX: &str = "dev-";

#[derive(Debug, Deserialize)]
struct Register {
    device_id: String,
    site: String,
}

#[derive(Debug, Deserialize)]
struct DeviceQuery {
    device_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Device {
    device_id: String,
    site: String,
    active: bool,
}

endpoint!(register_device, fn(req: Register) -> Reply<Device>);
endpoint!(get_device, fn(req: DeviceQuery) -> Reply<Device>);

/// PUT /devices/{device_id}: (re)registers the device at `site`, active.
fn register_device(req: Register) -> Reply<Device> {
    if req.device_id.is_empty() {
        return Err(AppError::bad_request("device_id must not be empty"));
    }
    let device = Device { device_id: req.device_id, site: req.site, active: true };
    let record = serde_json::to_vec(&device).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, key(&device.device_id), record).map_err(|_| storage_unavailable())?;
    log::info(&format!("device {} registered at {}", device.device_id, device.site));
    Ok(device)
}

/// gRPC fleet.Devices/Get.
fn get_device(req: DeviceQuery) -> Reply<Device> {
    match kv::get(DB, key(&req.device_id)).map_err(|_| storage_unavailable())? {
        Some(record) => {
            serde_json::from_slice(&record).map_err(|_| AppError::new("corrupt_record"))
        }
        None if req.device_id.starts_with(FLEET_PREFIX) => {
            Ok(Device { device_id: req.device_id, site: "unknown".into(), active: true })
        }
        None => Err(AppError::new("not_found")),
    }
}

fn key(device_id: &str) -> String {
    format!("device/{device_id}")
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
