//! Properties written in Rust: a checker module (guests/ABI.md, "Property checkers") judges a
//! run from its trace, one line at a time, in the services' sandbox.
//!
//! A checker is a type implementing [`Checker`]; [`property!`](crate::property) exports it as
//! `handle_event` and `handle_end`. One value of it lives for the whole run (the host keeps one
//! instance), so it keeps whatever state the property needs between lines:
//!
//! ```
//! use fusebench_guest::property::{Checker, End, Line};
//!
//! /// No answer is ever `unavailable`.
//! #[derive(Default)]
//! struct NeverUnavailable {
//!     answers: u64,
//! }
//!
//! impl Checker for NeverUnavailable {
//!     fn event(&mut self, line: &Line) -> Option<String> {
//!         if line.ev() != "response" {
//!             return None;
//!         }
//!         self.answers += 1;
//!         (line.str("outcome") == Some("unavailable")).then(|| "an answer was unavailable".into())
//!     }
//!     fn end(&mut self) -> End {
//!         End::exercised_if(self.answers > 0, "no request was answered")
//!     }
//! }
//! fusebench_guest::property!(NeverUnavailable); // on wasm32: export the two handlers
//!
//! // Natively, `run` feeds lines as the host does:
//! let run = fusebench_guest::property::run::<NeverUnavailable>([
//!     r#"{"t":5,"ev":"response","outcome":"ok"}"#,
//!     r#"{"t":9,"ev":"response","outcome":"unavailable"}"#,
//! ]);
//! assert_eq!(run.violations, [(9, "an answer was unavailable".to_string())]);
//! assert!(run.end.exercised);
//! ```

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;
use serde_json::Value;

/// A property judged line by line over a run's trace.
pub trait Checker: Default + 'static {
    /// Called with each trace line, in order; `Some(what broke)` is a violation dated at the
    /// line's `t`.
    fn event(&mut self, line: &Line) -> Option<String>;

    /// Called once after the last line, before [`Checker::end`], with the stores' final state
    /// (what `handle_end` is handed): for properties of where the run ended rather than how it
    /// got there. Ignored unless a checker overrides it.
    fn state(&mut self, stores: &Stores) {
        let _ = stores;
    }

    /// Called once after the last line: whether anything the property judges happened, and
    /// any findings only the whole run shows.
    fn end(&mut self) -> End;
}

/// The state snapshot after a run's last event: store → key → value, each key-value store's
/// live keys at replica 0 (a strong store's primary, the replica an eventual store's copies
/// converge with), as text.
pub type Stores = BTreeMap<String, BTreeMap<String, String>>;

/// What `handle_end` is handed (guests/ABI.md).
#[derive(Debug, Default, serde::Deserialize)]
struct EndInput {
    #[serde(default)]
    stores: Stores,
}

/// One trace line (the format `fusebench run --out` writes): `t` in ns, `ev` the event kind,
/// the event's fields.
#[derive(Debug, Clone)]
pub struct Line {
    value: Value,
}

impl Line {
    /// Reads one line of JSON.
    ///
    /// # Errors
    /// The line is not a JSON object.
    pub fn parse(text: &[u8]) -> Result<Line, String> {
        match serde_json::from_slice::<Value>(text) {
            Ok(value) if value.is_object() => Ok(Line { value }),
            Ok(_) => Err("a trace line is not a JSON object".to_string()),
            Err(e) => Err(alloc::format!("a trace line is not JSON: {e}")),
        }
    }

    /// The event's time, in ns since the start of the run.
    #[must_use]
    pub fn t(&self) -> u64 {
        self.value["t"].as_u64().unwrap_or(0)
    }

    /// The event kind (`arrival`, `response`, `store_write`, …).
    #[must_use]
    pub fn ev(&self) -> &str {
        self.value["ev"].as_str().unwrap_or("")
    }

    /// A text field (`service`, `key`, `outcome`, …); `None` when absent or not text.
    #[must_use]
    pub fn str(&self, field: &str) -> Option<&str> {
        self.value.get(field).and_then(Value::as_str)
    }

    /// A numeric field (`req`, `version`, `inv`, …).
    #[must_use]
    pub fn u64(&self, field: &str) -> Option<u64> {
        self.value.get(field).and_then(Value::as_u64)
    }

    /// A field holding a JSON document as text (`body`, `value`, `input`, `output`), parsed;
    /// `None` when absent or not JSON.
    #[must_use]
    pub fn json(&self, field: &str) -> Option<Value> {
        self.str(field).and_then(|s| serde_json::from_str(s).ok())
    }

    /// The whole line.
    #[must_use]
    pub fn value(&self) -> &Value {
        &self.value
    }
}

/// What a checker says after the last line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct End {
    /// Something the property judges happened: `false` makes the verdict *not exercised*
    /// (unless a violation or finding fails it).
    pub exercised: bool,
    /// Findings only the whole run shows; any fails the verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Context shown with the verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl End {
    /// Exercised when `exercised`; otherwise not, with `why` as a note.
    #[must_use]
    pub fn exercised_if(exercised: bool, why: &str) -> End {
        let notes = if exercised { Vec::new() } else { alloc::vec![why.to_string()] };
        End { exercised, findings: Vec::new(), notes }
    }
}

/// The answer to one `handle_event` call: `{}` or `{"violation": "…"}`. A line that cannot be
/// read is a violation naming why: a checker that cannot read the trace cannot pass it.
pub fn event_reply<C: Checker>(checker: &mut C, line: &[u8]) -> Vec<u8> {
    let violation = match Line::parse(line) {
        Ok(line) => checker.event(&line),
        Err(why) => Some(why),
    };
    match violation {
        None => b"{}".to_vec(),
        Some(what) => serde_json::to_vec(&serde_json::json!({ "violation": what }))
            .unwrap_or_else(|_| b"{\"violation\":\"(unprintable)\"}".to_vec()),
    }
}

/// The answer to the `handle_end` call, handed `input` (the stores' final state). Input that
/// cannot be read is a finding: a checker that cannot see the state cannot pass it.
pub fn end_reply<C: Checker>(checker: &mut C, input: &[u8]) -> Vec<u8> {
    let end = match serde_json::from_slice::<EndInput>(input) {
        Ok(input) => {
            checker.state(&input.stores);
            checker.end()
        }
        Err(e) => {
            let mut end = checker.end();
            end.findings.push(format!("the end input could not be read: {e}"));
            end
        }
    };
    serde_json::to_vec(&end)
        .unwrap_or_else(|_| b"{\"exercised\":true,\"findings\":[\"(unprintable)\"]}".to_vec())
}

/// A checker's judgement of a whole trace, as the host would reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// `(t, what)` for every violating line.
    pub violations: Vec<(u64, String)>,
    pub end: End,
}

/// Feeds `lines` to a fresh checker, then ends it with empty stores: for native tests of a
/// checker.
pub fn run<'a, C: Checker>(lines: impl IntoIterator<Item = &'a str>) -> Run {
    run_with_state::<C>(lines, &Stores::new())
}

/// [`run`], ending with `stores` as the final state.
pub fn run_with_state<'a, C: Checker>(
    lines: impl IntoIterator<Item = &'a str>,
    stores: &Stores,
) -> Run {
    let mut checker = C::default();
    let mut violations = Vec::new();
    for text in lines {
        let violation = match Line::parse(text.as_bytes()) {
            Ok(line) => checker.event(&line).map(|what| (line.t(), what)),
            Err(why) => Some((0, why)),
        };
        violations.extend(violation);
    }
    checker.state(stores);
    Run { violations, end: checker.end() }
}
