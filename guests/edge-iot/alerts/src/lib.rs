//! `alerts`: windows whose maximum crossed the threshold (scenarios/edge-iot/SERVICES.md).
//!
//! Store `alerts-db`: `alert/<device_id>/<window>` records the alerts of a device's window, as
//! a JSON object from metric to that window's `max` (`{"temperature":91.0}`): the key has no
//! metric, and windows are numbered per device+metric, so one key holds every metric that
//! alerted in that window and the endpoint stays idempotent by device+metric+window.
//! `count/<device_id>` is the number of alerts, as decimal text.
//!
//! `on_aggregate` consumes `aggregates` (at-least-once). For `max` > 80.0 its host calls are,
//! in order: `kv_get alert/...`; if the metric is not in it `kv_put alert/...`,
//! `kv_get count/...`, `kv_put count/...`, `log` (warn). The alert goes first, as in the shop's
//! notifications: a lost count write under-counts an alert, never counts one twice.
#![no_std]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};

use fusebench_guest::{Ack, AppError, Reply, endpoint, kv, log};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "alerts-db";
/// A window alerts when its maximum is strictly above this.
const THRESHOLD: f64 = 80.0;

/// An aggregate as aggregate publishes it; the other statistics are not needed.
#[derive(Debug, Deserialize)]
struct Aggregate {
    device_id: String,
    metric: String,
    window: i64,
    max: f64,
}

/// The alerts of one device's window: metric → the window's maximum.
type WindowAlerts = BTreeMap<String, f64>;

#[derive(Debug, Deserialize)]
struct AlertsQuery {
    device_id: String,
}

#[derive(Debug, Serialize)]
struct AlertCount {
    device_id: String,
    alerts: i64,
}

endpoint!(on_aggregate, fn(msg: Aggregate) -> Reply<Ack>);
endpoint!(list_alerts, fn(req: AlertsQuery) -> Reply<AlertCount>);

/// Subscription to `aggregates`.
fn on_aggregate(msg: Aggregate) -> Reply<Ack> {
    if msg.max <= THRESHOLD {
        return Ok(Ack::OK);
    }
    let Aggregate { device_id, metric, window, max } = msg;
    let alert_key = format!("alert/{device_id}/{window}");
    let mut alerts: WindowAlerts =
        match kv::get(DB, &alert_key).map_err(|_| storage_unavailable())? {
            None => WindowAlerts::new(),
            Some(record) => {
                serde_json::from_slice(&record).map_err(|_| AppError::new("corrupt_record"))?
            }
        };
    if alerts.contains_key(&metric) {
        return Ok(Ack::OK);
    }
    alerts.insert(metric.clone(), max);
    let record = serde_json::to_vec(&alerts).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &alert_key, record).map_err(|_| storage_unavailable())?;
    let count_key = count_key(&device_id);
    let alerts = count(&count_key)?.checked_add(1).ok_or(AppError::new("corrupt_record"))?;
    kv::put(DB, &count_key, alerts.to_string()).map_err(|_| storage_unavailable())?;
    // serde_json formats the float (shortest round trip) without core's float formatting.
    let max = serde_json::to_string(&max).map_err(|_| AppError::new("internal"))?;
    log::warn(&format!("alert {device_id}: {metric} max {max} in window {window}"));
    Ok(Ack::OK)
}

/// GET /alerts/{device_id}: how many alerts the device has raised.
fn list_alerts(req: AlertsQuery) -> Reply<AlertCount> {
    let alerts = count(&count_key(&req.device_id))?;
    Ok(AlertCount { device_id: req.device_id, alerts })
}

fn count_key(device_id: &str) -> String {
    format!("count/{device_id}")
}

fn count(key: &str) -> Result<i64, AppError> {
    match kv::get(DB, key).map_err(|_| storage_unavailable())? {
        None => Ok(0),
        Some(text) => fusebench_guest::parse_decimal(&text).ok_or(AppError::new("corrupt_record")),
    }
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
