use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use core::fmt;

use serde::Serialize;

/// A negative result code of a `fusebench.*` import (guests/ABI.md, "Error codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// `-1`: not found (an error only where absence is not a normal answer, e.g. `call`).
    NotFound,
    /// `-2`: the capability is not granted, or the store is not owned/readable.
    Denied,
    /// `-3`: timeout, partition, crashed replica or open circuit.
    Unavailable,
    /// `-4`: bad UTF-8 name, unknown store/channel/service/endpoint.
    InvalidArgument,
    /// `-5`: the callee's contract rejected the request.
    Rejected,
    /// Any other negative code (a newer host than this SDK).
    Other(i64),
}

impl HostError {
    /// The error for a negative code.
    #[must_use]
    pub fn from_code(code: i64) -> Self {
        match code {
            -1 => Self::NotFound,
            -2 => Self::Denied,
            -3 => Self::Unavailable,
            -4 => Self::InvalidArgument,
            -5 => Self::Rejected,
            other => Self::Other(other),
        }
    }

    /// The ABI's code for this error.
    #[must_use]
    pub fn code(self) -> i64 {
        match self {
            Self::NotFound => -1,
            Self::Denied => -2,
            Self::Unavailable => -3,
            Self::InvalidArgument => -4,
            Self::Rejected => -5,
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::Denied => f.write_str("denied"),
            Self::Unavailable => f.write_str("unavailable"),
            Self::InvalidArgument => f.write_str("invalid argument"),
            Self::Rejected => f.write_str("rejected by the callee's contract"),
            Self::Other(code) => write!(f, "host error {code}"),
        }
    }
}

impl core::error::Error for HostError {}

/// An application-level failure: the response `{"error":"<code>"}`. Not a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppError {
    #[serde(rename = "error")]
    code: Cow<'static, str>,
}

impl AppError {
    /// An error with a fixed code, e.g. `AppError::new("not_found")`.
    #[must_use]
    pub const fn new(code: &'static str) -> Self {
        Self { code: Cow::Borrowed(code) }
    }

    /// An error with a computed code.
    #[must_use]
    pub fn from_code(code: String) -> Self {
        Self { code: Cow::Owned(code) }
    }

    /// `bad_request: <why>`, the answer to a request that does not match the endpoint.
    #[must_use]
    #[cold]
    #[inline(never)]
    pub fn bad_request(why: impl fmt::Display) -> Self {
        Self::from_code(format!("bad_request: {why}"))
    }

    /// `<what>_unavailable`, e.g. `catalog_unavailable` for a failed call to `catalog`.
    #[must_use]
    #[cold]
    #[inline(never)]
    pub fn unavailable(what: &str) -> Self {
        Self::from_code(format!("{what}_unavailable"))
    }

    /// The code as it appears in the response.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl core::error::Error for AppError {}

/// Why [`crate::call`] returned no response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The host did not deliver a reply (negative code).
    Host(HostError),
    /// The callee answered with an application error, `{"error":"<code>"}`.
    Failed(AppError),
    /// The reply was neither an application error nor the expected response.
    BadReply(String),
}

impl From<HostError> for CallError {
    fn from(error: HostError) -> Self {
        Self::Host(error)
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host(e) => write!(f, "call failed: {e}"),
            Self::Failed(e) => write!(f, "callee answered error {e}"),
            Self::BadReply(why) => write!(f, "unexpected reply: {why}"),
        }
    }
}

impl core::error::Error for CallError {}
