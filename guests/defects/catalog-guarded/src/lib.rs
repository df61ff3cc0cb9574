//! `catalog` of scenarios/fixed/poison-input.toml: the twin of `catalog-poisoned`, fixed.
//!
//! `get_product {sku}` reads `product/<sku>` (`{"name","price_cents"}`, store `catalog-db`)
//! and answers it with the pick-face bin the product is fetched from, by double hashing over
//! the 13 bins: home `n mod 13`, step `1 + n mod 12` — never 0, and below 13, so the probe
//! visits every bin — skipping the bins in [`OCCUPIED`], for at most 13 probes
//! (`{"error":"no_free_bin"}` after that). `sku-13` starts at bin 0 (occupied) and moves on.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, Reply, endpoint, kv};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "catalog-db";

/// Bins of the pick face (a prime, so any step in 1..BINS visits every bin).
pub const BINS: u32 = 13;

/// Bins reserved for bulky goods: never assigned.
pub const OCCUPIED: [bool; BINS as usize] =
    [true, false, false, true, false, true, false, false, true, false, false, true, false];

#[derive(Debug, Deserialize)]
struct ProductQuery {
    sku: String,
}

#[derive(Debug, Deserialize)]
struct Stored {
    name: String,
    price_cents: i64,
}

#[derive(Debug, Serialize)]
struct Product {
    sku: String,
    name: String,
    price_cents: i64,
    bin: u32,
}

endpoint!(get_product, fn(req: ProductQuery) -> Reply<Product>);

/// GET /products/{sku}.
fn get_product(req: ProductQuery) -> Reply<Product> {
    let n = sku_number(&req.sku).ok_or(AppError::bad_request("sku must be sku-<number>"))?;
    let stored = kv::get(DB, format!("product/{}", req.sku))
        .map_err(|_| AppError::unavailable("storage"))?
        .ok_or(AppError::new("not_found"))?;
    let stored: Stored =
        serde_json::from_slice(&stored).map_err(|_| AppError::new("corrupt_record"))?;
    let bin = pick_bin(n, &OCCUPIED).ok_or(AppError::new("no_free_bin"))?;
    Ok(Product { sku: req.sku, name: stored.name, price_cents: stored.price_cents, bin })
}

/// `sku-<n>` → n.
fn sku_number(sku: &str) -> Option<u32> {
    sku.strip_prefix("sku-")?.parse().ok()
}

/// The bins probed for product `n`, in order: every bin once.
fn probes(n: u32) -> impl Iterator<Item = u32> {
    let home = n % BINS;
    let step = 1 + n % (BINS - 1);
    core::iter::successors(Some(home), move |bin| Some((bin + step) % BINS)).take(BINS as usize)
}

/// The first free bin on the probe sequence, if any.
fn pick_bin(n: u32, occupied: &[bool; BINS as usize]) -> Option<u32> {
    probes(n).find(|bin| !occupied[*bin as usize])
}
