//! `checkout` of the undeclared-call scenarios: prices an order, then asks for a fraud score.
//!
//! `checkout {order_id, customer, sku, qty}`:
//! 1. `pricing.quote {sku, qty}` → `unit_cents`; the total is `unit_cents × qty`. A call that
//!    fails at the host answers `pricing_unavailable`, an error answer or a reply outside the
//!    contract `pricing_failed`.
//! 2. `fraud.score {customer, amount_cents}` → `risk` (0–100); 80 or more holds the order.
//!    The fraud check **fails open**: if the call does not succeed — unavailable, or *denied by
//!    the host* — the order is accepted with `fraud_checked: false` and a warning is logged.
//!
//! The module is the same in both twins. In scenarios/flawed/dynamic/undeclared-call.toml the
//! service's `[[service.call]]` list omits `fraud.score`, so the host refuses step 2 with `-2`
//! on every request (a refusal in the run's service table) and, failing open, nobody notices:
//! every answer is a success. The fixed twin declares the call.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, CallError, Reply, call, endpoint, log};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// A risk score at or above this holds the order for review.
pub const RISK_HOLD: i64 = 80;

#[derive(Debug, Deserialize)]
struct Checkout {
    order_id: String,
    customer: String,
    sku: String,
    qty: i64,
}

#[derive(Debug, Serialize)]
struct Outcome {
    order_id: String,
    status: &'static str,
    total_cents: i64,
    fraud_checked: bool,
}

/// What checkout needs of the pricing and fraud contracts.
mod remote {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize)]
    pub struct Quote<'a> {
        pub sku: &'a str,
        pub qty: i64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Quoted {
        pub unit_cents: i64,
    }

    #[derive(Debug, Serialize)]
    pub struct Score<'a> {
        pub customer: &'a str,
        pub amount_cents: i64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Scored {
        pub risk: i64,
    }
}

endpoint!(checkout, fn(req: Checkout) -> Reply<Outcome>);

/// POST /checkout.
fn checkout(req: Checkout) -> Reply<Outcome> {
    if req.qty <= 0 {
        return Err(AppError::bad_request("qty must be positive"));
    }
    let quote = remote::Quote { sku: &req.sku, qty: req.qty };
    let unit_cents = match call::<_, remote::Quoted>("pricing", "quote", &quote) {
        Ok(q) => q.unit_cents,
        Err(CallError::Host(_)) => return Err(AppError::unavailable("pricing")),
        Err(_) => return Err(AppError::new("pricing_failed")),
    };
    let total_cents = unit_cents.checked_mul(req.qty).ok_or(AppError::new("pricing_failed"))?;

    let score = remote::Score { customer: &req.customer, amount_cents: total_cents };
    let (status, fraud_checked) = match call::<_, remote::Scored>("fraud", "score", &score) {
        Ok(s) if s.risk >= RISK_HOLD => ("held", true),
        Ok(_) => ("accepted", true),
        Err(e) => {
            // Fail open: a checkout is never lost to the fraud service.
            log::warn(&format!("order {}: fraud check skipped ({e})", req.order_id));
            ("accepted", false)
        }
    };
    Ok(Outcome { order_id: req.order_id, status, total_cents, fraud_checked })
}
