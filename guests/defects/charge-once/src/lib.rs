//! `charge` of scenarios/fixed/payment-redelivery.toml: charges each `payment_id` once.
//!
//! The twin of `guests/defects/charge-every-delivery` with the same store layout (store
//! `payments-db`): `payment/<payment_id>` holds the payment as JSON, `charged/<order_id>` the
//! total charged for the order as decimal text. A request whose `payment/<payment_id>` exists
//! is a duplicate or a redelivery: it is answered with the stored payment and charges nothing.
//! The record is written before the total, so a lost second write under-counts rather than
//! charging twice. Deliveries must not overlap for the same `payment_id` (the scenario runs the
//! consumer with one replica and `concurrency = 1`): the check-then-write is not atomic.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};

use fusebench_guest::{AppError, Reply, endpoint, kv};
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

/// Consumes one payment request, idempotent by `payment_id`.
fn charge(req: Charge) -> Reply<Payment> {
    let record_key = format!("payment/{}", req.payment_id);
    if let Some(stored) = kv::get(DB, &record_key).map_err(|_| storage_unavailable())? {
        return serde_json::from_slice(&stored).map_err(|_| AppError::new("corrupt_record"));
    }
    let status = if req.amount_cents > 0 && req.amount_cents <= AMOUNT_CENTS_MAX {
        Status::Charged
    } else {
        Status::Declined
    };
    let Charge { payment_id, order_id, amount_cents } = req;
    let payment = Payment { payment_id, order_id, amount_cents, status };
    let record = serde_json::to_vec(&payment).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &record_key, record).map_err(|_| storage_unavailable())?;
    if status == Status::Charged {
        add_to_total(&payment.order_id, payment.amount_cents)?;
    }
    Ok(payment)
}

fn add_to_total(order_id: &str, amount_cents: i64) -> Result<(), AppError> {
    let total_key = format!("charged/{order_id}");
    let total = match kv::get(DB, &total_key).map_err(|_| storage_unavailable())? {
        None => 0,
        Some(text) => {
            fusebench_guest::parse_decimal(&text).ok_or(AppError::new("corrupt_record"))?
        }
    };
    let total = total.checked_add(amount_cents).ok_or(AppError::new("corrupt_record"))?;
    kv::put(DB, &total_key, total.to_string()).map_err(|_| storage_unavailable())
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
