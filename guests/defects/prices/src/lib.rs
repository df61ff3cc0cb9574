//! `prices` of the replication-order scenarios: the writer of a few hot keys.
//!
//! Store `prices-db` (eventual, three replicas): `price/<sku>` holds `{"sku","price_cents"}`.
//! `set_price` overwrites it (last write should win), `get_price` reads it from whichever
//! replica the store picks. The module is the same in both twins: whether the replicas agree
//! at the end depends only on the store's `conflict` policy.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, Reply, endpoint, kv};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "prices-db";

#[derive(Debug, Serialize, Deserialize)]
struct Price {
    sku: String,
    price_cents: i64,
}

#[derive(Debug, Deserialize)]
struct PriceQuery {
    sku: String,
}

endpoint!(set_price, fn(req: Price) -> Reply<Price>);
endpoint!(get_price, fn(req: PriceQuery) -> Reply<Price>);

/// PUT /prices/{sku}.
fn set_price(req: Price) -> Reply<Price> {
    if req.price_cents < 0 {
        return Err(AppError::bad_request("price_cents must not be negative"));
    }
    let record = serde_json::to_vec(&req).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, format!("price/{}", req.sku), record).map_err(|_| storage_unavailable())?;
    Ok(req)
}

/// GET /prices/{sku}.
fn get_price(req: PriceQuery) -> Reply<Price> {
    match kv::get(DB, format!("price/{}", req.sku)).map_err(|_| storage_unavailable())? {
        None => Err(AppError::new("not_found")),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| AppError::new("corrupt_record")),
    }
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
