//! The workload: how clients arrive, which endpoints they call, with which request bodies.

use serde::Serialize;

use super::NameRef;
pub use super::journey::{Journey, JourneyStep, StepRef, StopOn};
use super::reader::{Cx, Obj, Value, span_of, type_name};
use crate::diagnostic::Span;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Arrival {
    /// Open loop, exponential inter-arrival times.
    Poisson { rate_rps: f64 },
    /// Open loop, fixed inter-arrival time.
    Constant { rate_rps: f64 },
    /// Open loop, Poisson at `rate_rps` during `on_s`, silent during `off_s`, repeating.
    OnOff { rate_rps: f64, on_s: f64, off_s: f64 },
    /// Open loop, Poisson with a piecewise-constant rate: `(from second, rate)` steps.
    Schedule { steps: Vec<RateStep> },
    /// Closed loop: `users` clients, each waiting for its reply then thinking.
    Closed { users: u32, think_ms: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateStep {
    pub at_s: f64,
    pub rate_rps: f64,
}

/// One entry of the request mix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixEntry {
    pub service: NameRef,
    pub endpoint: NameRef,
    pub weight: f64,
    /// The request body template: JSON whose strings may hold `${...}` generators
    /// (see [`Template`]).
    pub body: serde_json::Value,
    /// Request headers the clients send (what the mesh's WebAssembly filters read, e.g. an API
    /// key). Left out of the serialisation when empty (the canonical form stays what it was).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// Simulated time, in seconds.
    pub duration_s: f64,
    /// The node clients connect from (default: the gateway's node).
    pub origin: Option<NameRef>,
    pub arrival: Arrival,
    pub mix: Vec<MixEntry>,
    /// User journeys: sequences of requests sharing the mix's weights (see [`Journey`]).
    /// Left out of the serialisation when empty, so the canonical form (and the scenario hash
    /// of replay files) of a workload without journeys stays what it was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub journeys: Vec<Journey>,
}

/// A generator inside a body string: `${seq}` (a run-wide counter), `${int A B}` (uniform
/// integer in [A, B]), `${pick a b c}` (one of the words), `${key}` (a fresh idempotency key).
/// A string that is exactly one `${int A B}` or `${seq}` becomes a JSON integer.
///
/// Inside a journey step, `${steps.<step>.<path>}` is a field of an earlier step's answer
/// (`path`: object keys or array indexes, dot-separated); a string that is exactly one such
/// reference becomes the field's JSON value itself (a number stays a number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Template {
    Seq,
    Int { min: i64, max: i64 },
    Pick(Vec<String>),
    Key,
    Step { step: String, path: Vec<String> },
}

impl Template {
    /// Parses every `${...}` in `s`; an error names the first bad generator.
    pub fn parse_all(s: &str) -> Result<Vec<Template>, String> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| format!("unclosed `${{` in \"{s}\""))?;
            out.push(Template::parse_one(&after[..end])?);
            rest = &after[end + 1..];
        }
        Ok(out)
    }

    fn parse_one(expr: &str) -> Result<Template, String> {
        let words: Vec<&str> = expr.split_whitespace().collect();
        match words.as_slice() {
            ["seq"] => Ok(Template::Seq),
            ["key"] => Ok(Template::Key),
            ["int", a, b] => {
                let min = a
                    .parse::<i64>()
                    .map_err(|_| format!("`${{{expr}}}`: `{a}` is not an integer"))?;
                let max = b
                    .parse::<i64>()
                    .map_err(|_| format!("`${{{expr}}}`: `{b}` is not an integer"))?;
                if min > max {
                    return Err(format!("`${{{expr}}}`: {min} > {max}"));
                }
                Ok(Template::Int { min, max })
            }
            ["pick", words @ ..] if !words.is_empty() => {
                Ok(Template::Pick(words.iter().map(|w| (*w).to_owned()).collect()))
            }
            [reference] if reference.starts_with("steps.") => {
                let mut parts = reference["steps.".len()..].split('.').map(str::to_owned);
                let step = parts.next().unwrap_or_default();
                let path: Vec<String> = parts.collect();
                if step.is_empty() || path.is_empty() || path.iter().any(String::is_empty) {
                    return Err(format!(
                        "`${{{expr}}}`: a step reference is `${{steps.<step>.<field>[.<field>...]}}`"
                    ));
                }
                Ok(Template::Step { step, path })
            }
            _ => Err(format!(
                "unknown generator `${{{expr}}}` (known: ${{seq}}, ${{key}}, ${{int A B}}, ${{pick a b ...}}, and in a journey step ${{steps.<step>.<field>}})"
            )),
        }
    }
}

impl Workload {
    /// The range of `duration_s` the parser accepts, in seconds (shared with the replay file's
    /// schedule, which must stay inside what a scenario could declare).
    pub const DURATION_S_RANGE: (f64, f64) = (0.001, 1e7);
    /// The largest arrival rate the parser accepts, in requests per second.
    pub const RATE_RPS_MAX: f64 = 1e9;
    /// The most closed-loop users the parser accepts.
    pub const USERS_MAX: u64 = 10_000_000;

    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Workload> {
        let (lo, hi) = Self::DURATION_S_RANGE;
        let duration_s = o.opt_f64(cx, "duration_s", lo, hi).unwrap_or(60.0);
        let origin = o.opt_str(cx, "origin").map(NameRef::from);
        let arrival = match o.opt_table(cx, "arrival") {
            Some(t) => read_arrival(cx, t),
            None => Some(Arrival::Poisson { rate_rps: 100.0 }),
        };
        let mix: Vec<MixEntry> =
            o.table_list(cx, "mix").into_iter().filter_map(|t| MixEntry::read(cx, t)).collect();
        let journeys: Vec<Journey> =
            o.table_list(cx, "journey").into_iter().filter_map(|t| Journey::read(cx, t)).collect();
        if !o.has("mix") && !o.has("journey") {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("mix"),
                "a workload needs at least one `[[workload.mix]]` entry or `[[workload.journey]]`",
            );
        }
        o.finish(cx);
        Some(Workload { duration_s, origin, arrival: arrival?, mix, journeys })
    }
}

fn read_arrival(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Arrival> {
    #[derive(Clone, Copy)]
    enum K {
        Poisson,
        Constant,
        OnOff,
        Schedule,
        Closed,
    }
    let choices = [
        ("poisson", K::Poisson),
        ("constant", K::Constant),
        ("on-off", K::OnOff),
        ("schedule", K::Schedule),
        ("closed", K::Closed),
    ];
    if !o.has("kind") {
        cx.error(
            "parse.missing-field",
            o.span,
            &o.field("kind"),
            "missing required field `kind` (poisson, constant, on-off, schedule or closed)",
        );
    }
    let kind = o.opt_enum(cx, "kind", &choices)?;
    const RATE_MAX: f64 = Workload::RATE_RPS_MAX;
    let a = match kind {
        K::Poisson => Arrival::Poisson {
            rate_rps: o.req_f64(cx, "rate_rps", 1e-6, RATE_MAX, "requests per second")?,
        },
        K::Constant => Arrival::Constant {
            rate_rps: o.req_f64(cx, "rate_rps", 1e-6, RATE_MAX, "requests per second")?,
        },
        K::OnOff => Arrival::OnOff {
            rate_rps: o.req_f64(cx, "rate_rps", 1e-6, RATE_MAX, "requests per second")?,
            on_s: o.req_f64(cx, "on_s", 0.001, 1e7, "seconds")?,
            off_s: o.req_f64(cx, "off_s", 0.0, 1e7, "seconds")?,
        },
        K::Schedule => {
            let steps: Vec<RateStep> = o
                .table_list(cx, "steps")
                .into_iter()
                .filter_map(|mut s| {
                    let at_s = s.req_f64(cx, "at_s", 0.0, 1e7, "seconds from the start");
                    let rate_rps = s.req_f64(cx, "rate_rps", 0.0, RATE_MAX, "requests per second");
                    s.finish(cx);
                    Some(RateStep { at_s: at_s?, rate_rps: rate_rps? })
                })
                .collect();
            if steps.is_empty() || steps.windows(2).any(|w| w[0].at_s >= w[1].at_s) {
                cx.error(
                    "parse.value",
                    o.span,
                    &o.field("steps"),
                    "`steps` must be a non-empty list with increasing `at_s`",
                );
                return None;
            }
            Arrival::Schedule { steps }
        }
        K::Closed => Arrival::Closed {
            users: u32::try_from(o.req_u64(
                cx,
                "users",
                1,
                Workload::USERS_MAX,
                "number of clients",
            )?)
            .unwrap_or(u32::MAX),
            think_ms: o.opt_f64(cx, "think_ms", 0.0, 3.6e6).unwrap_or(0.0),
        },
    };
    o.finish(cx);
    Some(a)
}

impl MixEntry {
    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<MixEntry> {
        let service = o.req_str(cx, "service", "the service called");
        let endpoint = o.req_str(cx, "endpoint", "the endpoint called");
        let weight = o.opt_f64(cx, "weight", 0.0, 1e9).unwrap_or(1.0);
        let body = match o.get("body") {
            Some(v) => to_json(cx, v, &o.field("body"))?,
            None => serde_json::Value::Object(serde_json::Map::new()),
        };
        let headers = o.opt_table(cx, "headers").map(|h| read_headers(cx, &h)).unwrap_or_default();
        let span = o.span;
        o.finish(cx);
        Some(MixEntry {
            service: service?.into(),
            endpoint: endpoint?.into(),
            weight,
            body,
            headers,
            span,
        })
    }
}

/// `headers = { name = "value", ... }`: string values; names are lower-cased (HTTP header
/// names are case-insensitive).
fn read_headers(cx: &mut Cx<'_>, h: &Obj<'_, '_>) -> std::collections::BTreeMap<String, String> {
    let mut headers = std::collections::BTreeMap::new();
    for (name, span, value) in h.entries() {
        match value.get_ref().as_str() {
            Some(v) => {
                headers.insert(name.to_ascii_lowercase(), v.to_owned());
            }
            None => cx.error(
                "parse.type",
                span,
                &h.field(name),
                format!("header `{name}` must be a string, not {}", type_name(value.get_ref())),
            ),
        }
    }
    headers
}

/// Converts a TOML value to JSON, checking `${...}` generators in strings. A step reference
/// (`${steps...}`) is refused: only a journey step has earlier steps.
pub(crate) fn to_json(cx: &mut Cx<'_>, v: &Value<'_>, path: &str) -> Option<serde_json::Value> {
    to_json_in(cx, v, path, &mut None)
}

/// The steps a journey step's body may refer to, and the references found in it.
pub(crate) struct StepScope<'e> {
    /// The names of the earlier steps of the journey, in order.
    pub earlier: &'e [String],
    /// The steps after this one and this one itself (for a clearer error).
    pub later: &'e [String],
    pub refs: Vec<StepRef>,
}

/// [`to_json`] inside a journey step: `${steps.X...}` must name an earlier step; every
/// reference is collected (with its place) into `scope` for the contract check.
pub(crate) fn to_json_in(
    cx: &mut Cx<'_>,
    v: &Value<'_>,
    path: &str,
    scope: &mut Option<StepScope<'_>>,
) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    use toml::de::DeValue as T;
    Some(match v.get_ref() {
        T::String(s) => {
            let templates = match Template::parse_all(s) {
                Ok(t) => t,
                Err(e) => {
                    cx.error("parse.template", span_of(v), path, e);
                    return None;
                }
            };
            for t in templates {
                let Template::Step { step, path: fields } = t else { continue };
                let Some(sc) = scope.as_mut() else {
                    let msg = format!(
                        "`${{steps.{step}...}}` refers to an earlier journey step's answer; only a `[[workload.journey.step]]` body has earlier steps"
                    );
                    cx.error("parse.template", span_of(v), path, msg);
                    return None;
                };
                if !sc.earlier.contains(&step) {
                    let why = if sc.later.contains(&step) {
                        format!(
                            "step `{step}` is not earlier than this one: a step may use only the answers of the steps before it"
                        )
                    } else {
                        format!("unknown step `{step}`")
                    };
                    let hint = if sc.earlier.is_empty() {
                        "this is the journey's first step: no answer to refer to yet".to_owned()
                    } else {
                        format!("earlier steps: {}", sc.earlier.join(", "))
                    };
                    cx.error_hint("parse.unknown-reference", span_of(v), path, why, Some(hint));
                    return None;
                }
                sc.refs.push(StepRef {
                    step,
                    path: fields,
                    field: path.to_owned(),
                    span: span_of(v),
                });
            }
            J::String(s.to_string())
        }
        T::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => J::from(n),
            Err(_) => {
                cx.error("parse.range", span_of(v), path, "integer out of range");
                return None;
            }
        },
        T::Float(f) => {
            match f.as_str().parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                Some(n) => J::Number(n),
                None => {
                    cx.error("parse.range", span_of(v), path, "a body number must be finite");
                    return None;
                }
            }
        }
        T::Boolean(b) => J::Bool(*b),
        T::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.push(to_json_in(cx, item, &format!("{path}[{i}]"), scope)?);
            }
            J::Array(out)
        }
        T::Table(t) => {
            let mut map = serde_json::Map::new();
            for (k, item) in t {
                let key: &str = k.get_ref().as_ref();
                map.insert(key.to_owned(), to_json_in(cx, item, &format!("{path}.{key}"), scope)?);
            }
            J::Object(map)
        }
        other @ T::Datetime(_) => {
            cx.error(
                "parse.type",
                span_of(v),
                path,
                format!("a request body cannot hold {}", type_name(other)),
            );
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_reject_nonsense() {
        assert_eq!(
            Template::parse_all("cust-${int 1 50}"),
            Ok(vec![Template::Int { min: 1, max: 50 }])
        );
        assert_eq!(Template::parse_all("${key}-${seq}"), Ok(vec![Template::Key, Template::Seq]));
        assert!(Template::parse_all("${int 5 1}").is_err());
        assert!(Template::parse_all("${uuid}").is_err());
        assert!(Template::parse_all("${seq").is_err());
        assert_eq!(Template::parse_all("plain"), Ok(vec![]));
        assert_eq!(
            Template::parse_all("id-${steps.order.order_id}"),
            Ok(vec![Template::Step { step: "order".into(), path: vec!["order_id".into()] }])
        );
        assert_eq!(
            Template::parse_all("${steps.list.items.0.sku}"),
            Ok(vec![Template::Step {
                step: "list".into(),
                path: vec!["items".into(), "0".into(), "sku".into()]
            }])
        );
        assert!(Template::parse_all("${steps.order}").is_err());
        assert!(Template::parse_all("${steps..x}").is_err());
    }
}
