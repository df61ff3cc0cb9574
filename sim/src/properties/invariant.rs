//! User-stated invariants (`[[invariant]]`, model/src/scenario/invariant.rs): CEL expressions
//! over the stores, the clock and a few metrics, judged from the trace like every other
//! property.
//!
//! The state an expression reads is rebuilt event by event:
//! - `stores.<name>` is the store's *accepted* state: each key holds the value of the
//!   highest-version `store_write` accepted for it so far (versions come from one global counter
//!   in acceptance order; a delete removes the key), starting from `[store.init]`. That is the
//!   state a strong read returns and the one replicas converge to; how replicas diverge from it
//!   on the way is `replica-convergence`'s and `acked-durability`'s business, not an invariant's.
//!   A value is parsed as JSON when it is JSON (`"70"` is the int 70), else it is a string.
//! - `initial.<name>` is `[store.init]`, `now_ms` the time of the event just applied,
//!   `requests`/`answered`/`errors` count `arrival`s and `response`s (an outcome other than `ok`
//!   is an error) so far.
//!
//! When: an `always` invariant is evaluated on the initial state, then after every event that
//! changed something it reads — a `store_write` to a store it names (every store if it uses
//! `stores` as a whole), an `arrival`/`response` if it reads the metrics, any event if it reads
//! the clock. An `at-end` invariant is evaluated once, on the state after the last event.
//!
//! Honesty: an invariant is *exercised* only if something it reads changed during the run. One
//! that only ever saw the initial state says nothing about the system (it would hold on a system
//! that does nothing), so it is `not-exercised`, never a pass — even though it was evaluated.
//!
//! An evaluation error (a missing key, a type error, a non-boolean result) is a violation whose
//! finding names the invariant and the error: an invariant that cannot be judged on a state the
//! system reached is as much a finding as one that is false there.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::common::ast::{Expr, IdedExpr};
use cel::common::types::{CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString, CelUInt};
use cel::common::value::{Builtin, CowVal, Val};
use cel::context::VariableResolver;
use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, FunctionContext, Program, Value};
use fusebench_model::scenario::{Invariant, StoreKind, When};
use fusebench_model::{Scenario, expr};

use super::{Event, Judged, PropertyInfo, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

/// Keys listed in a finding; beyond, only counted.
const SHOWN_MAX: usize = 10;

/// The catalogue entries of the scenario's invariants, after the built-in properties.
pub(super) fn catalogue(s: &Scenario) -> impl Iterator<Item = PropertyInfo> + '_ {
    s.invariants
        .iter()
        .map(|i| PropertyInfo { id: i.name.clone().into(), summary: i.summary().into() })
}

/// One verdict per invariant of `s`, in declaration order.
pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Vec<Verdict> {
    if s.invariants.is_empty() {
        return Vec::new();
    }
    let mut judge = match Judge::new(s) {
        Ok(j) => j,
        Err((name, e)) => {
            // The model compiled every expression already: this is a bug, reported, not a panic.
            let why = format!("invariant `{name}` did not compile: {e}");
            return s
                .invariants
                .iter()
                .map(|i| Verdict::unjudged(i.name.clone(), why.clone()))
                .collect();
        }
    };
    judge.always(SimTime::ZERO, None);
    if let Err(e) = each_event(run, |line| judge.apply(line.t, &line.event)) {
        let why = unreadable(&e);
        return s
            .invariants
            .iter()
            .map(|i| Verdict::unjudged(i.name.clone(), why.clone()))
            .collect();
    }
    judge.finish()
}

/// A key change, in the order they happened: what a finding lists as "the values involved".
struct Change {
    store: String,
    key: String,
}

/// One invariant being judged.
struct Watch<'s> {
    inv: &'s Invariant,
    program: Program,
    /// Something it reads changed during the run.
    exercised: bool,
    evaluations: u64,
    violations: u64,
    /// The first violation: when, and what it says.
    first: Option<(SimTime, String, Vec<String>)>,
    /// `changes.len()` when it last held: the changes after it are those that broke it.
    held_at_change: usize,
    /// When something it reads last changed (an `at-end` violation is dated there).
    last_change: Option<SimTime>,
}

struct Judge<'s> {
    watches: Vec<Watch<'s>>,
    /// store → key → (version, value): the state findings quote.
    state: BTreeMap<String, BTreeMap<String, (u64, Value)>>,
    /// The same state as CEL reads it.
    cel: CelState,
    changes: Vec<Change>,
    now: SimTime,
    requests: i64,
    answered: i64,
    errors: i64,
}

impl<'s> Judge<'s> {
    fn new(s: &'s Scenario) -> Result<Self, (String, String)> {
        let mut cx = Context::with_env(expr::env());
        for (name, f) in functions() {
            cx.add_function(name, f).map_err(|e| ("(environment)".to_owned(), e.to_string()))?;
        }
        let mut state: BTreeMap<String, BTreeMap<String, (u64, Value)>> = BTreeMap::new();
        let mut initial = BTreeMap::new();
        for store in s.stores.iter().filter(|st| st.kind == StoreKind::Kv) {
            let rows: BTreeMap<String, (u64, Value)> = store
                .initial_entries()
                .map(|(k, v)| {
                    (
                        // As `store_write` lines are read back (`trace::text_value`).
                        String::from_utf8_lossy(&k).into_owned(),
                        (0, parse_value(&String::from_utf8_lossy(&v))),
                    )
                })
                .collect();
            initial.insert(store.name.clone(), map_of(rows.iter().map(|(k, (_, v))| (k, v))));
            state.insert(store.name.clone(), rows);
        }
        let initial = map_of(initial.iter());
        let cel = CelState {
            stores: to_val(&initial).into_builtin().map_or_else(CelMap::default, |b| match b {
                Builtin::Map(m) => m,
                _ => CelMap::default(),
            }),
            initial: to_val(&initial),
        };
        let mut watches = Vec::new();
        for inv in &s.invariants {
            let program = expr::compile(&inv.expr).map_err(|p| (inv.name.clone(), p.message))?;
            watches.push(Watch {
                inv,
                program,
                exercised: false,
                evaluations: 0,
                violations: 0,
                first: None,
                held_at_change: 0,
                last_change: None,
            });
        }
        // A store no invariant reads is not followed: its writes could change no evaluation
        // (an invariant is evaluated on the stores it reads, `Reads`) and no finding (which
        // quotes only keys the invariant reads). Most of a run's writes are often such writes.
        state.retain(|store, _| watches.iter().any(|w: &Watch<'_>| w.inv.reads.store(store)));
        Ok(Judge {
            watches,
            state,
            cel,
            changes: Vec::new(),
            now: SimTime::ZERO,
            requests: 0,
            answered: 0,
            errors: 0,
        })
    }

    /// Applies one event, then evaluates the `always` invariants it concerns.
    fn apply(&mut self, t: SimTime, event: &Event<'_>) {
        self.now = t;
        let mut store_changed = None;
        let mut metrics_changed = false;
        match event {
            TraceEvent::StoreWrite { store, key, version, value, .. } => {
                // The key and value an expression sees: the guest's text, not its trace
                // escape (a literal U+FFFD is doubled there, `trace::bytes_text`).
                let key = crate::trace::text_value(key);
                let key = &*key;
                let value = value.as_deref().map(crate::trace::text_value);
                if let Some(rows) = self.state.get_mut(&**store) {
                    let newer = rows.get(key).is_none_or(|(v, _)| *v <= *version);
                    if newer {
                        match value {
                            Some(raw) => {
                                let v = parse_value(&raw);
                                self.cel.set(store, key, Some(to_val(&v)));
                                rows.insert(key.to_string(), (*version, v));
                            }
                            None => {
                                self.cel.set(store, key, None);
                                rows.remove(key);
                            }
                        }
                        self.changes
                            .push(Change { store: store.to_string(), key: key.to_string() });
                        store_changed = Some(&**store);
                    }
                }
            }
            TraceEvent::Arrival { .. } => {
                self.requests += 1;
                metrics_changed = true;
            }
            TraceEvent::Response { outcome, .. } => {
                self.answered += 1;
                if outcome != "ok" {
                    self.errors += 1;
                }
                metrics_changed = true;
            }
            _ => {}
        }
        for w in &mut self.watches {
            let r = &w.inv.reads;
            let concerned = r.clock
                || (metrics_changed && r.metrics)
                || store_changed.is_some_and(|st| r.store(st));
            if concerned {
                w.exercised = true;
                w.last_change = Some(t);
            }
        }
        let any = self.watches.iter().any(|w| {
            w.inv.when == When::Always && {
                let r = &w.inv.reads;
                r.clock
                    || (metrics_changed && r.metrics)
                    || store_changed.is_some_and(|st| r.store(st))
            }
        });
        if any {
            self.always(t, Some((event, store_changed, metrics_changed)));
        }
    }

    /// Evaluates the `always` invariants concerned by the event just applied (all of them for
    /// the initial state, `event` = None).
    fn always(&mut self, t: SimTime, event: Option<(&Event<'_>, Option<&str>, bool)>) {
        let cx = context(&self.cel, self.now, [self.requests, self.answered, self.errors]);
        for w in &mut self.watches {
            if w.inv.when != When::Always {
                continue;
            }
            if let Some((_, store_changed, metrics_changed)) = event {
                let r = &w.inv.reads;
                let concerned = r.clock
                    || (metrics_changed && r.metrics)
                    || store_changed.is_some_and(|st| r.store(st));
                if !concerned {
                    continue;
                }
            }
            let outcome = evaluate(&w.program, &cx);
            w.evaluations += 1;
            match outcome {
                Ok(()) => w.held_at_change = self.changes.len(),
                Err(why) => {
                    w.violations += 1;
                    if w.first.is_none() {
                        let after = match event {
                            None => "on the initial state".to_owned(),
                            Some((e, _, _)) => format!("after `{}`{}", e.kind(), describe(e)),
                        };
                        let (involved, subjects) = involved(
                            "keys it reads that changed since it last held",
                            &self.changes[w.held_at_change..],
                            w.inv,
                            &self.state,
                        );
                        let text = format!(
                            "invariant `{}` {why} at {:.3} s, {after}{involved}",
                            w.inv.name,
                            t.as_secs_f64()
                        );
                        w.first = Some((t, text, subjects));
                    }
                }
            }
        }
    }

    /// Evaluates the `at-end` invariants and turns every watch into its verdict.
    fn finish(mut self) -> Vec<Verdict> {
        let end = self.now;
        let mut out = Vec::new();
        let cx = context(&self.cel, self.now, [self.requests, self.answered, self.errors]);
        for w in &mut self.watches {
            if w.inv.when == When::AtEnd {
                w.evaluations += 1;
                if let Err(why) = evaluate(&w.program, &cx) {
                    w.violations += 1;
                    let (involved, subjects) = involved(
                        "keys it reads written during the run",
                        &self.changes,
                        w.inv,
                        &self.state,
                    );
                    let text = format!(
                        "invariant `{}` {why} on the state the run ended in ({:.3} s){involved}",
                        w.inv.name,
                        end.as_secs_f64()
                    );
                    w.first = Some((w.last_change.unwrap_or(end), text, subjects));
                }
            }
            let mut reads: Vec<String> =
                w.inv.reads.stores.iter().map(|s| format!("store `{s}`")).collect();
            if w.inv.reads.all_stores {
                reads.push("every store".to_owned());
            }
            if w.inv.reads.clock {
                reads.push("the clock".to_owned());
            }
            if w.inv.reads.metrics {
                reads.push("the request counts".to_owned());
            }
            let reads =
                if reads.is_empty() { "nothing that changes".to_owned() } else { reads.join(", ") };
            let id = w.inv.name.clone();
            if !w.exercised {
                let why = format!(
                    "nothing it reads ({reads}) changed during the run, so it only saw the initial state"
                );
                out.push(Verdict::not_exercised(id, why));
                continue;
            }
            let note = format!(
                "`{}` ({}), reading {reads}: evaluated {} time(s), false or in error {} time(s)",
                w.inv.expr.trim(),
                w.inv.when.name(),
                w.evaluations,
                w.violations
            );
            match w.first.take() {
                None => out.push(Verdict::new(id, Vec::new(), vec![note])),
                Some((t, text, subjects)) => {
                    let mut findings = vec![text];
                    if w.violations > 1 {
                        findings.push(format!("{} violating state(s) in all", w.violations));
                    }
                    let mut subjects = subjects;
                    subjects.extend(w.inv.reads.stores.iter().cloned());
                    out.push(Verdict::new(id, findings, vec![note]).at_time(t).about(subjects));
                }
            }
        }
        out
    }
}

/// `Ok` when the program is true; otherwise what it was ("is false", "could not be evaluated:
/// …", "evaluated to 3, not a boolean").
fn evaluate(program: &Program, cx: &Context<'_, '_>) -> Result<(), String> {
    match program.execute(cx) {
        Ok(Value::Bool(true)) => Ok(()),
        Ok(Value::Bool(false)) => Err(match explain(program.expression(), cx) {
            Some(why) => format!("is false ({why})"),
            None => "is false".to_owned(),
        }),
        Ok(other) => Err(format!("evaluated to {}, not a boolean", show(&other))),
        Err(e) => Err(format!("could not be evaluated ({e})")),
    }
}

/// Why a false expression is false, when its shape says: the two sides of a comparison (of the
/// first false operand of a conjunction), evaluated on the same state.
fn explain(e: &IdedExpr, cx: &Context<'_, '_>) -> Option<String> {
    let Expr::Call(call) = &e.expr else { return None };
    match (call.func_name.as_str(), call.args.as_slice()) {
        ("_&&_", args) => args
            .iter()
            .find(|a| !matches!(cx.resolve(a), Ok(Value::Bool(true))))
            .and_then(|a| explain(a, cx)),
        ("_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_", [left, right]) => {
            let side = |a: &IdedExpr| {
                cx.resolve(a).map_or_else(|e| format!("an error ({e})"), |v| show(&v))
            };
            Some(format!("left side {}, right side {}", side(left), side(right)))
        }
        _ => None,
    }
}

/// The key of a `store_write`, for a finding.
fn describe(e: &Event<'_>) -> String {
    match e {
        TraceEvent::StoreWrite { store, key, value, .. } => match value {
            Some(v) => format!(" of `{store}`/`{key}` = {}", show(&parse_value(v))),
            None => format!(" deleting `{store}`/`{key}`"),
        },
        TraceEvent::Response { service, endpoint, outcome, .. } => {
            format!(" of `{service}.{endpoint}` ({outcome})")
        }
        TraceEvent::Arrival { service, endpoint, .. } => format!(" at `{service}.{endpoint}`"),
        _ => String::new(),
    }
}

/// The keys (of stores the invariant reads) among `changes`, with their current values: the
/// values involved in a violation. Returns the text and the subjects (stores and keys).
fn involved(
    label: &str,
    changes: &[Change],
    inv: &Invariant,
    state: &BTreeMap<String, BTreeMap<String, (u64, Value)>>,
) -> (String, Vec<String>) {
    let mut keys: BTreeMap<(&str, &str), ()> = BTreeMap::new();
    for c in changes.iter().rev() {
        if inv.reads.store(&c.store) {
            keys.insert((&c.store, &c.key), ());
        }
    }
    if keys.is_empty() {
        return (String::new(), Vec::new());
    }
    let mut shown = Vec::new();
    let mut subjects = Vec::new();
    for (store, key) in keys.keys().take(SHOWN_MAX) {
        let value = state
            .get(*store)
            .and_then(|rows| rows.get(*key))
            .map_or_else(|| "(absent)".to_owned(), |(_, v)| show(v));
        shown.push(format!("`{store}`/`{key}` = {value}"));
        subjects.push((*key).to_owned());
    }
    let more = keys.len().saturating_sub(SHOWN_MAX);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    (format!("; {label}: {}{more}", shown.join(", ")), subjects)
}

/// A stored value as CEL sees it: JSON when it parses as JSON, else the text itself.
fn parse_value(raw: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(v) => from_json(&v),
        Err(_) => Value::String(Arc::new(raw.to_owned())),
    }
}

fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(from_json).collect())),
        serde_json::Value::Object(o) => map_of(o.iter().map(|(k, v)| (k, from_json(v)))),
    }
}

/// A CEL map from string keys. CEL's map is a `HashMap`; nothing here iterates it into output:
/// `keys` and `values` sort, and findings show maps through [`show`], which sorts too.
#[allow(clippy::disallowed_types, reason = "the cel crate's map type; see the doc comment")]
fn map_of<K: AsRef<str>, V: std::borrow::Borrow<Value>>(
    entries: impl Iterator<Item = (K, V)>,
) -> Value {
    let map: std::collections::HashMap<Key, Value> = entries
        .map(|(k, v)| (Key::String(Arc::new(k.as_ref().to_owned())), v.borrow().clone()))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// A map's entries in key order.
fn sorted(m: &Map) -> Vec<(&Key, &Value)> {
    let mut entries: Vec<(&Key, &Value)> = m.map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// A value for a finding, maps in key order, cut to 120 characters.
fn show(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Map(m) => {
                out.push('{');
                for (i, (k, v)) in sorted(m).into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(&Value::from(k), out);
                    out.push_str(": ");
                    write(v, out);
                }
                out.push('}');
            }
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(v, out);
                }
                out.push(']');
            }
            Value::String(s) => out.push_str(&format!("{:?}", s.as_str())),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::UInt(u) => out.push_str(&format!("{u}u")),
            Value::Float(f) => out.push_str(&f.to_string()),
            Value::Bool(b) => out.push_str(&b.to_string()),
            Value::Null => out.push_str("null"),
            other => out.push_str(&format!("{other:?}")),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    if out.chars().count() > 120 {
        out = out.chars().take(120).collect::<String>() + "…";
    }
    out
}

/// The stores as CEL reads them. Each store is a CEL map kept up to date key by key as writes
/// are applied, and lent to every evaluation by reference through the context's variable
/// resolver: binding `stores` by value (`add_variable_from_value`) would convert the whole state
/// into CEL's representation at every evaluation, and the functions below read their arguments
/// in place for the same reason — an evaluation costs what the expression reads, not the size
/// of the state (benches/README.md, "the cost of `always`").
struct CelState {
    /// `stores`: store name → (key → value).
    stores: CelMap<'static>,
    /// `initial`: the same shape, `[store.init]`, never changed.
    initial: Box<dyn Val>,
}

impl CelState {
    /// Sets (or with `None` removes) `store`/`key`; only that entry changes.
    #[allow(clippy::disallowed_types, reason = "the cel crate's map type; see `map_of`")]
    fn set(&mut self, store: &str, key: &str, value: Option<Box<dyn Val>>) {
        let mut all = std::mem::take(&mut self.stores).into_inner();
        let name = CelMapKey::String(CelString::from(store.to_owned()));
        let mut rows = match all.remove(&name).and_then(Val::into_builtin) {
            Some(Builtin::Map(m)) => m.into_inner(),
            _ => std::collections::HashMap::new(),
        };
        let key = CelMapKey::String(CelString::from(key.to_owned()));
        match value {
            Some(v) => {
                rows.insert(key, v);
            }
            None => {
                rows.remove(&key);
            }
        }
        all.insert(name, Box::new(CelMap::from(rows)));
        self.stores = CelMap::from(all);
    }
}

impl VariableResolver for CelState {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        match variable {
            "stores" => Some(CowVal::Borrowed(&self.stores)),
            "initial" => Some(CowVal::Borrowed(self.initial.as_ref())),
            _ => None,
        }
    }
}

/// A context reading `cel` by reference, the clock and the counts (`requests`, `answered`,
/// `errors`) by value. Building one is a few small allocations: one per evaluation round.
fn context(
    cel: &CelState,
    now: SimTime,
    [requests, answered, errors]: [i64; 3],
) -> Context<'_, '_> {
    let mut cx = Context::with_env(expr::env());
    for (name, f) in functions() {
        // `Judge::new` registered the same functions once and refused a conflict there.
        let _ = cx.add_function(name, f);
    }
    cx.set_variable_resolver(cel);
    let now_ms = i64::try_from(now.nanos() / 1_000_000).unwrap_or(i64::MAX);
    cx.add_variable_from_value("now_ms", now_ms);
    cx.add_variable_from_value("requests", requests);
    cx.add_variable_from_value("answered", answered);
    cx.add_variable_from_value("errors", errors);
    cx
}

/// A value in CEL's evaluation representation. Values built from JSON always convert; the
/// fallback only keeps the function total.
fn to_val(v: &Value) -> Box<dyn Val> {
    Box::<dyn Val>::try_from(v.clone())
        .unwrap_or_else(|_| Box::new(CelString::from(show(v))) as Box<dyn Val>)
}

/// A function as the `cel` crate calls it: on the evaluated arguments, in place.
type Function = Box<
    dyn for<'c, 'a> Fn(&mut FunctionContext<'c, 'a>) -> Result<CowVal<'c, 'a>, ExecutionError>
        + Send
        + Sync,
>;

/// The functions of [`expr::FUNCTIONS`].
fn functions() -> [(&'static str, Function); 4] {
    [
        ("scan", Box::new(scan)),
        ("keys", Box::new(keys)),
        ("values", Box::new(values)),
        ("sum", Box::new(sum)),
    ]
}

/// A CEL value for a finding.
fn show_val(v: &dyn Val) -> String {
    Value::try_from(v).map_or_else(|_| format!("a {}", v.get_type().name()), |v| show(&v))
}

/// The `N` arguments of `function`.
fn args<'x, 'c, 'a, const N: usize>(
    ftx: &'x FunctionContext<'c, 'a>,
    function: &str,
) -> Result<[&'x (dyn Val + 'a); N], ExecutionError> {
    let all: Vec<&'x (dyn Val + 'a)> = ftx.args.iter().map(|a| &**a).collect();
    <[_; N]>::try_from(all).map_err(|all| {
        ExecutionError::function_error(
            function,
            format!("takes {N} argument(s), got {}", all.len()),
        )
    })
}

fn want_map<'x, 'a>(
    function: &str,
    v: &'x (dyn Val + 'a),
) -> Result<&'x CelMap<'a>, ExecutionError> {
    v.downcast_ref::<CelMap>().ok_or_else(|| {
        ExecutionError::function_error(function, format!("expects a map, got {}", show_val(v)))
    })
}

/// A map's entries in key order.
fn sorted_entries<'x, 'a>(m: &'x CelMap<'a>) -> Vec<(&'x CelMapKey<'a>, &'x (dyn Val + 'a))> {
    let mut entries: Vec<_> = m.inner().iter().map(|(k, v)| (k, v.as_ref())).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// `scan(map, prefix)`: the entries whose (string) key starts with `prefix`.
#[allow(clippy::disallowed_types, reason = "the cel crate's map type; see `map_of`")]
fn scan<'c, 'a>(ftx: &mut FunctionContext<'c, 'a>) -> Result<CowVal<'c, 'a>, ExecutionError> {
    let [m, prefix] = args::<2>(ftx, "scan")?;
    let m = want_map("scan", m)?;
    let Some(prefix) = prefix.downcast_ref::<CelString>() else {
        return Err(ExecutionError::function_error("scan", "expects a string prefix"));
    };
    let rows: std::collections::HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> = m
        .inner()
        .iter()
        .filter(|(k, _)| matches!(k, CelMapKey::String(s) if s.starts_with(prefix.inner())))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(CowVal::owned(CelMap::from(rows)))
}

/// `keys(map)`: the keys, sorted.
fn keys<'c, 'a>(ftx: &mut FunctionContext<'c, 'a>) -> Result<CowVal<'c, 'a>, ExecutionError> {
    let [m] = args::<1>(ftx, "keys")?;
    let m = want_map("keys", m)?;
    let items: Vec<Box<dyn Val + 'a>> =
        sorted_entries(m).into_iter().map(|(k, _)| k.inner().clone_as_boxed()).collect();
    Ok(CowVal::owned(CelList::from(items)))
}

/// `values(map)`: the values, in key order.
fn values<'c, 'a>(ftx: &mut FunctionContext<'c, 'a>) -> Result<CowVal<'c, 'a>, ExecutionError> {
    let [m] = args::<1>(ftx, "values")?;
    let m = want_map("values", m)?;
    let items: Vec<Box<dyn Val + 'a>> =
        sorted_entries(m).into_iter().map(|(_, v)| v.clone_as_boxed()).collect();
    Ok(CowVal::owned(CelList::from(items)))
}

/// `sum(list)`: exact (checked) over ints, a double as soon as one element is a double.
fn sum<'c, 'a>(ftx: &mut FunctionContext<'c, 'a>) -> Result<CowVal<'c, 'a>, ExecutionError> {
    let not_a_list = || ExecutionError::function_error("sum", "expects one list of numbers");
    let [list] = args::<1>(ftx, "sum").map_err(|_| not_a_list())?;
    let items = list.downcast_ref::<CelList>().ok_or_else(not_a_list)?;
    let overflow = || ExecutionError::function_error("sum", "overflow");
    let mut int: i64 = 0;
    let mut float: Option<f64> = None;
    for item in items.inner() {
        let item: &dyn Val = item.as_ref();
        if let Some(i) = item.downcast_ref::<CelInt>() {
            int = int.checked_add(*i.inner()).ok_or_else(overflow)?;
        } else if let Some(u) = item.downcast_ref::<CelUInt>() {
            let i = i64::try_from(*u.inner()).map_err(|_| overflow())?;
            int = int.checked_add(i).ok_or_else(overflow)?;
        } else if let Some(f) = item.downcast_ref::<CelDouble>() {
            *float.get_or_insert(0.0) += f.inner();
        } else {
            return Err(ExecutionError::function_error(
                "sum",
                format!("{} is not a number", show_val(item)),
            ));
        }
    }
    Ok(match float {
        Some(f) => CowVal::owned(CelDouble::from(f + int as f64)),
        None => CowVal::owned(CelInt::from(int)),
    })
}

#[cfg(test)]
mod tests;
