//! `catalog`: products, read cache-aside (scenarios/shop/SERVICES.md).
//!
//! Store `catalog-db`: key `<sku>` holds the product as JSON. Cache `product-cache` holds the
//! same bytes under the same key. A failing or corrupt cache only costs a store read; a failing
//! cache refresh is ignored (the entry expires by the scenario's TTL).
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

#[derive(Debug, Serialize, Deserialize)]
struct Product {
    sku: String,
    name: String,
    price_cents: i64,
}

endpoint!(get_product, fn(req: ProductQuery) -> Reply<Product>);
endpoint!(put_product, fn(req: Product) -> Reply<Product>);

/// GET /products/{sku}: the cache, else the store (then refill the cache).
fn get_product(req: ProductQuery) -> Reply<Product> {
    if let Ok(Some(cached)) = cache::get(CACHE, &req.sku)
        && let Ok(product) = fusebench_guest::json::from_slice(&cached)
    {
        return Ok(product);
    }
    let stored = kv::get(DB, &req.sku)
        .map_err(|_| AppError::unavailable("storage"))?
        .ok_or(AppError::new("not_found"))?;
    let product =
        fusebench_guest::json::from_slice(&stored).map_err(|_| AppError::new("corrupt_record"))?;
    // Best effort: a failed refill only means the next read goes to the store again.
    cache::put(CACHE, &req.sku, &stored).ok();
    Ok(product)
}

/// PUT /products/{sku}: write the store, then refresh the cache.
fn put_product(req: Product) -> Reply<Product> {
    if req.price_cents < 0 {
        return Err(AppError::bad_request("price_cents must not be negative"));
    }
    let record = fusebench_guest::json::to_vec(&req).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &req.sku, &record).map_err(|_| AppError::unavailable("storage"))?;
    cache::put(CACHE, &req.sku, &record).ok();
    Ok(req)
}
