//! Mesh filters written in Rust (guests/ABI.md, "Mesh filters"): what the proxy hands a filter
//! ([`Request`], the JSON view of one request or answer) and what a filter answers
//! ([`Action`]). A filter is two plain functions exported with [`endpoint!`](crate::endpoint)
//! as `request` (and, optionally, `response`):
//!
//! ```
//! use fusebench_guest::Reply;
//! use fusebench_guest::filter::{Action, Request};
//!
//! /// Refuses requests without a `x-tenant` header.
//! fn request(req: Request) -> Reply<Action> {
//!     Ok(match req.header("x-tenant") {
//!         Some(_) => Action::pass(),
//!         None => Action::stop(403, serde_json::json!({ "error": "no tenant" })),
//!     })
//! }
//! fusebench_guest::endpoint!(request, fn(req: Request) -> Reply<Action>);
//!
//! let reply = fusebench_guest::fake::invoke(request, r#"{"phase":"request","proxy":"gateway","service":"s","endpoint":"e","headers":{},"body":{}}"#);
//! assert_eq!(reply, r#"{"action":"stop","status":403,"body":{"error":"no tenant"}}"#);
//! ```

use alloc::collections::BTreeMap;
use alloc::string::String;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The proxy's view of one request (phase `request`) or of the answer to it (phase
/// `response`, with `outcome`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Request {
    /// `request` or `response`.
    pub phase: String,
    /// `gateway`, or the meshed service whose sidecar runs the filter.
    pub proxy: String,
    /// The destination service and endpoint.
    pub service: String,
    pub endpoint: String,
    /// Header names are lower-case.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request's (or the answer's) JSON body.
    #[serde(default)]
    pub body: Value,
    /// The answer's outcome (`ok`, `app-error`, …), in phase `response` only.
    #[serde(default)]
    pub outcome: Option<String>,
}

impl Request {
    /// A header's value (names are lower-case).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What a filter answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Go on, with the headers and/or the body replaced when given.
    Continue {
        #[serde(skip_serializing_if = "Option::is_none")]
        headers: Option<BTreeMap<String, String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
    },
    /// Answer the caller here with `status` (400..=599) and `body`; never forwarded.
    Stop {
        status: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
    },
}

impl Action {
    /// Go on unchanged.
    #[must_use]
    pub fn pass() -> Self {
        Action::Continue { headers: None, body: None }
    }

    /// Go on with these headers (all of them: the request's are replaced).
    #[must_use]
    pub fn with_headers(headers: BTreeMap<String, String>) -> Self {
        Action::Continue { headers: Some(headers), body: None }
    }

    /// Answer here.
    #[must_use]
    pub fn stop(status: u16, body: Value) -> Self {
        Action::Stop { status, body: Some(body) }
    }
}
