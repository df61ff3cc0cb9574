use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{AppError, CallError, json};

/// What an endpoint answers: a response, or an application error `{"error":"<code>"}`.
pub type Reply<T> = Result<T, AppError>;

/// The acknowledgement `{"ok":true}`, e.g. of a message delivered to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub ok: bool,
}

impl Ack {
    pub const OK: Self = Self { ok: true };
}

/// A handler's result as the UTF-8 JSON bytes the host receives.
pub trait Respond {
    fn into_json(self) -> Vec<u8>;
}

impl<T: Serialize> Respond for Result<T, AppError> {
    fn into_json(self) -> Vec<u8> {
        let encoded = match &self {
            Ok(response) => json::to_vec(response),
            Err(error) => json::to_vec(error),
        };
        // Serialising derived structs cannot fail; a hand-written `Serialize` might.
        encoded.unwrap_or_else(|e| internal_json(&e))
    }
}

/// The answer for a response that does not serialize, out of line (see [`bad_request_json`]).
#[cold]
#[inline(never)]
fn internal_json(e: &serde_json::Error) -> Vec<u8> {
    error_json(&AppError::from_code(format_internal(e)))
}

fn format_internal(e: &serde_json::Error) -> String {
    let mut code = String::from("internal: response does not serialize: ");
    code.push_str(&e.to_string());
    code
}

fn error_json(error: &AppError) -> Vec<u8> {
    // A struct holding one string always serialises.
    json::to_vec(error).unwrap_or_else(|_| br#"{"error":"internal"}"#.to_vec())
}

/// Decodes a request, runs the handler, encodes its answer. Malformed requests answer
/// `{"error":"bad_request: <why>"}` without reaching the handler.
#[doc(hidden)]
pub fn dispatch<Req, Resp>(request: &[u8], handler: fn(Req) -> Resp) -> Vec<u8>
where
    Req: DeserializeOwned,
    Resp: Respond,
{
    match json::from_slice::<Req>(request) {
        Ok(request) => handler(request).into_json(),
        Err(e) => bad_request_json(&e),
    }
}

/// The answer to a request that does not decode, out of line (its formatting would otherwise
/// be paid in fuel by every request).
#[cold]
#[inline(never)]
fn bad_request_json(e: &serde_json::Error) -> Vec<u8> {
    error_json(&AppError::bad_request(e))
}

#[derive(Deserialize)]
struct ErrorProbe {
    error: Option<String>,
}

/// Whether `"error"` occurs in `reply`. Looks only at quotes: on a guest each iteration of a
/// loop costs its whole body in fuel, and a byte-by-byte `windows(7)` comparison is the
/// bigger loop.
pub(crate) fn mentions_error(reply: &[u8]) -> bool {
    let mut at = 0;
    while let Some(offset) = reply[at..].iter().position(|&b| b == b'"') {
        at += offset;
        if reply[at..].starts_with(b"\"error\"") {
            return true;
        }
        at += 1;
    }
    false
}

/// Splits a callee's reply into its application error or the expected response.
pub(crate) fn decode_reply<Resp: DeserializeOwned>(reply: &[u8]) -> Result<Resp, CallError> {
    // A flat reply: scanned once for both questions.
    match json::fast_reply(reply) {
        Some(Ok(response)) => return Ok(response),
        Some(Err(code)) => return Err(CallError::Failed(AppError::from_code(code))),
        None => {}
    }
    slow_decode_reply(reply)
}

/// [`decode_reply`] when the fast path cannot decide, out of line: inlined, its `serde_json`
/// code would be paid in fuel at every call (a function's code outside loops is charged on
/// entry, taken or not).
#[cold]
#[inline(never)]
fn slow_decode_reply<Resp: DeserializeOwned>(reply: &[u8]) -> Result<Resp, CallError> {
    // Only a reply mentioning "error" can be an application error: skip the probe otherwise.
    if mentions_error(reply)
        && let Ok(ErrorProbe { error: Some(code) }) = json::from_slice(reply)
    {
        return Err(CallError::Failed(AppError::from_code(code)));
    }
    json::from_slice(reply).map_err(|e| CallError::BadReply(e.to_string()))
}
