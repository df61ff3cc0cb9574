//! `payments`: idempotent charges (scenarios/shop/SERVICES.md).
//!
//! Store `payments-db`: `payment/<payment_id>` holds the payment as JSON (charged or declined);
//! `charged/<order_id>` holds the running total charged for the order, as decimal text, which
//! the property checker reads. The payment record is written before the total: if the second
//! write is lost, a retry finds the record and charges nothing more (an under-count), rather
//! than charging twice.
#![no_std]

extern crate alloc;

use alloc::string::String;

use fusebench_guest::{AppError, Reply, concat, decimal, endpoint, kv};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "payments-db";

/// The largest amount that is charged; anything above (or ≤ 0) is declined.
pub const AMOUNT_CENTS_MAX: i64 = 100_000;

#[derive(Debug, Deserialize)]
struct Charge {
    payment_id: String,
    order_id: String,
    amount_cents: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Charged,
    Declined,
}

#[derive(Debug, Serialize, Deserialize)]
struct Payment {
    payment_id: String,
    order_id: String,
    amount_cents: i64,
    status: Status,
}

endpoint!(charge, fn(req: Charge) -> Reply<Payment>);

/// POST /payments, idempotent by `payment_id`.
fn charge(req: Charge) -> Reply<Payment> {
    let record_key = concat(&["payment/", &req.payment_id]);
    if let Some(stored) = kv::get(DB, &record_key).map_err(|_| storage_unavailable())? {
        return fusebench_guest::json::from_slice(&stored)
            .map_err(|_| AppError::new("corrupt_record"));
    }
    let status = if req.amount_cents > 0 && req.amount_cents <= AMOUNT_CENTS_MAX {
        Status::Charged
    } else {
        Status::Declined
    };
    let Charge { payment_id, order_id, amount_cents } = req;
    let payment = Payment { payment_id, order_id, amount_cents, status };
    let record = fusebench_guest::json::to_vec(&payment).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &record_key, record).map_err(|_| storage_unavailable())?;
    if status == Status::Charged {
        add_to_total(&payment.order_id, payment.amount_cents)?;
    }
    Ok(payment)
}

fn add_to_total(order_id: &str, amount_cents: i64) -> Result<(), AppError> {
    let total_key = concat(&["charged/", order_id]);
    let total = match kv::get(DB, &total_key).map_err(|_| storage_unavailable())? {
        None => 0,
        Some(text) => {
            fusebench_guest::parse_decimal(&text).ok_or(AppError::new("corrupt_record"))?
        }
    };
    let total = total.checked_add(amount_cents).ok_or(AppError::new("corrupt_record"))?;
    kv::put(DB, &total_key, decimal(total)).map_err(|_| storage_unavailable())
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
