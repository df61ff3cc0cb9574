//! `orders` of the payment-redelivery scenarios: takes an order and asks for its payment.
//!
//! `place_order {order_id, amount_cents}` publishes one payment request
//! `{payment_id: "pay-<order_id>", order_id, amount_cents}` on channel `payment-requests` (an
//! at-least-once queue consumed by `charge`) and answers `{order_id, payment_id, status:
//! "payment_requested"}`. The payment id is derived from the order id, so every (re)delivery of
//! the request carries the same `payment_id`: the consumer's idempotency key.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, Reply, endpoint, publish};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const PAYMENT_REQUESTS: &str = "payment-requests";

#[derive(Debug, Deserialize)]
struct Order {
    order_id: String,
    amount_cents: i64,
}

#[derive(Debug, Serialize)]
struct PaymentRequest<'a> {
    payment_id: &'a str,
    order_id: &'a str,
    amount_cents: i64,
}

#[derive(Debug, Serialize)]
struct Placed {
    order_id: String,
    payment_id: String,
    status: &'static str,
}

endpoint!(place_order, fn(req: Order) -> Reply<Placed>);

/// POST /orders.
fn place_order(req: Order) -> Reply<Placed> {
    if req.amount_cents <= 0 {
        return Err(AppError::bad_request("amount_cents must be positive"));
    }
    let payment_id = format!("pay-{}", req.order_id);
    let request = PaymentRequest {
        payment_id: &payment_id,
        order_id: &req.order_id,
        amount_cents: req.amount_cents,
    };
    publish(PAYMENT_REQUESTS, &request).map_err(|_| AppError::unavailable("events"))?;
    Ok(Placed { order_id: req.order_id, payment_id, status: "payment_requested" })
}
