//! `checkout` of scenarios/composed/composed.toml: an order's total, with the tax computed by the
//! `money` library (guests/composed/money.c) that `invoice` links too.
//!
//!   checkout {"order_id", "subtotal_cents", "region"} ->
//!            {"order_id", "subtotal_cents", "tax_cents", "total_cents"}
//!
//! The region's VAT rate is this service's own knowledge; the arithmetic (rounding half away
//! from zero) is the library's, so both services round alike. An unknown region answers
//! `{"error":"unknown_region"}`, a subtotal outside 0..=10 000 000 `{"error":"bad_amount"}`.
#![no_std]

extern crate alloc;

use alloc::string::String;

use fusebench_guest::{AppError, Reply, endpoint};
use serde::{Deserialize, Serialize};

mod money;

#[derive(Debug, Deserialize)]
struct Order {
    order_id: String,
    subtotal_cents: i64,
    region: String,
}

#[derive(Debug, Serialize)]
struct Total {
    order_id: String,
    subtotal_cents: i64,
    tax_cents: i64,
    total_cents: i64,
}

/// VAT in basis points by region.
fn vat_basis_points(region: &str) -> Option<i32> {
    match region {
        "eu" => Some(2000),
        "ch" => Some(810),
        "us" => Some(725),
        _ => None,
    }
}

endpoint!(checkout, fn(req: Order) -> Reply<Total>);

fn checkout(req: Order) -> Reply<Total> {
    if !(0..=10_000_000).contains(&req.subtotal_cents) {
        return Err(AppError::new("bad_amount"));
    }
    let rate = vat_basis_points(&req.region).ok_or(AppError::new("unknown_region"))?;
    let tax_cents = money::tax_cents(req.subtotal_cents, rate);
    Ok(Total {
        order_id: req.order_id,
        subtotal_cents: req.subtotal_cents,
        tax_cents,
        total_cents: req.subtotal_cents + tax_cents,
    })
}
