//! `quotes` of scenarios/composed/composed.toml: an adapter in front of a legacy core. The
//! core (scenarios/composed/modules/wat/legacy-pricing.wat, linked as `legacy`) speaks integers
//! and error codes and knows nothing of JSON or the service ABI; this module exports the ABI
//! (`handle_quote`, through the SDK) and translates.
//!
//!   quote {"sku", "qty"} -> {"sku", "qty", "price_cents"}
//!
//! The core reads its markup from store `legacy-db` itself (a host call made inside the linked
//! library, under this service's grants). Its codes become answers: -1 `{"error":"unknown_sku"}`,
//! -2 `{"error":"legacy_unavailable"}`, -3 `{"error":"corrupt_record"}`. A `qty` outside
//! 1..=1000 or a `sku` outside 0..=1 000 000 answers `{"error":"bad_quantity"}` /
//! `{"error":"unknown_sku"}` without asking the core.
#![no_std]

use fusebench_guest::{AppError, Reply, endpoint};
use serde::{Deserialize, Serialize};

mod legacy;

#[derive(Debug, Deserialize)]
struct Quote {
    sku: i64,
    qty: i64,
}

#[derive(Debug, Serialize)]
struct Priced {
    sku: i64,
    qty: i64,
    price_cents: i64,
}

endpoint!(quote, fn(req: Quote) -> Reply<Priced>);

fn quote(req: Quote) -> Reply<Priced> {
    let qty = i32::try_from(req.qty)
        .ok()
        .filter(|q| (1..=1000).contains(q))
        .ok_or(AppError::new("bad_quantity"))?;
    let sku = i32::try_from(req.sku)
        .ok()
        .filter(|s| (0..=1_000_000).contains(s))
        .ok_or(AppError::new("unknown_sku"))?;
    match legacy::quote(sku, qty) {
        -1 => Err(AppError::new("unknown_sku")),
        -2 => Err(AppError::unavailable("legacy")),
        code if code < 0 => Err(AppError::new("corrupt_record")),
        price_cents => Ok(Priced { sku: req.sku, qty: req.qty, price_cents }),
    }
}
