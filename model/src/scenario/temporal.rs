//! Temporal properties the scenario states itself (`[[temporal]]`): Dwyer's property
//! specification patterns (absence, existence, universality, precedence, response) plus
//! uniqueness, each within a scope, over the events of a run's trace, with an optional time
//! bound.
//!
//! A property names events with a [`Selector`] (`{ on = "answer", service = "orders", endpoint =
//! "create_order", outcome = "ok", where = { "body.status" = "placed" } }`) and reads their
//! fields with a [`FieldPath`]: `body.order_id` is field `order_id` of the event's parsed JSON
//! body, `key` the store key of a write, `msg` a message id (the full list: [`Root`]). The
//! model only parses and resolves names; the simulator judges the trace
//! (`sim/src/properties/temporal.rs`).

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::Serialize;
use toml::de::DeValue;

use super::reader::{Cx, Obj, Value, span_of, type_name};
use super::{NameRef, Scenario};
use crate::diagnostic::{Diagnostic, Span, did_you_mean};

/// One `[[temporal]]` property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Temporal {
    /// Its property id in reports (letters, digits, `-` and `_`).
    pub name: String,
    /// What it asserts, in the author's words (reports show it; a generated one otherwise).
    pub description: String,
    pub pattern: Pattern,
    pub scope: Scope,
    #[serde(skip)]
    pub span: Span,
}

/// The pattern, after Dwyer, Avrunin and Corbett (ICSE 1999), over events of the trace. Each
/// holds independently in every interval of the [`Scope`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "pattern", rename_all = "kebab-case")]
pub enum Pattern {
    /// Dwyer's *absence*: no `event` happens in the scope.
    Absence { event: Selector },
    /// Dwyer's *existence*: at least one `event` happens in the scope.
    Existence { event: Selector },
    /// Dwyer's *universality* over events: every `event` in the scope satisfies `holds`.
    Universality { event: Selector, holds: Vec<Condition> },
    /// Dwyer's *precedence* (S precedes P): every `event` (P) is preceded, in the same scope
    /// interval, by a `cause` (S) correlated by `same`.
    Precedence { event: Selector, cause: Selector, same: Vec<Same> },
    /// Dwyer's *response* (S responds to P), bounded when `within_ms` is given: every `trigger`
    /// (P) is followed by a `response` (S) correlated by `same`, within `within_ms`.
    Response { trigger: Selector, response: Selector, same: Vec<Same>, within_ms: Option<f64> },
    /// Uniqueness (absence of a second P while the first is open): no two `event`s carry the
    /// same value at `key` while both are open; an event is open until an `until` event
    /// correlated with it by `same` (forever without `until`).
    Uniqueness { event: Selector, key: FieldPath, until: Option<Selector>, same: Vec<Same> },
}

impl Pattern {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Pattern::Absence { .. } => "absence",
            Pattern::Existence { .. } => "existence",
            Pattern::Universality { .. } => "universality",
            Pattern::Precedence { .. } => "precedence",
            Pattern::Response { .. } => "response",
            Pattern::Uniqueness { .. } => "uniqueness",
        }
    }
}

/// Where in the run a pattern must hold (Dwyer's scopes). An interval opens just after its
/// `from` event and closes just before its `to` event; a `from` while an interval is open
/// is ignored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Scope {
    /// The whole run.
    Global,
    /// From the start of the run up to the first `to`; no interval when `to` never happens.
    Before { to: Selector },
    /// From the first `from` to the end of the run.
    After { from: Selector },
    /// Each interval from a `from` to the next `to`; an interval with no `to` is not judged.
    Between { from: Selector, to: Selector },
    /// Like `between`, but an interval still open at the end of the run is judged too.
    AfterUntil { from: Selector, to: Selector },
}

/// The kinds of trace event a selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum On {
    /// A request a service receives (trace `invocation_start`): from a client, a call of
    /// another service or a message delivery.
    Request,
    /// A service's answer (trace `invocation_end`), with its outcome and body.
    Answer,
    /// A client request reaching the gateway (trace `arrival`).
    ClientRequest,
    /// The answer a client got (trace `response`).
    ClientAnswer,
    /// A message published (trace `publish`).
    Publish,
    /// A message handed to a consumer group (trace `deliver`); its body is the published one.
    Deliver,
    /// A key-value store write (trace `store_write`); its body is the value written.
    Write,
    /// A planned or injected fault starts (trace `fault_start`).
    Fault,
    /// A fault ends (trace `fault_end`).
    Heal,
}

const ON: &[(&str, On)] = &[
    ("request", On::Request),
    ("answer", On::Answer),
    ("client-request", On::ClientRequest),
    ("client-answer", On::ClientAnswer),
    ("publish", On::Publish),
    ("deliver", On::Deliver),
    ("write", On::Write),
    ("fault", On::Fault),
    ("heal", On::Heal),
];

impl On {
    #[must_use]
    pub fn name(self) -> &'static str {
        ON.iter().find(|(_, o)| *o == self).map_or("?", |(n, _)| n)
    }

    /// The selector fields that apply to this kind of event.
    fn fields(self) -> &'static [&'static str] {
        match self {
            On::Request | On::ClientRequest => &["service", "endpoint"],
            On::Answer | On::ClientAnswer => &["service", "endpoint", "outcome"],
            On::Publish => &["channel", "service"],
            On::Deliver => &["channel", "group"],
            On::Write => &["store", "key", "service"],
            On::Fault | On::Heal => &["kind"],
        }
    }
}

/// Which events of the trace a property talks about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selector {
    pub on: On,
    /// The service receiving (request), answering (answer), publishing or writing.
    pub service: Option<NameRef>,
    pub endpoint: Option<NameRef>,
    /// `ok` or an error outcome.
    pub outcome: Option<String>,
    pub channel: Option<NameRef>,
    /// A consumer group.
    pub group: Option<String>,
    pub store: Option<NameRef>,
    /// A store key, exactly.
    pub key: Option<String>,
    /// A fault kind (`crash`, `partition`, …).
    pub kind: Option<String>,
    /// Field conditions, all of which must hold (`where`).
    pub conditions: Vec<Condition>,
    /// The dotted field of this selector (for diagnostics).
    #[serde(skip)]
    pub field: String,
    #[serde(skip)]
    pub span: Span,
}

/// What an event's field path can start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Root {
    /// The parsed JSON body: request input, answer output, message, written value.
    Body,
    /// Of an answer or client answer: the parsed body of the request it answers (an answer
    /// body need not repeat the fields that identify the work, e.g. `{"ok": true}`).
    Request,
    Service,
    Endpoint,
    Outcome,
    Channel,
    Group,
    Store,
    Key,
    Kind,
    /// The request id (request, answer, client-request, client-answer).
    Req,
    /// The invocation id (request, answer, publish, write).
    Inv,
    /// The message id (publish, deliver).
    Msg,
}

const ROOTS: &[(&str, Root)] = &[
    ("body", Root::Body),
    ("request", Root::Request),
    ("service", Root::Service),
    ("endpoint", Root::Endpoint),
    ("outcome", Root::Outcome),
    ("channel", Root::Channel),
    ("group", Root::Group),
    ("store", Root::Store),
    ("key", Root::Key),
    ("kind", Root::Kind),
    ("req", Root::Req),
    ("inv", Root::Inv),
    ("msg", Root::Msg),
];

/// A path to a value of an event: a [`Root`], then (under `body` and `request` only) object
/// fields or array indices separated by dots: `body.items.0.sku`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldPath {
    pub root: Root,
    pub segments: Vec<String>,
    /// As written.
    pub text: String,
}

impl FieldPath {
    /// Parses `text`; the error says what is wrong with it (and a hint when a root is
    /// misspelt).
    ///
    /// # Errors
    /// An empty path or segment, an unknown root, or segments after a root other than `body`.
    pub fn parse(text: &str) -> Result<FieldPath, (String, Option<String>)> {
        let mut parts = text.split('.');
        let first = parts.next().unwrap_or_default();
        let Some((_, root)) = ROOTS.iter().find(|(n, _)| *n == first) else {
            let names: Vec<&str> = ROOTS.iter().map(|(n, _)| *n).collect();
            let hint = did_you_mean(first, names.iter().copied())
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| format!("a path starts with one of: {}", names.join(", ")));
            return Err((format!("`{text}` does not start with a known event field"), Some(hint)));
        };
        let segments: Vec<String> = parts.map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err((format!("`{text}` has an empty segment"), None));
        }
        if !matches!(root, Root::Body | Root::Request) && !segments.is_empty() {
            return Err((
                format!(
                    "`{first}` is a plain value; only `body` and `request` have fields (`{text}`)"
                ),
                Some(format!("did you mean `body.{}`?", segments.join("."))),
            ));
        }
        Ok(FieldPath { root: *root, segments, text: text.to_owned() })
    }
}

/// A comparison operator of a field condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The string value starts with the given text.
    Prefix,
    /// The field is present (`true`) or absent (`false`).
    Exists,
}

const OPS: &[(&str, Op)] = &[
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("lt", Op::Lt),
    ("le", Op::Le),
    ("gt", Op::Gt),
    ("ge", Op::Ge),
    ("prefix", Op::Prefix),
    ("exists", Op::Exists),
];

/// `path op value`: `"body.status" = "paid"` (equality) or `"body.total" = { gt = 100 }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub path: FieldPath,
    pub op: Op,
    pub value: serde_json::Value,
}

/// Correlation of two events: the value at `first` of the first event (trigger, judged event)
/// equals the value at `second` of the other one (response, cause, closing event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Same {
    pub first: FieldPath,
    pub second: FieldPath,
}

const PATTERNS: &[&str] =
    &["absence", "existence", "universality", "precedence", "response", "uniqueness"];
const SCOPES: &[&str] = &["global", "before", "after", "between", "after-until"];

impl Temporal {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Temporal> {
        let name = o.req_str(cx, "name", "the property's id");
        if let Some((n, span)) = &name
            && (n.is_empty()
                || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            let msg =
                format!("temporal property name `{n}` may hold only letters, digits, `-` and `_`");
            cx.error("parse.value", *span, &o.field("name"), msg);
        }
        let description = o.opt_str(cx, "description").map(|d| d.0).unwrap_or_default();
        let pattern = o.req_str(
            cx,
            "pattern",
            "absence, existence, universality, precedence, response or uniqueness",
        );
        let pattern = pattern.and_then(|(p, span)| {
            if PATTERNS.contains(&p.as_str()) {
                return Some(p);
            }
            let hint =
                did_you_mean(&p, PATTERNS.iter().copied()).map(|n| format!("did you mean `{n}`?"));
            let msg = format!("`pattern` = \"{p}\" is not one of: {}", PATTERNS.join(", "));
            cx.error_hint("parse.value", span, &o.field("pattern"), msg, hint);
            None
        });
        let scope = read_scope(cx, &mut o);
        let sel = |cx: &mut Cx<'_>, o: &mut Obj<'_, '_>, key: &'static str, what: &str| {
            let v = o.get(key);
            let field = o.field(key);
            match v {
                Some(v) => read_selector(cx, v, &field),
                None => {
                    let msg = format!("missing required field `{key}` ({what})");
                    cx.error("parse.missing-field", o.span, &field, msg);
                    None
                }
            }
        };
        let pattern = match pattern.as_deref() {
            Some("absence") => sel(cx, &mut o, "event", "the event that must not happen")
                .map(|event| Pattern::Absence { event }),
            Some("existence") => sel(cx, &mut o, "event", "the event that must happen")
                .map(|event| Pattern::Existence { event }),
            Some("universality") => {
                let event = sel(cx, &mut o, "event", "the events that must all satisfy `holds`");
                let holds = match o.get("holds") {
                    Some(v) => read_conditions(cx, v, &o.field("holds")),
                    None => {
                        let msg =
                            "missing required field `holds` (the conditions every event satisfies)";
                        cx.error("parse.missing-field", o.span, &o.field("holds"), msg);
                        None
                    }
                };
                Some(Pattern::Universality { event: event?, holds: holds? })
            }
            Some("precedence") => {
                let event = sel(cx, &mut o, "event", "the event that needs a cause before it");
                let cause = sel(cx, &mut o, "cause", "the event that must come first");
                let same = read_same(cx, &mut o);
                Some(Pattern::Precedence { event: event?, cause: cause?, same: same? })
            }
            Some("response") => {
                let trigger = sel(cx, &mut o, "trigger", "the event that needs a response");
                let response = sel(cx, &mut o, "response", "the event that must follow");
                let same = read_same(cx, &mut o);
                let within_ms = o.opt_f64(cx, "within_ms", 0.001, 3.6e9);
                Some(Pattern::Response {
                    trigger: trigger?,
                    response: response?,
                    same: same?,
                    within_ms,
                })
            }
            Some("uniqueness") => {
                let event = sel(cx, &mut o, "event", "the events whose `key` must be unique");
                let key = o
                    .req_str(cx, "key", "the field path whose value must be unique")
                    .and_then(|(k, span)| path_or_error(cx, &k, span, &o.field("key")));
                let until_v = o.get("until");
                let until = until_v.and_then(|v| read_selector(cx, v, &o.field("until")));
                let same = read_same(cx, &mut o);
                let same = same?;
                if let Some(v) = until_v
                    && same.is_empty()
                {
                    let msg = "`until` closes the event it is correlated with: give `same` (event path = until path)";
                    cx.error("parse.missing-field", span_of(v), &o.field("same"), msg);
                }
                if !o.has("until") && !same.is_empty() {
                    let msg = "`same` correlates an event with the `until` event that closes it; there is no `until`";
                    cx.error("parse.value", o.span, &o.field("same"), msg);
                }
                Some(Pattern::Uniqueness { event: event?, key: key?, until, same })
            }
            _ => None,
        };
        // Keys of the other patterns, asked for so that a misplaced one gets a precise error.
        let misplaced: &[&'static str] = &[
            "event",
            "cause",
            "trigger",
            "response",
            "holds",
            "same",
            "within_ms",
            "key",
            "until",
        ];
        if let Some(p) = pattern.as_ref() {
            for key in misplaced {
                if !o.has(key) || applies(p, key) {
                    continue;
                }
                let field = o.field(key);
                let span = o.get(key).map(span_of).unwrap_or(o.span);
                let msg = format!("`{key}` does not apply to pattern `{}`", p.name());
                cx.error("parse.unknown-field", span, &field, msg);
            }
        } else {
            for key in misplaced {
                o.has(key);
            }
        }
        let span = o.span;
        o.finish(cx);
        let name = name?.0;
        let pattern = pattern?;
        let scope = scope?;
        Some(Temporal { name, description, pattern, scope, span })
    }

    /// Every selector of the property with what it is for (pattern events, then scope ones).
    #[must_use]
    pub fn selectors(&self) -> Vec<&Selector> {
        let mut out = match &self.pattern {
            Pattern::Absence { event } | Pattern::Existence { event } => vec![event],
            Pattern::Universality { event, .. } => vec![event],
            Pattern::Precedence { event, cause, .. } => vec![event, cause],
            Pattern::Response { trigger, response, .. } => vec![trigger, response],
            Pattern::Uniqueness { event, until, .. } => {
                let mut v = vec![event];
                v.extend(until.as_ref());
                v
            }
        };
        match &self.scope {
            Scope::Global => {}
            Scope::Before { to } => out.push(to),
            Scope::After { from } => out.push(from),
            Scope::Between { from, to } | Scope::AfterUntil { from, to } => {
                out.push(from);
                out.push(to);
            }
        }
        out
    }
}

fn applies(p: &Pattern, key: &str) -> bool {
    let keys: &[&str] = match p {
        Pattern::Absence { .. } | Pattern::Existence { .. } => &["event"],
        Pattern::Universality { .. } => &["event", "holds"],
        Pattern::Precedence { .. } => &["event", "cause", "same"],
        Pattern::Response { .. } => &["trigger", "response", "same", "within_ms"],
        Pattern::Uniqueness { .. } => &["event", "key", "until", "same"],
    };
    keys.contains(&key)
}

fn path_or_error(cx: &mut Cx<'_>, text: &str, span: Span, field: &str) -> Option<FieldPath> {
    match FieldPath::parse(text) {
        Ok(p) => Some(p),
        Err((msg, hint)) => {
            cx.error_hint("parse.value", span, field, msg, hint);
            None
        }
    }
}

/// `scope = "global"` (the default) or `scope = { kind = "between", from = {…}, to = {…} }`.
fn read_scope(cx: &mut Cx<'_>, o: &mut Obj<'_, '_>) -> Option<Scope> {
    let Some(v) = o.get("scope") else { return Some(Scope::Global) };
    let field = o.field("scope");
    let bad_kind = |cx: &mut Cx<'_>, k: &str, span: Span| {
        let hint = did_you_mean(k, SCOPES.iter().copied()).map(|n| format!("did you mean `{n}`?"));
        let msg = format!("scope `{k}` is not one of: {}", SCOPES.join(", "));
        cx.error_hint("parse.value", span, &format!("{field}.kind"), msg, hint);
    };
    if let Some(k) = v.get_ref().as_str() {
        if k == "global" {
            return Some(Scope::Global);
        }
        if SCOPES.contains(&k) {
            let msg = format!(
                "scope `{k}` needs its events: scope = {{ kind = \"{k}\", from = {{…}}, to = {{…}} }}"
            );
            cx.error("parse.value", span_of(v), &field, msg);
        } else {
            bad_kind(cx, k, span_of(v));
        }
        return None;
    }
    let mut t = Obj::of(cx, v, &field)?;
    let (kind, kspan) = t.req_str(cx, "kind", "global, before, after, between or after-until")?;
    let need = |cx: &mut Cx<'_>, t: &mut Obj<'_, '_>, key: &'static str| {
        let f = t.field(key);
        match t.get(key) {
            Some(v) => read_selector(cx, v, &f),
            None => {
                let msg = format!(
                    "missing required field `{key}` (the event that {} the scope)",
                    if key == "from" { "opens" } else { "closes" }
                );
                cx.error("parse.missing-field", t.span, &f, msg);
                None
            }
        }
    };
    let scope = match kind.as_str() {
        "global" => Some(Scope::Global),
        "before" => need(cx, &mut t, "to").map(|to| Scope::Before { to }),
        "after" => need(cx, &mut t, "from").map(|from| Scope::After { from }),
        "between" | "after-until" => {
            let from = need(cx, &mut t, "from");
            let to = need(cx, &mut t, "to");
            let (from, to) = (from?, to?);
            Some(if kind == "between" {
                Scope::Between { from, to }
            } else {
                Scope::AfterUntil { from, to }
            })
        }
        other => {
            bad_kind(cx, other, kspan);
            // Its events are not judged wrong for a misspelt kind.
            t.has("from");
            t.has("to");
            None
        }
    };
    t.finish(cx);
    scope
}

/// `same = { "<first path>" = "<second path>", … }` (empty when absent).
fn read_same(cx: &mut Cx<'_>, o: &mut Obj<'_, '_>) -> Option<Vec<Same>> {
    let Some(v) = o.get("same") else { return Some(Vec::new()) };
    let field = o.field("same");
    let t = Obj::of(cx, v, &field)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (k, kspan, v) in t.entries() {
        let f = format!("{field}.{k}");
        let first = path_or_error(cx, k, kspan, &f);
        let second = match v.get_ref().as_str() {
            Some(s) => path_or_error(cx, s, span_of(v), &f),
            None => {
                let msg = format!(
                    "`{k}` must name a field path of the other event (a string), found {}",
                    type_name(v.get_ref())
                );
                cx.error("parse.type", span_of(v), &f, msg);
                None
            }
        };
        match (first, second) {
            (Some(first), Some(second)) => out.push(Same { first, second }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A selector: an inline table with `on`, the fields that apply to it and `where`.
fn read_selector(cx: &mut Cx<'_>, v: &Value<'_>, field: &str) -> Option<Selector> {
    let mut t = Obj::of(cx, v, field)?;
    let on = if t.has("on") {
        t.opt_enum(cx, "on", ON)
    } else {
        let names: Vec<&str> = ON.iter().map(|(n, _)| *n).collect();
        let msg = format!("missing required field `on` ({})", names.join(", "));
        cx.error("parse.missing-field", t.span, &t.field("on"), msg);
        None
    };
    let name = |cx: &mut Cx<'_>, t: &mut Obj<'_, '_>, key: &'static str| {
        let r = t.opt_str(cx, key);
        if let (Some((_, span)), Some(on)) = (&r, on)
            && !on.fields().contains(&key)
        {
            let msg = format!("`{key}` does not apply to on = \"{}\"", on.name());
            let hint = format!("fields for `{}`: {}", on.name(), on.fields().join(", "));
            cx.error_hint("parse.value", *span, &t.field(key), msg, Some(hint));
        }
        r
    };
    let service = name(cx, &mut t, "service").map(NameRef::from);
    let endpoint = name(cx, &mut t, "endpoint").map(NameRef::from);
    let outcome = name(cx, &mut t, "outcome").map(|x| x.0);
    let channel = name(cx, &mut t, "channel").map(NameRef::from);
    let group = name(cx, &mut t, "group").map(|x| x.0);
    let store = name(cx, &mut t, "store").map(NameRef::from);
    let key = name(cx, &mut t, "key").map(|x| x.0);
    let kind = name(cx, &mut t, "kind").map(|x| x.0);
    if let (Some(e), None) = (&endpoint, &service) {
        let msg = "`endpoint` needs the `service` it belongs to";
        cx.error("parse.missing-field", e.span, &t.field("service"), msg);
    }
    let conditions = match t.get("where") {
        Some(w) => read_conditions(cx, w, &t.field("where")),
        None => Some(Vec::new()),
    };
    let span = t.span;
    t.finish(cx);
    Some(Selector {
        on: on?,
        service,
        endpoint,
        outcome,
        channel,
        group,
        store,
        key,
        kind,
        conditions: conditions?,
        field: field.to_owned(),
        span,
    })
}

/// `{ "<path>" = <value>, "<path>" = { <op> = <value> }, … }`.
fn read_conditions(cx: &mut Cx<'_>, v: &Value<'_>, field: &str) -> Option<Vec<Condition>> {
    let t = Obj::of(cx, v, field)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (k, kspan, v) in t.entries() {
        let f = format!("{field}.{k}");
        let path = path_or_error(cx, k, kspan, &f);
        let cond = match v.get_ref() {
            DeValue::Table(ops) => {
                let mut found = None;
                for (op, ov) in ops {
                    let op: &str = op.get_ref().as_ref();
                    let Some((_, o)) = OPS.iter().find(|(n, _)| *n == op) else {
                        let names: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
                        let hint = did_you_mean(op, names.iter().copied())
                            .map(|n| format!("did you mean `{n}`?"));
                        let msg =
                            format!("unknown comparison `{op}` (one of: {})", names.join(", "));
                        cx.error_hint("parse.value", span_of(ov), &f, msg, hint);
                        continue;
                    };
                    if found.is_some() {
                        cx.error("parse.value", span_of(ov), &f, "one comparison per path");
                        continue;
                    }
                    found = scalar(cx, ov, &f).map(|value| (*o, value));
                }
                if found.is_none() && ops.is_empty() {
                    cx.error(
                        "parse.value",
                        span_of(v),
                        &f,
                        "an empty comparison: give e.g. { gt = 100 }",
                    );
                }
                found
            }
            _ => scalar(cx, v, &f).map(|value| (Op::Eq, value)),
        };
        match (path, cond) {
            (Some(path), Some((op, value))) => {
                if op == Op::Exists && !value.is_boolean() {
                    cx.error("parse.type", span_of(v), &f, "`exists` takes true or false");
                    ok = false;
                } else if op == Op::Prefix && !value.is_string() {
                    cx.error("parse.type", span_of(v), &f, "`prefix` takes a string");
                    ok = false;
                } else {
                    out.push(Condition { path, op, value });
                }
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A string, number or boolean, as JSON.
fn scalar(cx: &mut Cx<'_>, v: &Value<'_>, field: &str) -> Option<serde_json::Value> {
    let out = match v.get_ref() {
        DeValue::String(s) => Some(serde_json::Value::String(s.to_string())),
        DeValue::Boolean(b) => Some(serde_json::Value::Bool(*b)),
        DeValue::Integer(i) => {
            i64::from_str_radix(i.as_str(), i.radix()).ok().map(serde_json::Value::from)
        }
        DeValue::Float(f) => f64::from_str(f.as_str())
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(serde_json::Value::Number),
        other => {
            let msg = format!(
                "a condition compares with a string, number or boolean, found {}",
                type_name(other)
            );
            cx.error("parse.type", span_of(v), field, msg);
            return None;
        }
    };
    if out.is_none() {
        cx.error("parse.value", span_of(v), field, "this number cannot be compared (out of range)");
    }
    out
}

/// Resolves the names the temporal properties use (errors, with a hint) and warns about
/// events that cannot happen in this design: a property about them would never be judged.
pub(crate) fn resolve(cx: &mut Cx<'_>, s: &Scenario) {
    let mut seen = BTreeSet::new();
    for t in &s.temporal {
        if !seen.insert(t.name.as_str()) {
            let msg = format!("duplicate temporal property name `{}`", t.name);
            cx.error("parse.duplicate", t.span, "temporal.name", msg);
        }
        for sel in t.selectors() {
            if resolve_selector(cx, s, sel) {
                warn_if_impossible(cx, s, t, sel);
            }
        }
    }
}

fn unknown(cx: &mut Cx<'_>, r: &NameRef, what: &str, field: &str, known: &[&str]) {
    let hint = did_you_mean(&r.name, known.iter().copied()).map(|n| format!("did you mean `{n}`?"));
    let hint = hint.or_else(|| (!known.is_empty()).then(|| format!("known: {}", known.join(", "))));
    cx.error_hint(
        "parse.unknown-reference",
        r.span,
        field,
        format!("unknown {what} `{}`", r.name),
        hint,
    );
}

/// Whether every name of `sel` resolves (each unknown one is reported).
fn resolve_selector(cx: &mut Cx<'_>, s: &Scenario, sel: &Selector) -> bool {
    let mut ok = true;
    if let Some(svc) = &sel.service {
        match s.service(&svc.name) {
            Some(found) => {
                if let Some(ep) = &sel.endpoint
                    && !found.endpoints.iter().any(|e| e.name == ep.name)
                {
                    let eps: Vec<&str> = found.endpoints.iter().map(|e| e.name.as_str()).collect();
                    unknown(
                        cx,
                        ep,
                        &format!("endpoint of `{}`", svc.name),
                        &format!("{}.endpoint", sel.field),
                        &eps,
                    );
                    ok = false;
                }
            }
            None => {
                let names: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
                unknown(cx, svc, "service", &format!("{}.service", sel.field), &names);
                ok = false;
            }
        }
    }
    if let Some(c) = &sel.channel
        && s.channel(&c.name).is_none()
    {
        let names: Vec<&str> = s.channels.iter().map(|x| x.name.as_str()).collect();
        unknown(cx, c, "channel", &format!("{}.channel", sel.field), &names);
        ok = false;
    }
    if let Some(st) = &sel.store
        && s.store(&st.name).is_none()
    {
        let names: Vec<&str> = s.stores.iter().map(|x| x.name.as_str()).collect();
        unknown(cx, st, "store", &format!("{}.store", sel.field), &names);
        ok = false;
    }
    ok
}

/// Warns when nothing in the design can produce an event `sel` matches.
fn warn_if_impossible(cx: &mut Cx<'_>, s: &Scenario, t: &Temporal, sel: &Selector) {
    // Every (service, endpoint) a client requests: the mix's entries and the journeys' steps.
    let client_targets: Vec<(&str, &str)> = s
        .workload
        .iter()
        .flat_map(|w| {
            let mix = w.mix.iter().map(|m| (m.service.name.as_str(), m.endpoint.name.as_str()));
            let steps = w.journeys.iter().flat_map(|j| &j.steps);
            mix.chain(steps.map(|st| (st.service.name.as_str(), st.endpoint.name.as_str())))
        })
        .collect();
    let requested = |svc: &str, ep: Option<&str>| {
        client_targets.iter().any(|(s, e)| *s == svc && ep.is_none_or(|ep| *e == ep))
    };
    let published = |ch: &str| s.services.iter().any(|x| x.publishes.iter().any(|p| p.name == ch));
    let reached = |svc: &str, ep: Option<&str>| {
        requested(svc, ep)
            || s.services.iter().any(|x| {
                x.calls
                    .iter()
                    .any(|c| c.service.name == svc && ep.is_none_or(|e| c.endpoint.name == e))
            })
            || s.service(svc).is_some_and(|x| {
                x.subscriptions.iter().any(|sub| {
                    ep.is_none_or(|e| sub.endpoint.name == e) && published(&sub.channel.name)
                })
            })
    };
    let svc = sel.service.as_ref().map(|x| x.name.as_str());
    let ep = sel.endpoint.as_ref().map(|x| x.name.as_str());
    let why = match sel.on {
        On::Request | On::Answer => match svc {
            Some(svc) if !reached(svc, ep) => Some(format!(
                "no client request, declared call or subscribed channel reaches `{svc}{}`",
                ep.map(|e| format!(".{e}")).unwrap_or_default()
            )),
            _ => None,
        },
        On::ClientRequest | On::ClientAnswer => {
            let hit = client_targets
                .iter()
                .any(|(s, e)| svc.is_none_or(|x| *s == x) && ep.is_none_or(|ep| *e == ep));
            (!hit).then(|| "the workload never requests it".to_owned())
        }
        On::Publish | On::Deliver => {
            let ch = sel.channel.as_ref().map(|c| c.name.as_str());
            let publisher = s.services.iter().any(|x| {
                svc.is_none_or(|n| x.name == n)
                    && x.publishes.iter().any(|p| ch.is_none_or(|c| p.name == c))
            });
            let subscriber = s.services.iter().any(|x| {
                x.subscriptions.iter().any(|sub| ch.is_none_or(|c| sub.channel.name == c))
            });
            if !publisher {
                Some("no service publishes to it".to_owned())
            } else if sel.on == On::Deliver && !subscriber {
                Some("no service subscribes to it".to_owned())
            } else {
                None
            }
        }
        On::Write => {
            let st = sel.store.as_ref().map(|c| c.name.as_str());
            let writer = s.services.iter().any(|x| {
                svc.is_none_or(|n| x.name == n)
                    && x.owns.iter().any(|o| st.is_none_or(|c| o.name == c))
            });
            (!writer).then(|| "no service owns (writes) it".to_owned())
        }
        On::Fault | On::Heal => None,
    };
    if let Some(why) = why {
        let msg = format!(
            "temporal property `{}`: `{}` matches events that cannot happen in this design ({why}), so it will never be exercised as intended",
            t.name, sel.field
        );
        let d = Diagnostic::warning("temporal.unreachable-event", msg)
            .at(cx.locate(sel.span))
            .field(&sel.field);
        cx.diags.push(d);
    }
}

#[cfg(test)]
#[path = "temporal_tests.rs"]
mod tests;
