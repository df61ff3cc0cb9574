//! `invoice` of scenarios/composed/composed.toml: an invoice in euros, converted, taxed and
//! cash-rounded by the `money` library (guests/composed/money.c) that `checkout` links too.
//!
//!   invoice {"invoice_id", "amount_cents", "currency"} ->
//!           {"invoice_id", "amount_eur_cents", "vat_cents", "total_cents"}
//!
//! `currency` is "EUR", "USD" or "CHF" (else `{"error":"unknown_currency"}`); an amount outside
//! 0..=10 000 000 answers `{"error":"bad_amount"}`. The total is rounded to 5 cents.
#![no_std]

extern crate alloc;

use alloc::string::String;

use fusebench_guest::{AppError, Reply, endpoint};
use serde::{Deserialize, Serialize};

mod money;

#[derive(Debug, Deserialize)]
struct Invoice {
    invoice_id: String,
    amount_cents: i64,
    currency: String,
}

#[derive(Debug, Serialize)]
struct Invoiced {
    invoice_id: String,
    amount_eur_cents: i64,
    vat_cents: i64,
    total_cents: i64,
}

/// The library's currency codes.
fn currency_code(currency: &str) -> Option<i32> {
    match currency {
        "EUR" => Some(0),
        "USD" => Some(1),
        "CHF" => Some(2),
        _ => None,
    }
}

/// VAT on invoices, in basis points.
const VAT_BASIS_POINTS: i32 = 2000;

endpoint!(invoice, fn(req: Invoice) -> Reply<Invoiced>);

fn invoice(req: Invoice) -> Reply<Invoiced> {
    if !(0..=10_000_000).contains(&req.amount_cents) {
        return Err(AppError::new("bad_amount"));
    }
    let from = currency_code(&req.currency).ok_or(AppError::new("unknown_currency"))?;
    let amount_eur_cents = money::convert_cents(req.amount_cents, from, 0);
    if amount_eur_cents < 0 {
        return Err(AppError::new("unknown_currency"));
    }
    let vat_cents = money::tax_cents(amount_eur_cents, VAT_BASIS_POINTS);
    let total_cents = money::round_to(amount_eur_cents + vat_cents, 5);
    Ok(Invoiced { invoice_id: req.invoice_id, amount_eur_cents, vat_cents, total_cents })
}
