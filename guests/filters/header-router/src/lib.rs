//! A mesh filter (guests/ABI.md, "Mesh filters"): a **header-based router**. It writes the
//! version a request should go to in the `x-route` header — `v2` for requests carrying
//! `x-canary: true`, `v1` for every other — the header a canary split routes on (Istio's
//! `match: headers` on a VirtualService route). Requests already carrying an `x-route` keep it
//! (an upstream proxy chose). Answers pass unchanged (no `response` handler).
#![no_std]

extern crate alloc;

use alloc::borrow::ToOwned;

use fusebench_guest::filter::{Action, Request};
use fusebench_guest::{Reply, endpoint};

#[cfg(test)]
mod tests;

/// The header the choice is written to.
pub const ROUTE: &str = "x-route";

fn request(req: Request) -> Reply<Action> {
    if req.header(ROUTE).is_some() {
        return Ok(Action::pass());
    }
    let version = if req.header("x-canary") == Some("true") { "v2" } else { "v1" };
    let mut headers = req.headers;
    headers.insert(ROUTE.to_owned(), version.to_owned());
    Ok(Action::with_headers(headers))
}
endpoint!(request, fn(req: Request) -> Reply<Action>);
