//! `catalog` 1.4.0: the shop's catalog (guests/shop/catalog) whose answers also carry the
//! price's `currency` — a new optional response field, a compatible change callers may ignore
//! (scenarios/shop/shop-rollout.toml rolls it out). The stored records keep 1.3's format, so
//! old and new replicas share the store during the rollout.
#![no_std]

extern crate alloc;

use alloc::string::String;

use fusebench_guest::{AppError, Reply, cache, endpoint, kv};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "catalog-db";
const CACHE: &str = "product-cache";

#[derive(Debug, Deserialize)]
struct ProductQuery {
    sku: String,
}

/// A product as stored (and cached): the format every catalog version reads and writes, so
/// old and new replicas share the store during a rollout.
#[derive(Debug, Serialize, Deserialize)]
struct Product {
    sku: String,
    name: String,
    price_cents: i64,
}

/// A product as this version answers it.
#[derive(Debug, Serialize)]
struct Answer {
    sku: String,
    name: String,
    price_cents: i64,
    /// New in 1.4.0.
    currency: &'static str,
}

impl From<Product> for Answer {
    fn from(p: Product) -> Self {
        Answer { sku: p.sku, name: p.name, price_cents: p.price_cents, currency: "EUR" }
    }
}

endpoint!(get_product, fn(req: ProductQuery) -> Reply<Answer>);
endpoint!(put_product, fn(req: Product) -> Reply<Answer>);

/// GET /products/{sku}: the cache, else the store (then refill the cache).
fn get_product(req: ProductQuery) -> Reply<Answer> {
    if let Ok(Some(cached)) = cache::get(CACHE, &req.sku)
        && let Ok(product) = fusebench_guest::json::from_slice::<Product>(&cached)
    {
        return Ok(product.into());
    }
    let stored = kv::get(DB, &req.sku)
        .map_err(|_| AppError::unavailable("storage"))?
        .ok_or(AppError::new("not_found"))?;
    let product: Product =
        fusebench_guest::json::from_slice(&stored).map_err(|_| AppError::new("corrupt_record"))?;
    // Best effort: a failed refill only means the next read goes to the store again.
    cache::put(CACHE, &req.sku, &stored).ok();
    Ok(product.into())
}

/// PUT /products/{sku}: write the store, then refresh the cache.
fn put_product(req: Product) -> Reply<Answer> {
    if req.price_cents < 0 {
        return Err(AppError::bad_request("price_cents must not be negative"));
    }
    let record = fusebench_guest::json::to_vec(&req).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &req.sku, &record).map_err(|_| AppError::unavailable("storage"))?;
    cache::put(CACHE, &req.sku, &record).ok();
    Ok(req.into())
}
