//! A mesh filter (guests/ABI.md, "Mesh filters"): **API-key authentication**. A request passes
//! when its `x-api-key` header is one of the keys below; otherwise the proxy answers 401 and
//! the request never reaches the service — Envoy's API-key auth as a proxy-wasm plugin would
//! do it. Answers pass unchanged (the module has no `response` handler).
#![no_std]

extern crate alloc;

use fusebench_guest::filter::{Action, Request};
use fusebench_guest::{Reply, endpoint};
use serde_json::json;

#[cfg(test)]
mod tests;

/// The keys issued to clients (`scenarios/mesh/shop-filters.toml` sends them).
pub const KEYS: [&str; 2] = ["key-alice-7f3a", "key-bob-91c2"];

/// The header carrying the key.
pub const HEADER: &str = "x-api-key";

fn request(req: Request) -> Reply<Action> {
    Ok(match req.header(HEADER) {
        None => Action::stop(401, json!({ "error": "unauthorized: no x-api-key header" })),
        Some(key) if KEYS.contains(&key) => Action::pass(),
        Some(_) => Action::stop(401, json!({ "error": "unauthorized: unknown api key" })),
    })
}
endpoint!(request, fn(req: Request) -> Reply<Action>);
