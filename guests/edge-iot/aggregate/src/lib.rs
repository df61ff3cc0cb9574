//! `aggregate`: windows of readings per device and metric (scenarios/edge-iot/SERVICES.md).
//!
//! Store `aggregates-db`: `window/<device_id>/<metric>` holds the open window as JSON
//! (`{"window","count","sum","min","max"}`; windows are numbered from 1, an empty window has
//! `sum`, `min` and `max` 0); `applied/<reading_id>` marks a reading as applied (its value is
//! the number of the window it went into, as decimal text).
//!
//! `on_reading` consumes `readings` (at-least-once), idempotent by reading id. Its host calls,
//! in order: `kv_get applied/<id>`; if absent `kv_get window/...`; when the reading is the
//! window's 10th, `publish` the aggregate on `aggregates` (history and alerts are idempotent
//! by device+metric+window, so a redelivery's second publication is harmless); then
//! `kv_put applied/<id>` and `kv_put window/...` (the closed window is replaced by the empty
//! next one). The marker goes first, as in the shop's notifications: a lost second write
//! under-counts a reading, never counts one twice.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};

use fusebench_guest::{Ack, AppError, Reply, endpoint, kv, publish};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "aggregates-db";
const AGGREGATES: &str = "aggregates";
/// Readings per window.
const WINDOW_SIZE: i64 = 10;
const FIRST_WINDOW: i64 = 1;
/// As ingest: larger magnitudes could overflow a window's sum to infinity.
const MAX_ABS_VALUE: f64 = 1e300;

/// A reading as ingest publishes it; `ts_ms` is not needed.
#[derive(Debug, Deserialize)]
struct Reading {
    reading_id: String,
    device_id: String,
    metric: String,
    value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Window {
    window: i64,
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Window {
    fn open(window: i64) -> Self {
        Self { window, count: 0, sum: 0.0, min: 0.0, max: 0.0 }
    }

    fn add(&mut self, value: f64) {
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
    }

    fn mean(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.sum / self.count as f64 }
    }
}

/// A window's statistics: the message on `aggregates` and the answer of `get_aggregate`.
#[derive(Debug, Serialize)]
struct Aggregate {
    device_id: String,
    metric: String,
    window: i64,
    count: i64,
    mean: f64,
    min: f64,
    max: f64,
}

impl Aggregate {
    fn of(device_id: String, metric: String, w: &Window) -> Self {
        Self {
            device_id,
            metric,
            window: w.window,
            count: w.count,
            mean: w.mean(),
            min: w.min,
            max: w.max,
        }
    }
}

#[derive(Debug, Deserialize)]
struct AggregateQuery {
    device_id: String,
    metric: String,
}

endpoint!(on_reading, fn(msg: Reading) -> Reply<Ack>);
endpoint!(get_aggregate, fn(req: AggregateQuery) -> Reply<Aggregate>);

/// Subscription to `readings`.
fn on_reading(msg: Reading) -> Reply<Ack> {
    if !(msg.value.is_finite() && msg.value.abs() <= MAX_ABS_VALUE) {
        return Err(AppError::bad_request("value out of range"));
    }
    let applied_key = format!("applied/{}", msg.reading_id);
    if kv::get(DB, &applied_key).map_err(|_| storage_unavailable())?.is_some() {
        return Ok(Ack::OK);
    }
    let window_key = window_key(&msg.device_id, &msg.metric);
    let mut window = load(&window_key)?.unwrap_or_else(|| Window::open(FIRST_WINDOW));
    window.add(msg.value);
    let applied_to = window.window;
    if window.count >= WINDOW_SIZE {
        let aggregate = Aggregate::of(msg.device_id, msg.metric, &window);
        publish(AGGREGATES, &aggregate).map_err(|_| AppError::unavailable("events"))?;
        window = Window::open(window.window + 1);
    }
    kv::put(DB, &applied_key, applied_to.to_string()).map_err(|_| storage_unavailable())?;
    let record = serde_json::to_vec(&window).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &window_key, record).map_err(|_| storage_unavailable())?;
    Ok(Ack::OK)
}

/// GET /aggregates/{device_id}/{metric}: the open window.
fn get_aggregate(req: AggregateQuery) -> Reply<Aggregate> {
    let window =
        load(&window_key(&req.device_id, &req.metric))?.ok_or(AppError::new("not_found"))?;
    Ok(Aggregate::of(req.device_id, req.metric, &window))
}

fn window_key(device_id: &str, metric: &str) -> String {
    format!("window/{device_id}/{metric}")
}

fn load(key: &str) -> Result<Option<Window>, AppError> {
    match kv::get(DB, key).map_err(|_| storage_unavailable())? {
        None => Ok(None),
        Some(record) => {
            serde_json::from_slice(&record).map(Some).map_err(|_| AppError::new("corrupt_record"))
        }
    }
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
