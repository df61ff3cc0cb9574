//! Temporal properties the scenario states (`[[temporal]]`, model/src/scenario/temporal.rs),
//! judged on the run's trace: one [`Verdict`] per property, with the property's name as id.
//!
//! The trace is first turned into a list of [`Ev`]: the events some selector of the scenario's
//! temporal properties names (among requests, answers, client requests and answers, publishes,
//! deliveries, store writes, faults), each with its parsed JSON body. An answer takes its service and endpoint from its invocation's start,
//! a delivery its body from the message's publish, a publish or write its service from the
//! invocation that made it. Then each property cuts the list into its scope's intervals and
//! judges its pattern in each.
//!
//! The end of the run: an interval the run's end closes (`global`, `after`, an open
//! `after-until`) does not refute what could still happen after it. A response without
//! `within_ms` that is still awaited at the end is *not judged* (a finite run cannot refute
//! "eventually"), and neither is one whose deadline lies after the end; one whose deadline
//! passed before the end is a violation dated at the deadline. An existence in an `after-until`
//! interval the run left open is not judged either (weak until, as in Dwyer's catalogue).
//! An interval closed by its `to` event judges everything: a trigger still awaiting its response
//! there is a violation at the closing event.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use fusebench_model::Scenario;
use fusebench_model::scenario::{
    Condition, FieldPath, NameRef, On, Op, Pattern, Root, Same, Scope, Selector, Temporal,
};
use serde_json::Value;

use super::{Judged, PropertyInfo, Verdict, unreadable};
use crate::time::{SimTime, millis_to_nanos};
use crate::trace::TraceEvent;

/// How many violations a finding list shows before summing up the rest.
const SHOWN: usize = 5;

/// The temporal properties of `s`, for the catalogue.
pub(crate) fn catalogue(s: &Scenario) -> impl Iterator<Item = PropertyInfo> + '_ {
    s.temporal.iter().map(|t| PropertyInfo {
        id: Cow::Owned(t.name.clone()),
        summary: Cow::Owned(if t.description.is_empty() {
            summary(t)
        } else {
            t.description.clone()
        }),
    })
}

/// One verdict per temporal property of `s`, in the order they are stated.
pub(crate) fn check(s: &Scenario, run: &Judged<'_>) -> Vec<Verdict> {
    if s.temporal.is_empty() {
        return Vec::new();
    }
    let events = match events(run, &selectors(s)) {
        Ok(e) => e,
        Err(why) => {
            return s
                .temporal
                .iter()
                .map(|t| Verdict::unjudged(t.name.clone(), why.clone()))
                .collect();
        }
    };
    s.temporal.iter().map(|t| judge(t, &events, run.end)).collect()
}

/// One event a selector can name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ev {
    pub t: SimTime,
    pub on: Option<On>,
    pub service: Option<String>,
    pub endpoint: Option<String>,
    pub outcome: Option<String>,
    pub channel: Option<String>,
    pub group: Option<String>,
    pub store: Option<String>,
    pub key: Option<String>,
    pub kind: Option<String>,
    pub req: Option<u64>,
    pub inv: Option<u64>,
    pub msg: Option<u64>,
    pub body: Option<Value>,
    /// Of an answer: the body of the request it answers.
    pub request: Option<Value>,
}

/// A body as JSON: parsed when it is JSON, a JSON string otherwise; `None` when empty. Read as
/// the guest's text, not its trace escape (`trace::text_value`): a condition's literal is
/// compared with what the guest sent.
fn body(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    let text = crate::trace::text_value(text);
    Some(serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned())))
}

/// Every selector the scenario's temporal properties state (scopes and patterns).
fn selectors(s: &Scenario) -> Vec<&Selector> {
    let mut out = Vec::new();
    for t in &s.temporal {
        match &t.scope {
            Scope::Global => {}
            Scope::Before { to } => out.push(to),
            Scope::After { from } => out.push(from),
            Scope::Between { from, to } | Scope::AfterUntil { from, to } => {
                out.extend([from, to]);
            }
        }
        match &t.pattern {
            Pattern::Absence { event }
            | Pattern::Existence { event }
            | Pattern::Universality { event, .. } => out.push(event),
            Pattern::Precedence { event, cause, .. } => out.extend([event, cause]),
            Pattern::Response { trigger, response, .. } => out.extend([trigger, response]),
            Pattern::Uniqueness { event, until, .. } => {
                out.push(event);
                out.extend(until);
            }
        }
    }
    out
}

/// An event's names, borrowed from its trace line: what a selector is matched on before its
/// conditions (which need the parsed body).
#[derive(Default)]
struct Names<'a> {
    on: Option<On>,
    service: Option<&'a str>,
    endpoint: Option<&'a str>,
    outcome: Option<&'a str>,
    channel: Option<&'a str>,
    group: Option<&'a str>,
    store: Option<&'a str>,
    key: Option<&'a str>,
    kind: Option<&'a str>,
}

impl Ev {
    /// Its names, borrowed: what a selector is matched on besides its conditions.
    fn names(&self) -> Names<'_> {
        Names {
            on: self.on,
            service: self.service.as_deref(),
            endpoint: self.endpoint.as_deref(),
            outcome: self.outcome.as_deref(),
            channel: self.channel.as_deref(),
            group: self.group.as_deref(),
            store: self.store.as_deref(),
            key: self.key.as_deref(),
            kind: self.kind.as_deref(),
        }
    }
}

impl Names<'_> {
    /// Whether `sel` can name this event, its conditions aside.
    fn named_by(&self, sel: &Selector) -> bool {
        fn same(want: Option<&str>, got: Option<&str>) -> bool {
            want.is_none_or(|w| got == Some(w))
        }
        self.on == Some(sel.on)
            && same(sel.service.as_ref().map(NameRef::as_str), self.service)
            && same(sel.endpoint.as_ref().map(NameRef::as_str), self.endpoint)
            && same(sel.outcome.as_deref(), self.outcome)
            && same(sel.channel.as_ref().map(NameRef::as_str), self.channel)
            && same(sel.group.as_deref(), self.group)
            && same(sel.store.as_ref().map(NameRef::as_str), self.store)
            && same(sel.key.as_deref(), self.key.map(crate::trace::text_value).as_deref())
            && same(sel.kind.as_deref(), self.kind)
    }

    fn owned(&self, t: SimTime) -> Ev {
        let own = |s: Option<&str>| s.map(str::to_owned);
        Ev {
            t,
            on: self.on,
            service: own(self.service),
            endpoint: own(self.endpoint),
            outcome: own(self.outcome),
            channel: own(self.channel),
            group: own(self.group),
            store: own(self.store),
            key: self.key.map(|k| crate::trace::text_value(k).into_owned()),
            kind: own(self.kind),
            ..Ev::default()
        }
    }
}

/// The events some selector of `sels` names, in trace order. An event no selector can name
/// (by kind and names) is left out, and its body is never parsed: every pattern and scope
/// looks at events only through [`matches`] on its own selectors, and uses positions only to
/// order them, so the events left out change no verdict (most of a trace is such events, and
/// parsing every body was most of a temporal check's time).
fn events(run: &Judged<'_>, sels: &[&Selector]) -> Result<Vec<Ev>, String> {
    let (lines, error) = run.lines();
    // Invocations' service, endpoint and request; request bodies by invocation and by client
    // request (for `request.…` paths of answers); published bodies by message: all borrowed
    // from the lines, parsed only for an event that is kept.
    let mut invs: BTreeMap<u64, (&str, &str, u64)> = BTreeMap::new();
    let mut inputs: BTreeMap<u64, &str> = BTreeMap::new();
    let mut arrivals: BTreeMap<u64, &str> = BTreeMap::new();
    let mut msgs: BTreeMap<u64, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for line in lines {
        let (names, ids, text, request) = match &line.event {
            TraceEvent::Arrival { req, service, endpoint, body: b } => {
                arrivals.insert(*req, b);
                let names = Names {
                    on: Some(On::ClientRequest),
                    service: Some(service),
                    endpoint: Some(endpoint),
                    ..Names::default()
                };
                (names, (Some(*req), None, None), Some(&**b), None)
            }
            TraceEvent::Response { req, service, endpoint, outcome, body: b, .. } => {
                let names = Names {
                    on: Some(On::ClientAnswer),
                    service: Some(service),
                    endpoint: Some(endpoint),
                    outcome: Some(outcome),
                    ..Names::default()
                };
                (names, (Some(*req), None, None), Some(&**b), Some(arrivals.remove(req)))
            }
            TraceEvent::InvocationStart { inv, req, service, endpoint, input, .. } => {
                invs.insert(*inv, (service, endpoint, *req));
                inputs.insert(*inv, input);
                let names = Names {
                    on: Some(On::Request),
                    service: Some(service),
                    endpoint: Some(endpoint),
                    ..Names::default()
                };
                (names, (Some(*req), Some(*inv), None), Some(&**input), None)
            }
            TraceEvent::InvocationEnd { inv, outcome, output, .. } => {
                let (service, endpoint, req) = invs.get(inv).copied().unzip3();
                let names = Names {
                    on: Some(On::Answer),
                    service,
                    endpoint,
                    outcome: Some(outcome),
                    ..Names::default()
                };
                (names, (req, Some(*inv), None), Some(&**output), Some(inputs.remove(inv)))
            }
            TraceEvent::Publish { channel, msg, inv, body: b } => {
                msgs.insert(*msg, b);
                let names = Names {
                    on: Some(On::Publish),
                    channel: Some(channel),
                    service: invs.get(inv).map(|x| x.0),
                    ..Names::default()
                };
                (names, (None, Some(*inv), Some(*msg)), Some(&**b), None)
            }
            TraceEvent::Deliver { channel, msg, group, .. } => {
                let names = Names {
                    on: Some(On::Deliver),
                    channel: Some(channel),
                    group: Some(group),
                    ..Names::default()
                };
                (names, (None, None, Some(*msg)), msgs.get(msg).copied(), None)
            }
            TraceEvent::StoreWrite { store, key, inv, value, .. } => {
                let names = Names {
                    on: Some(On::Write),
                    store: Some(store),
                    key: Some(key),
                    service: invs.get(inv).map(|x| x.0),
                    ..Names::default()
                };
                (names, (None, Some(*inv), None), value.as_deref(), None)
            }
            TraceEvent::FaultStart { kind, .. } => {
                let names = Names { on: Some(On::Fault), kind: Some(kind), ..Names::default() };
                (names, (None, None, None), None, None)
            }
            TraceEvent::FaultEnd { kind, .. } => {
                let names = Names { on: Some(On::Heal), kind: Some(kind), ..Names::default() };
                (names, (None, None, None), None, None)
            }
            _ => continue,
        };
        if !sels.iter().any(|sel| names.named_by(sel)) {
            continue;
        }
        let (req, inv, msg) = ids;
        out.push(Ev {
            req,
            inv,
            msg,
            body: text.and_then(body),
            request: request.flatten().and_then(body),
            ..names.owned(line.t)
        });
    }
    match error {
        Some(e) => Err(unreadable(e)),
        None => Ok(out),
    }
}

trait Unzip3<A, B, C> {
    fn unzip3(self) -> (Option<A>, Option<B>, Option<C>);
}

impl<A, B, C> Unzip3<A, B, C> for Option<(A, B, C)> {
    fn unzip3(self) -> (Option<A>, Option<B>, Option<C>) {
        match self {
            Some((a, b, c)) => (Some(a), Some(b), Some(c)),
            None => (None, None, None),
        }
    }
}

/// The value at `path` of `ev`, if it has one.
pub(crate) fn value_at(ev: &Ev, path: &FieldPath) -> Option<Value> {
    let text = |s: &Option<String>| s.clone().map(Value::String);
    let num = |n: Option<u64>| n.map(Value::from);
    match path.root {
        Root::Body | Root::Request => {
            let root = if path.root == Root::Body { &ev.body } else { &ev.request };
            let mut v = root.as_ref()?;
            for seg in &path.segments {
                v = match v {
                    Value::Object(m) => m.get(seg)?,
                    Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            Some(v.clone())
        }
        Root::Service => text(&ev.service),
        Root::Endpoint => text(&ev.endpoint),
        Root::Outcome => text(&ev.outcome),
        Root::Channel => text(&ev.channel),
        Root::Group => text(&ev.group),
        Root::Store => text(&ev.store),
        Root::Key => text(&ev.key),
        Root::Kind => text(&ev.kind),
        Root::Req => num(ev.req),
        Root::Inv => num(ev.inv),
        Root::Msg => num(ev.msg),
    }
}

/// A JSON number as conditions and correlations compare it: by value (`1` = `1.0`), and
/// exactly when it is a whole number — a 64-bit id above 2^53 is not its neighbour, as it
/// would be in a float.
#[derive(Debug, Clone, Copy)]
enum Num {
    Whole(i128),
    Float(f64),
}

impl Num {
    fn of(n: &serde_json::Number) -> Num {
        if let Some(i) = n.as_i64() {
            return Num::Whole(i.into());
        }
        if let Some(u) = n.as_u64() {
            return Num::Whole(u.into());
        }
        match n.as_f64() {
            // Within i128's range, a float with no fraction is that whole number exactly.
            Some(f) if f.fract() == 0.0 && f.abs() < 1e38 => Num::Whole(f as i128),
            Some(f) => Num::Float(f),
            None => Num::Float(f64::NAN),
        }
    }

    fn cmp(self, other: Num) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Num::Whole(x), Num::Whole(y)) => Some(x.cmp(&y)),
            _ => self.float().partial_cmp(&other.float()),
        }
    }

    fn float(self) -> f64 {
        match self {
            Num::Whole(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The number as a correlation or uniqueness key: equal numbers, equal text.
    fn key(self) -> String {
        match self {
            Num::Whole(i) => i.to_string(),
            Num::Float(f) => Value::from(f).to_string(),
        }
    }
}

/// A value as a correlation or uniqueness key: its JSON text, numbers by value ([`Num`]).
fn key_text(v: &Value) -> String {
    match v {
        Value::Number(n) => Num::of(n).key(),
        _ => v.to_string(),
    }
}

/// Two JSON values compared as a condition does: numbers by value (`1` = `1.0`, [`Num`]).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            Num::of(x).cmp(Num::of(y)) == Some(std::cmp::Ordering::Equal)
        }
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Num::of(x).cmp(Num::of(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Whether `c` holds of `ev`. An absent field satisfies only `exists = false`.
pub(crate) fn holds(ev: &Ev, c: &Condition) -> bool {
    let v = value_at(ev, &c.path);
    if c.op == Op::Exists {
        return v.is_some() == (c.value == Value::Bool(true));
    }
    let Some(v) = v else { return false };
    use std::cmp::Ordering::{Equal, Greater, Less};
    match c.op {
        Op::Eq => equal(&v, &c.value),
        Op::Ne => !equal(&v, &c.value),
        Op::Lt => order(&v, &c.value) == Some(Less),
        Op::Le => matches!(order(&v, &c.value), Some(Less | Equal)),
        Op::Gt => order(&v, &c.value) == Some(Greater),
        Op::Ge => matches!(order(&v, &c.value), Some(Greater | Equal)),
        Op::Prefix => match (&v, &c.value) {
            (Value::String(s), Value::String(p)) => s.starts_with(p.as_str()),
            _ => false,
        },
        Op::Exists => unreachable!("handled above"),
    }
}

/// Whether `ev` is one of the events `sel` names.
pub(crate) fn matches(ev: &Ev, sel: &Selector) -> bool {
    ev.names().named_by(sel) && sel.conditions.iter().all(|c| holds(ev, c))
}

/// The correlation key of `ev` on one side of `same` (`first` or second paths): the values
/// as JSON text; `None` when one is missing (such an event correlates with nothing).
fn correlation(ev: &Ev, same: &[Same], first: bool) -> Option<String> {
    let mut key = String::new();
    for s in same {
        let path = if first { &s.first } else { &s.second };
        let v = value_at(ev, path)?;
        // Numbers by value: 1 and 1.0 correlate.
        key.push_str(&key_text(&v));
        key.push('\u{1f}');
    }
    Some(key)
}

/// How an interval of the scope ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Its `to` event, at this index.
    Event(usize),
    /// The end of the run closes it (`global`, `after`).
    Run,
    /// An `after-until` interval the run left open.
    Open,
}

/// Events `lo..hi` of the trace, ending at time `end_t`.
#[derive(Debug, Clone, Copy)]
struct Interval {
    lo: usize,
    hi: usize,
    end: End,
    end_t: SimTime,
}

fn intervals(scope: &Scope, evs: &[Ev], run_end: SimTime) -> Vec<Interval> {
    let n = evs.len();
    let at_end = |lo: usize, end: End| Interval { lo, hi: n, end, end_t: run_end };
    let closed = |lo: usize, j: usize| Interval { lo, hi: j, end: End::Event(j), end_t: evs[j].t };
    match scope {
        Scope::Global => vec![at_end(0, End::Run)],
        Scope::Before { to } => {
            evs.iter().position(|e| matches(e, to)).map(|j| closed(0, j)).into_iter().collect()
        }
        Scope::After { from } => evs
            .iter()
            .position(|e| matches(e, from))
            .map(|i| at_end(i + 1, End::Run))
            .into_iter()
            .collect(),
        Scope::Between { from, to } | Scope::AfterUntil { from, to } => {
            let mut out = Vec::new();
            let mut open = None;
            for (i, e) in evs.iter().enumerate() {
                match open {
                    Some(lo) if matches(e, to) => {
                        out.push(closed(lo, i));
                        open = None;
                    }
                    None if matches(e, from) => open = Some(i + 1),
                    _ => {}
                }
            }
            if let (Some(lo), Scope::AfterUntil { .. }) = (open, scope) {
                out.push(at_end(lo, End::Open));
            }
            out
        }
    }
}

/// What the judging of one property found.
#[derive(Default)]
struct Outcome {
    /// (time of the violation, what it is).
    violations: Vec<(SimTime, String)>,
    subjects: Vec<String>,
    notes: Vec<String>,
    /// Something the pattern judges happened.
    exercised: bool,
    /// Why it was not exercised, when it was not.
    why_not: String,
}

fn judge(t: &Temporal, evs: &[Ev], run_end: SimTime) -> Verdict {
    let ivs = intervals(&t.scope, evs, run_end);
    let mut o = Outcome::default();
    if ivs.is_empty() {
        return Verdict::not_exercised(t.name.clone(), "the scope never opened in this run");
    }
    match &t.pattern {
        Pattern::Absence { event } => {
            o.exercised = true;
            for iv in &ivs {
                for e in &evs[iv.lo..iv.hi] {
                    if matches(e, event) {
                        o.violate(e, format!("{} happened", describe(e)));
                    }
                }
            }
        }
        Pattern::Existence { event } => {
            o.why_not = "every scope interval was still open at the end of the run".into();
            for iv in ivs.iter().filter(|iv| iv.end != End::Open) {
                o.exercised = true;
                if !evs[iv.lo..iv.hi].iter().any(|e| matches(e, event)) {
                    let from = if iv.lo == 0 { SimTime::ZERO } else { evs[iv.lo - 1].t };
                    let msg =
                        format!("no {} between {from} and {}", describe_selector(event), iv.end_t);
                    o.violations.push((iv.end_t, msg));
                }
            }
        }
        Pattern::Universality { event, holds: conds } => {
            o.why_not = format!("no {} happened", describe_selector(event));
            for iv in &ivs {
                for e in &evs[iv.lo..iv.hi] {
                    if !matches(e, event) {
                        continue;
                    }
                    o.exercised = true;
                    let broken: Vec<String> = conds
                        .iter()
                        .filter(|c| !holds(e, c))
                        .map(|c| {
                            let got =
                                value_at(e, &c.path).map_or("absent".into(), |v| v.to_string());
                            format!("{} {} {} (it is {got})", c.path.text, op_name(c.op), c.value)
                        })
                        .collect();
                    if !broken.is_empty() {
                        o.violate(e, format!("{} breaks {}", describe(e), broken.join(", ")));
                    }
                }
            }
        }
        Pattern::Precedence { event, cause, same } => {
            o.why_not = format!("no {} happened", describe_selector(event));
            let causes = positions(evs, cause, same, false);
            for iv in &ivs {
                for (k, e) in evs.iter().enumerate().take(iv.hi).skip(iv.lo) {
                    if !matches(e, event) {
                        continue;
                    }
                    o.exercised = true;
                    let key = correlation(e, same, true);
                    let found = key
                        .as_ref()
                        .and_then(|key| causes.get(key))
                        .is_some_and(|ps| ps.iter().any(|&j| j >= iv.lo && j < k));
                    if !found {
                        let msg = format!(
                            "{}{} was not preceded by {}{}",
                            describe(e),
                            fields(e, same, true),
                            describe_selector(cause),
                            same_text(same)
                        );
                        o.violate(e, msg);
                    }
                }
            }
        }
        Pattern::Response { trigger, response, same, within_ms } => {
            o.why_not = format!("no {} happened", describe_selector(trigger));
            let within = within_ms.map(|ms| SimTime(millis_to_nanos(ms)));
            let answers = positions(evs, response, same, false);
            let (mut judged, mut pending) = (0usize, 0usize);
            for iv in &ivs {
                for (k, e) in evs.iter().enumerate().take(iv.hi).skip(iv.lo) {
                    if !matches(e, trigger) {
                        continue;
                    }
                    let deadline = within.map(|w| SimTime(e.t.0.saturating_add(w.0)));
                    let first = correlation(e, same, true)
                        .and_then(|key| answers.get(&key))
                        .and_then(|ps| ps.iter().copied().find(|&j| j > k && j < iv.hi));
                    let on_time = first.filter(|&j| deadline.is_none_or(|d| evs[j].t <= d));
                    if on_time.is_some() {
                        judged += 1;
                        continue;
                    }
                    // No response in time: when is that known, if it is?
                    let at = match (deadline, iv.end) {
                        (Some(d), _) if d <= iv.end_t => Some(d),
                        (_, End::Event(_)) => Some(iv.end_t),
                        _ => None,
                    };
                    let Some(at) = at else {
                        pending += 1;
                        continue;
                    };
                    judged += 1;
                    // The finding is dated when the violation shows (the deadline, or the
                    // scope's end), so the trigger's own time and the delay are spelled out:
                    // without them a late answer reads as if it had come in time.
                    let late = match first {
                        Some(j) => format!(
                            " (it came at {}, {} ms after, too late)",
                            evs[j].t,
                            millis_text(evs[j].t.0.saturating_sub(e.t.0))
                        ),
                        None => String::new(),
                    };
                    let bound = match within_ms {
                        Some(ms) => format!(" within {ms} ms"),
                        None => String::new(),
                    };
                    let closed = match iv.end {
                        End::Event(j) if deadline.is_none_or(|d| d > iv.end_t) => {
                            format!(" before the scope closed ({})", describe(&evs[j]))
                        }
                        _ => String::new(),
                    };
                    let msg = format!(
                        "{} at {}{} was not followed by {}{}{bound}{closed}{late}",
                        describe(e),
                        e.t,
                        fields(e, same, true),
                        describe_selector(response),
                        same_text(same),
                    );
                    o.violations.push((at, msg));
                    o.mention(e);
                }
            }
            o.exercised = judged > 0;
            if pending > 0 {
                o.notes.push(format!(
                    "{pending} trigger(s) still awaiting a response at the end of the run ({}) were not judged",
                    run_end
                ));
                if judged == 0 {
                    o.why_not = format!(
                        "every {} was still awaiting its response when the run ended",
                        describe_selector(trigger)
                    );
                }
            }
            if judged > 0 {
                o.notes.push(format!("{judged} trigger(s) judged"));
            }
        }
        Pattern::Uniqueness { event, key, until, same } => {
            o.why_not = format!("no {} happened", describe_selector(event));
            for iv in &ivs {
                // Open events by unique value, and by their correlation with a closing event.
                let mut open: BTreeMap<String, usize> = BTreeMap::new();
                let mut by_corr: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (i, e) in evs.iter().enumerate().take(iv.hi).skip(iv.lo) {
                    if let Some(u) = until
                        && matches(e, u)
                        && let Some(c) = correlation(e, same, false)
                        && let Some(vals) = by_corr.remove(&c)
                    {
                        for v in vals {
                            open.remove(&v);
                        }
                    }
                    if !matches(e, event) {
                        continue;
                    }
                    o.exercised = true;
                    let Some(v) = value_at(e, key) else { continue };
                    let v = key_text(&v);
                    if let Some(&first) = open.get(&v) {
                        let still = if until.is_some() { ", still open," } else { "" };
                        let msg = format!(
                            "{} has {} = {v}, like {}{still} at {}",
                            describe(e),
                            key.text,
                            describe(&evs[first]),
                            evs[first].t
                        );
                        o.mention(&evs[first]);
                        o.violate(e, msg);
                        continue;
                    }
                    open.insert(v.clone(), i);
                    if until.is_some()
                        && let Some(c) = correlation(e, same, true)
                    {
                        by_corr.entry(c).or_default().push(v);
                    }
                }
            }
        }
    }
    if !o.exercised && o.violations.is_empty() {
        let mut v = Verdict::not_exercised(t.name.clone(), o.why_not);
        v.notes.extend(o.notes);
        return v;
    }
    o.violations.sort_by_key(|(at, _)| *at);
    let at = o.violations.first().map(|(at, _)| *at);
    let mut findings: Vec<String> =
        o.violations.iter().take(SHOWN).map(|(at, what)| format!("at {at}: {what}")).collect();
    if o.violations.len() > SHOWN {
        findings.push(format!("… and {} more violation(s)", o.violations.len() - SHOWN));
    }
    if let Some(first) = findings.first_mut() {
        *first = format!("{} violated: {first}", t.pattern.name());
    }
    let failed = !findings.is_empty();
    let mut v = Verdict::new(t.name.clone(), findings, o.notes);
    if failed {
        v = v.about(o.subjects);
        if let Some(at) = at {
            v = v.at_time(at);
        }
    }
    v
}

impl Outcome {
    fn violate(&mut self, e: &Ev, what: String) {
        self.violations.push((e.t, what));
        self.mention(e);
    }

    /// The names a replay story follows for `e`, the most specific it has: a write's key, a
    /// message's channel, otherwise the service (a writer's service would bring in all its work).
    fn mention(&mut self, e: &Ev) {
        let name = match e.on {
            Some(On::Write) => e.key.clone().or_else(|| e.store.clone()),
            Some(On::Publish | On::Deliver) => e.channel.clone(),
            Some(On::Fault | On::Heal) => None,
            _ => e.service.clone(),
        };
        self.subjects.extend(name);
    }
}

/// Where each correlation key of the events `sel` names occurs (indices, in order).
fn positions(
    evs: &[Ev],
    sel: &Selector,
    same: &[Same],
    first: bool,
) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in evs.iter().enumerate() {
        if matches(e, sel)
            && let Some(k) = correlation(e, same, first)
        {
            out.entry(k).or_default().push(i);
        }
    }
    out
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "≠",
        Op::Lt => "<",
        Op::Le => "≤",
        Op::Gt => ">",
        Op::Ge => "≥",
        Op::Prefix => "starts with",
        Op::Exists => "exists",
    }
}

/// ` with body.order_id = "o-1"`: the correlated values of the first event.
fn fields(e: &Ev, same: &[Same], first: bool) -> String {
    let parts: Vec<String> = same
        .iter()
        .map(|s| {
            let p = if first { &s.first } else { &s.second };
            let v = value_at(e, p).map_or("absent".into(), |v| v.to_string());
            format!("{} = {v}", p.text)
        })
        .collect();
    if parts.is_empty() { String::new() } else { format!(" with {}", parts.join(", ")) }
}

/// ` with the same body.order_id (as body.order_id)`.
fn same_text(same: &[Same]) -> String {
    if same.is_empty() {
        return String::new();
    }
    let parts: Vec<String> =
        same.iter().map(|s| format!("{} = that {}", s.second.text, s.first.text)).collect();
    format!(" with {}", parts.join(", "))
}

/// A duration in nanoseconds as milliseconds, to the microsecond, without trailing zeros
/// (`8001.359`, `100`).
fn millis_text(ns: u64) -> String {
    let text = format!("{}.{:03}", ns / 1_000_000, ns % 1_000_000 / 1_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One event, readable: what, where, which ids.
pub(crate) fn describe(e: &Ev) -> String {
    let se = || match (&e.service, &e.endpoint) {
        (Some(s), Some(ep)) => format!("{s}.{ep}"),
        (Some(s), None) => s.clone(),
        _ => "?".into(),
    };
    let mut ids = String::new();
    for (name, v) in [("req", e.req), ("inv", e.inv), ("msg", e.msg)] {
        if let Some(v) = v {
            let sep = if ids.is_empty() { "" } else { ", " };
            let _ = write!(ids, "{sep}{name} {v}");
        }
    }
    let ids = if ids.is_empty() { ids } else { format!(" ({ids})") };
    let o = e.outcome.as_deref().unwrap_or("?");
    match e.on {
        Some(On::Request) => format!("request to {}{ids}", se()),
        Some(On::Answer) => format!("answer `{o}` of {}{ids}", se()),
        Some(On::ClientRequest) => format!("client request for {}{ids}", se()),
        Some(On::ClientAnswer) => format!("client answer `{o}` from {}{ids}", se()),
        Some(On::Publish) => {
            format!("publish on {}{ids}", e.channel.as_deref().unwrap_or("?"))
        }
        Some(On::Deliver) => format!(
            "delivery on {} to {}{ids}",
            e.channel.as_deref().unwrap_or("?"),
            e.group.as_deref().unwrap_or("?")
        ),
        Some(On::Write) => format!(
            "write of {}[{}]{ids}",
            e.store.as_deref().unwrap_or("?"),
            e.key.as_deref().unwrap_or("?")
        ),
        Some(On::Fault) => format!("fault {} starting", e.kind.as_deref().unwrap_or("?")),
        Some(On::Heal) => format!("fault {} ending", e.kind.as_deref().unwrap_or("?")),
        None => "event".into(),
    }
}

/// The events a selector names, readable: `answer ok of orders.create_order where body.status
/// = "placed"`.
pub(crate) fn describe_selector(sel: &Selector) -> String {
    let mut s = sel.on.name().to_owned();
    if let Some(o) = &sel.outcome {
        let _ = write!(s, " `{o}`");
    }
    let target = match (&sel.service, &sel.endpoint) {
        (Some(sv), Some(ep)) => Some(format!("{sv}.{ep}")),
        (Some(sv), None) => Some(sv.name.clone()),
        _ => None,
    };
    let prep = match sel.on {
        On::Request | On::ClientRequest => " to ",
        On::Answer | On::ClientAnswer => " of ",
        _ => " by ",
    };
    if let Some(c) = &sel.channel {
        let _ = write!(s, " on {c}");
    }
    if let Some(g) = &sel.group {
        let _ = write!(s, " to {g}");
    }
    if let Some(st) = &sel.store {
        let _ = write!(s, " of {st}");
    }
    if let Some(k) = &sel.key {
        let _ = write!(s, "[{k}]");
    }
    if let Some(k) = &sel.kind {
        let _ = write!(s, " {k}");
    }
    if let Some(t) = target {
        let _ = write!(s, "{prep}{t}");
    }
    if !sel.conditions.is_empty() {
        let c: Vec<String> = sel
            .conditions
            .iter()
            .map(|c| format!("{} {} {}", c.path.text, op_name(c.op), c.value))
            .collect();
        let _ = write!(s, " where {}", c.join(" and "));
    }
    s
}

/// A generated one-line summary of `t` (when the author gave no description).
fn summary(t: &Temporal) -> String {
    let scope = match &t.scope {
        Scope::Global => String::new(),
        Scope::Before { to } => format!(" before the first {}", describe_selector(to)),
        Scope::After { from } => format!(" after the first {}", describe_selector(from)),
        Scope::Between { from, to } => {
            format!(
                " between each {} and the next {}",
                describe_selector(from),
                describe_selector(to)
            )
        }
        Scope::AfterUntil { from, to } => {
            format!(
                " after each {} until the next {}",
                describe_selector(from),
                describe_selector(to)
            )
        }
    };
    let body = match &t.pattern {
        Pattern::Absence { event } => format!("no {} happens", describe_selector(event)),
        Pattern::Existence { event } => format!("some {} happens", describe_selector(event)),
        Pattern::Universality { event, holds } => {
            let c: Vec<String> = holds
                .iter()
                .map(|c| format!("{} {} {}", c.path.text, op_name(c.op), c.value))
                .collect();
            format!("every {} has {}", describe_selector(event), c.join(" and "))
        }
        Pattern::Precedence { event, cause, same } => format!(
            "every {} is preceded by {}{}",
            describe_selector(event),
            describe_selector(cause),
            same_text(same)
        ),
        Pattern::Response { trigger, response, same, within_ms } => format!(
            "every {} is followed by {}{}{}",
            describe_selector(trigger),
            describe_selector(response),
            same_text(same),
            within_ms.map(|ms| format!(" within {ms} ms")).unwrap_or_default()
        ),
        Pattern::Uniqueness { event, key, until, .. } => format!(
            "no two {} carry the same {}{}",
            describe_selector(event),
            key.text,
            until
                .as_ref()
                .map(|u| format!(" while open (until {})", describe_selector(u)))
                .unwrap_or_default()
        ),
    };
    format!("temporal {}: {body}{scope}", t.pattern.name())
}

#[cfg(test)]
#[path = "temporal_tests.rs"]
mod tests;
