//! `notifications`: one notification per shipment (scenarios/shop/SERVICES.md).
//!
//! Store `notifications-db`: `sent/<shipment_id>` marks a shipment as notified (its value is
//! the customer); `count/<customer>` is the number of notifications sent, as decimal text.
//! `on_shipment_created` consumes `shipment-events` (at-least-once), idempotent by shipment id.
//! Its host calls, in order (the WAT version makes the same ones): `kv_get sent/<id>`; if
//! absent `kv_put sent/<id>`, `kv_get count/<customer>`, `kv_put count/<customer>`, `log`.
#![no_std]

extern crate alloc;

use alloc::string::String;

use fusebench_guest::{Ack, AppError, Reply, concat, decimal, endpoint, kv, log};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "notifications-db";

/// The `shipment_created` event as shipping publishes it; other fields are ignored.
#[derive(Debug, Deserialize)]
struct ShipmentCreated {
    shipment_id: String,
    customer: String,
}

#[derive(Debug, Deserialize)]
struct CountQuery {
    customer: String,
}

#[derive(Debug, Serialize)]
struct SentCount {
    customer: String,
    sent: i64,
}

endpoint!(on_shipment_created, fn(msg: ShipmentCreated) -> Reply<Ack>);
endpoint!(sent_count, fn(req: CountQuery) -> Reply<SentCount>);

/// Subscription to `shipment-events`.
fn on_shipment_created(msg: ShipmentCreated) -> Reply<Ack> {
    let ShipmentCreated { shipment_id, customer } = msg;
    let sent_key = concat(&["sent/", &shipment_id]);
    if kv::get(DB, &sent_key).map_err(|_| storage_unavailable())?.is_some() {
        return Ok(Ack::OK);
    }
    kv::put(DB, &sent_key, &customer).map_err(|_| storage_unavailable())?;
    let count_key = concat(&["count/", &customer]);
    let sent = count(&count_key)?.checked_add(1).ok_or(AppError::new("corrupt_record"))?;
    kv::put(DB, &count_key, decimal(sent)).map_err(|_| storage_unavailable())?;
    log::info(&concat(&["notify ", &customer, ": shipment ", &shipment_id]));
    Ok(Ack::OK)
}

/// GET /notifications/{customer}.
fn sent_count(req: CountQuery) -> Reply<SentCount> {
    let sent = count(&concat(&["count/", &req.customer]))?;
    Ok(SentCount { customer: req.customer, sent })
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
