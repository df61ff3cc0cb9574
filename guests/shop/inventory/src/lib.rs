//! `inventory`: stock per sku and idempotent reservations (scenarios/shop/SERVICES.md).
//!
//! Store `inventory-db`: `stock/<sku>` is the available quantity as decimal text (absent means
//! [`INITIAL_STOCK`]); `reservation/<reservation_id>` is the JSON answer of a successful
//! reservation. A reservation writes the stock before its record: if the second write is lost,
//! a retry reserves again and stock is under-counted, but never oversold.
#![no_std]

extern crate alloc;

use alloc::string::String;

use fusebench_guest::{AppError, Reply, concat, decimal, endpoint, kv};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "inventory-db";

/// The stock of a sku that has no `stock/<sku>` key yet: the simulation's initial stock.
pub const INITIAL_STOCK: i64 = 100;

#[derive(Debug, Deserialize)]
struct Reserve {
    reservation_id: String,
    sku: String,
    qty: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Reservation {
    reservation_id: String,
    sku: String,
    qty: i64,
    reserved: bool,
    available: i64,
}

#[derive(Debug, Deserialize)]
struct Restock {
    sku: String,
    qty: i64,
}

#[derive(Debug, Deserialize)]
struct StockQuery {
    sku: String,
}

#[derive(Debug, Serialize)]
struct Stock {
    sku: String,
    available: i64,
}

endpoint!(reserve, fn(req: Reserve) -> Reply<Reservation>);
endpoint!(restock, fn(req: Restock) -> Reply<Stock>);
endpoint!(stock, fn(req: StockQuery) -> Reply<Stock>);

/// POST /inventory/reservations, idempotent by `reservation_id`.
fn reserve(req: Reserve) -> Reply<Reservation> {
    if req.qty <= 0 {
        return Err(AppError::bad_request("qty must be positive"));
    }
    let record_key = concat(&["reservation/", &req.reservation_id]);
    if let Some(stored) = kv::get(DB, &record_key).map_err(|_| storage_unavailable())? {
        return fusebench_guest::json::from_slice(&stored)
            .map_err(|_| AppError::new("corrupt_record"));
    }
    let available = available(&req.sku)?;
    if req.qty > available {
        // Not enough stock: nothing changes and nothing is recorded, so a retry after a
        // restock may succeed.
        let Reserve { reservation_id, sku, qty } = req;
        return Ok(Reservation { reservation_id, sku, qty, reserved: false, available });
    }
    let left = available - req.qty;
    set_available(&req.sku, left)?;
    let Reserve { reservation_id, sku, qty } = req;
    let reservation = Reservation { reservation_id, sku, qty, reserved: true, available: left };
    let record =
        fusebench_guest::json::to_vec(&reservation).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &record_key, record).map_err(|_| storage_unavailable())?;
    Ok(reservation)
}

/// POST /inventory/restock, not idempotent: every call adds `qty`.
fn restock(req: Restock) -> Reply<Stock> {
    if req.qty <= 0 {
        return Err(AppError::bad_request("qty must be positive"));
    }
    let available = available(&req.sku)?
        .checked_add(req.qty)
        .ok_or_else(|| AppError::bad_request("qty too large"))?;
    set_available(&req.sku, available)?;
    Ok(Stock { sku: req.sku, available })
}

/// GET /inventory/{sku}.
fn stock(req: StockQuery) -> Reply<Stock> {
    let available = available(&req.sku)?;
    Ok(Stock { sku: req.sku, available })
}

fn available(sku: &str) -> Result<i64, AppError> {
    match kv::get(DB, concat(&["stock/", sku])).map_err(|_| storage_unavailable())? {
        None => Ok(INITIAL_STOCK),
        Some(text) => {
            fusebench_guest::parse_decimal(&text).ok_or_else(|| AppError::new("corrupt_record"))
        }
    }
}

fn set_available(sku: &str, available: i64) -> Result<(), AppError> {
    kv::put(DB, concat(&["stock/", sku]), decimal(available)).map_err(|_| storage_unavailable())
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
