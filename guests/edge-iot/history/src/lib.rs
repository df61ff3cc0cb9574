//! `history`: the cloud's record of closed windows (scenarios/edge-iot/SERVICES.md).
//!
//! Store `history-db`: `agg/<device_id>/<metric>/<window>` holds the aggregate as received;
//! `summary/<device_id>/<metric>` holds `{"windows","mean"}`, the number of windows recorded
//! and the mean of their means. `on_aggregate` consumes `aggregates` (at-least-once),
//! idempotent by device+metric+window: `kv_get agg/...`; if absent `kv_put agg/...`,
//! `kv_get summary/...`, `kv_put summary/...`. The aggregate goes first, as in the shop's
//! notifications: a lost summary write under-counts a window, never counts one twice.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{Ack, AppError, Reply, endpoint, kv};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "history-db";

/// An aggregate as aggregate publishes it on `aggregates`.
#[derive(Debug, Serialize, Deserialize)]
struct Aggregate {
    device_id: String,
    metric: String,
    window: i64,
    count: i64,
    mean: f64,
    min: f64,
    max: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Summary {
    windows: i64,
    mean: f64,
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    device_id: String,
    metric: String,
}

#[derive(Debug, Serialize)]
struct History {
    device_id: String,
    metric: String,
    windows: i64,
    mean: f64,
}

endpoint!(on_aggregate, fn(msg: Aggregate) -> Reply<Ack>);
endpoint!(query, fn(req: HistoryQuery) -> Reply<History>);

/// Subscription to `aggregates`.
fn on_aggregate(msg: Aggregate) -> Reply<Ack> {
    let agg_key = format!("agg/{}/{}/{}", msg.device_id, msg.metric, msg.window);
    if kv::get(DB, &agg_key).map_err(|_| storage_unavailable())?.is_some() {
        return Ok(Ack::OK);
    }
    let record = serde_json::to_vec(&msg).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &agg_key, record).map_err(|_| storage_unavailable())?;
    let summary_key = summary_key(&msg.device_id, &msg.metric);
    let mut summary = load(&summary_key)?.unwrap_or_default();
    summary.windows = summary.windows.checked_add(1).ok_or(AppError::new("corrupt_record"))?;
    // The running mean: exact for the first window, no sum to overflow later.
    summary.mean += (msg.mean - summary.mean) / summary.windows as f64;
    let record = serde_json::to_vec(&summary).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &summary_key, record).map_err(|_| storage_unavailable())?;
    Ok(Ack::OK)
}

/// GET /history/{device_id}?metric=: zeros when nothing is recorded.
fn query(req: HistoryQuery) -> Reply<History> {
    let Summary { windows, mean } =
        load(&summary_key(&req.device_id, &req.metric))?.unwrap_or_default();
    Ok(History { device_id: req.device_id, metric: req.metric, windows, mean })
}

fn summary_key(device_id: &str, metric: &str) -> String {
    format!("summary/{device_id}/{metric}")
}

fn load(key: &str) -> Result<Option<Summary>, AppError> {
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
