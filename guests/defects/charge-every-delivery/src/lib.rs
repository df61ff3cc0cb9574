//! `charge` of scenarios/flawed/dynamic/payment-redelivery.toml — a KNOWN DEFECT, on purpose.
//!
//! The consumer of `payment-requests` is declared `idempotent = true` with
//! `idempotency_key = "payment_id"`, but this handler never looks at the key: every delivery
//! adds `amount_cents` to `charged/<order_id>` (store `payments-db`, decimal text). It does
//! write `payment/<payment_id>` (the payment as JSON), it just never reads it back, so a
//! duplicated or redelivered message charges the order again. The fixed twin is
//! `guests/defects/charge-once`: same store layout, charges once per `payment_id`.
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

/// Consumes one payment request. DEFECT: not idempotent by `payment_id`.
fn charge(req: Charge) -> Reply<Payment> {
    let status = if req.amount_cents > 0 && req.amount_cents <= AMOUNT_CENTS_MAX {
        Status::Charged
    } else {
        Status::Declined
    };
    let Charge { payment_id, order_id, amount_cents } = req;
    let payment = Payment { payment_id, order_id, amount_cents, status };
    let record = serde_json::to_vec(&payment).map_err(|_| AppError::new("internal"))?;
    // Recorded, but never consulted before charging: the defect.
    kv::put(DB, format!("payment/{}", payment.payment_id), record)
        .map_err(|_| storage_unavailable())?;
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
