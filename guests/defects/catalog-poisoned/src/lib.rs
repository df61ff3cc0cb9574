//! `catalog` of scenarios/flawed/dynamic/poison-input.toml — a KNOWN DEFECT, on purpose.
//!
//! `get_product {sku}` reads `product/<sku>` (`{"name","price_cents"}`, store `catalog-db`)
//! and answers it with the pick-face bin the product is fetched from. The bin comes from double
//! hashing over the 13 bins: home `n mod 13`, then steps of `n mod 13`, skipping the bins in
//! [`OCCUPIED`]. DEFECT: the step is 0 for multiples of 13, and the home bin of `sku-13` (bin 0)
//! is occupied, so its probe never moves and the loop spins until the host's fuel budget ends
//! the invocation (a guest fault). Every other sku of the scenario is answered. The fixed twin
//! is `guests/defects/catalog-guarded`: a step that is never 0, and at most 13 probes.
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
    let bin = pick_bin(n);
    Ok(Product { sku: req.sku, name: stored.name, price_cents: stored.price_cents, bin })
}

/// `sku-<n>` → n.
fn sku_number(sku: &str) -> Option<u32> {
    sku.strip_prefix("sku-")?.parse().ok()
}

/// The bins probed for product `n`, in order: an endless sequence.
fn probes(n: u32) -> impl Iterator<Item = u32> {
    let home = n % BINS;
    let step = n % BINS; // DEFECT: 0 for multiples of 13
    core::iter::successors(Some(home), move |bin| Some((bin + step) % BINS))
}

/// The first free bin on the probe sequence. DEFECT: never returns when the sequence stays on
/// occupied bins (`sku-13`: bin 0 forever).
fn pick_bin(n: u32) -> u32 {
    let mut probe = probes(n);
    loop {
        match probe.next() {
            Some(bin) if !OCCUPIED[bin as usize] => return bin,
            _ => {}
        }
    }
}
