//! What-if edits of a scenario's TOML *source*, keeping the file's comments and layout.
//!
//! The GUI lets an architect change a Q threshold, a replica count, a placement or the fault
//! plan, then re-parses and re-checks the edited scenario and may save it back. [`apply`] makes
//! those changes on the text with `toml_edit`: only the value edited (or the key added or
//! removed) changes; every other byte of the file — comments, blank lines, indentation, key
//! order, number formats — is kept as written.
//!
//! Edits name elements as the scenario file does (a service, a store by `name`; an SLO or a fault
//! by its position in the file, 0-based, which is its index in [`Scenario`](crate::Scenario)
//! `quality.slos` / `faults` when the file parsed without errors). Values are not range-checked
//! here: the edited text goes back through [`parse`](crate::parse), whose diagnostics say what
//! is out of range and where.
//!
//! Pure, like the rest of the crate: text in, text out.

use std::fmt;

use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Key, Table, Value};

use crate::scenario::{Fault, FaultKind, FaultTarget, NameRef};

/// One what-if change to a scenario, by element name.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// `[[service]] name = service`: `replicas`.
    Replicas { service: String, replicas: u32 },
    /// `[[service]] name = service`: `concurrency` (requests in flight per replica).
    Concurrency { service: String, concurrency: u32 },
    /// `[[service]] name = service`: `node` (placement).
    Placement { service: String, node: String },
    /// `[[service]] name = service`: `load_balancing` (the name as the file writes it:
    /// `round-robin`, `random`, `least-outstanding`; the parser judges it).
    LoadBalancing { service: String, policy: String },
    /// One key of `[service.autoscale]` of the service, which must already have that table
    /// (adding one would need `max_replicas`, `metric` and `target` at once).
    Autoscale { service: String, field: AutoscaleField, value: Scalar },
    /// `[[store]] name = store`: `replicas`.
    StoreReplicas { store: String, replicas: u32 },
    /// A `[quality]` threshold; `[quality]` is created when the file has none.
    Quality { field: QualityField, value: f64 },
    /// One key of the `index`-th `[[quality.slo]]`; `None` removes the key.
    Slo { index: usize, field: SloField, value: Option<f64> },
    /// `[workload] arrival.rate_rps`, for the arrival kinds that have one (poisson, constant,
    /// on-off). A workload without `arrival` (the default, Poisson) gets
    /// `arrival = { kind = "poisson", rate_rps = … }`.
    ArrivalRate { rate_rps: f64 },
    /// Appends a `[[fault]]` after the last one (or at the end of the file).
    AddFault(FaultSpec),
    /// Removes the `index`-th `[[fault]]`, with the comment lines written right above it.
    RemoveFault { index: usize },
}

/// A scalar threshold of `[quality]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QualityField {
    CouplingMax,
    CohesionMin,
    ConvergenceMs,
}

impl QualityField {
    pub const ALL: [QualityField; 3] =
        [QualityField::CouplingMax, QualityField::CohesionMin, QualityField::ConvergenceMs];

    /// The key in the scenario file.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            QualityField::CouplingMax => "coupling_max",
            QualityField::CohesionMin => "cohesion_min",
            QualityField::ConvergenceMs => "convergence_ms",
        }
    }
}

/// A key of `[service.autoscale]` an [`Edit::Autoscale`] may set (scenarios/README.md has
/// their meaning; `model/src/scenario/autoscale.rs` their ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoscaleField {
    MinReplicas,
    MaxReplicas,
    Metric,
    Target,
    IntervalS,
    Tolerance,
    ScaleUpStabilisationS,
    ScaleDownStabilisationS,
    StartupMs,
    CpuRequest,
    ColdStart,
    ScaleToZeroGraceS,
    ActivatorCapacity,
    ActivatorTimeoutS,
}

impl AutoscaleField {
    pub const ALL: [AutoscaleField; 14] = [
        AutoscaleField::MinReplicas,
        AutoscaleField::MaxReplicas,
        AutoscaleField::Metric,
        AutoscaleField::Target,
        AutoscaleField::IntervalS,
        AutoscaleField::Tolerance,
        AutoscaleField::ScaleUpStabilisationS,
        AutoscaleField::ScaleDownStabilisationS,
        AutoscaleField::StartupMs,
        AutoscaleField::CpuRequest,
        AutoscaleField::ColdStart,
        AutoscaleField::ScaleToZeroGraceS,
        AutoscaleField::ActivatorCapacity,
        AutoscaleField::ActivatorTimeoutS,
    ];

    /// The key in the scenario file.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            AutoscaleField::MinReplicas => "min_replicas",
            AutoscaleField::MaxReplicas => "max_replicas",
            AutoscaleField::Metric => "metric",
            AutoscaleField::Target => "target",
            AutoscaleField::IntervalS => "interval_s",
            AutoscaleField::Tolerance => "tolerance",
            AutoscaleField::ScaleUpStabilisationS => "scale_up_stabilisation_s",
            AutoscaleField::ScaleDownStabilisationS => "scale_down_stabilisation_s",
            AutoscaleField::StartupMs => "startup_ms",
            AutoscaleField::CpuRequest => "cpu_request",
            AutoscaleField::ColdStart => "cold_start",
            AutoscaleField::ScaleToZeroGraceS => "scale_to_zero_grace_s",
            AutoscaleField::ActivatorCapacity => "activator_capacity",
            AutoscaleField::ActivatorTimeoutS => "activator_timeout_s",
        }
    }

    /// The field named `key` in the file.
    #[must_use]
    pub fn from_key(key: &str) -> Option<AutoscaleField> {
        Self::ALL.into_iter().find(|f| f.key() == key)
    }

    /// Whether the file writes it as a string (`metric`, `cold_start`); else a number.
    #[must_use]
    pub fn is_text(self) -> bool {
        matches!(self, AutoscaleField::Metric | AutoscaleField::ColdStart)
    }
}

/// A value an edit writes: a number (whole numbers as TOML integers) or a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Number(f64),
    Text(String),
}

/// An optional target of one `[[quality.slo]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SloField {
    P50Ms,
    P99Ms,
    Availability,
    ThroughputMinRps,
}

impl SloField {
    pub const ALL: [SloField; 4] =
        [SloField::P50Ms, SloField::P99Ms, SloField::Availability, SloField::ThroughputMinRps];

    /// The key in the scenario file.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            SloField::P50Ms => "p50_ms",
            SloField::P99Ms => "p99_ms",
            SloField::Availability => "availability",
            SloField::ThroughputMinRps => "throughput_min_rps",
        }
    }
}

/// A fault as the scenario file writes it: `kind` with its parameters (in [`FaultKind`]), the
/// target keys (in [`FaultTarget`]), `at_s` and `duration_s`.
///
/// The same kind/target pairs as the parser are accepted (see [`FaultSpec::check`]): a crash
/// targets a service (optionally one replica) or a node; a module swap a service; partition,
/// latency spike and loss a link (`between`); duplication and reorder a channel; replica lag a
/// store. Crash and module swap are instantaneous (no `duration_s`); every other kind needs one.
///
/// Names are [`NameRef`]s so the parsed types can be reused; their spans are ignored in the
/// file (write them with [`NameRef::new`]). `FaultSpec::from(&fault)` drops the spans of a
/// parsed [`Fault`], so a spec written by [`Edit::AddFault`] compares equal to the spec of the
/// fault parsed back.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub target: FaultTarget,
    /// When it starts, in seconds of simulated time.
    pub at_s: f64,
    /// How long it lasts; `None` for the instantaneous kinds (crash, module swap).
    pub duration_s: Option<f64>,
}

/// Why an edit could not be applied. Nothing is applied then: [`apply`] is all or nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("invalid TOML: {0}")]
    InvalidToml(String),
    #[error("no service named `{0}`")]
    NoService(String),
    #[error("no store named `{0}`")]
    NoStore(String),
    #[error("service `{0}` has no `[service.autoscale]` to edit")]
    NoAutoscale(String),
    #[error("no SLO #{index} (the scenario has {count} `[[quality.slo]]`)")]
    NoSlo { index: usize, count: usize },
    #[error("no fault #{index} (the scenario has {count} `[[fault]]`)")]
    NoFault { index: usize, count: usize },
    #[error("the scenario has no `[workload]`")]
    NoWorkload,
    #[error("arrival kind `{0}` has no `rate_rps` (only poisson, constant and on-off have one)")]
    NoRate(String),
    #[error("`{field}` = {value} is not a finite number")]
    NotFinite { field: String, value: f64 },
    #[error("invalid fault: {0}")]
    InvalidFault(String),
    /// The file does not have the shape the edit needs (e.g. `service` is not a list of tables).
    #[error("`{path}` {problem}")]
    Malformed { path: String, problem: String },
}

/// Applies edits in order to `text`; returns the new text. Untouched parts of the text
/// (comments, spacing, order) are kept byte for byte. On an error nothing is returned but the
/// error: the edits before it are not applied either.
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, EditError> {
    let mut doc: DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| EditError::InvalidToml(e.to_string()))?;
    if edits.is_empty() {
        return Ok(text.to_owned());
    }
    for edit in edits {
        apply_one(&mut doc, edit)?;
    }
    let out = doc.to_string();
    // toml_edit ends the lines it writes with `\n`; keep a CRLF file CRLF throughout.
    if uses_crlf(text) { Ok(to_crlf(&out)) } else { Ok(out) }
}

/// Whether every line break of `text` is `\r\n` (and there is one).
fn uses_crlf(text: &str) -> bool {
    let breaks = text.matches('\n').count();
    breaks > 0 && text.matches("\r\n").count() == breaks
}

/// `\n` not already preceded by `\r` becomes `\r\n`.
fn to_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut prev = '\0';
    for c in text.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

fn apply_one(doc: &mut DocumentMut, edit: &Edit) -> Result<(), EditError> {
    match edit {
        Edit::Replicas { service, replicas } => {
            named(doc, "service", service)?.set("replicas", int(*replicas));
        }
        Edit::Concurrency { service, concurrency } => {
            named(doc, "service", service)?.set("concurrency", int(*concurrency));
        }
        Edit::Placement { service, node } => {
            named(doc, "service", service)?.set("node", Value::from(node.as_str()));
        }
        Edit::LoadBalancing { service, policy } => {
            named(doc, "service", service)?.set("load_balancing", Value::from(policy.as_str()));
        }
        Edit::Autoscale { service, field, value } => {
            let v = match value {
                Scalar::Number(n) => number(&format!("autoscale.{}", field.key()), *n)?,
                Scalar::Text(t) => Value::from(t.as_str()),
            };
            named(doc, "service", service)?
                .into_sub("autoscale")
                .ok_or_else(|| EditError::NoAutoscale(service.clone()))?
                .set(field.key(), v);
        }
        Edit::StoreReplicas { store, replicas } => {
            named(doc, "store", store)?.set("replicas", int(*replicas));
        }
        Edit::Quality { field, value } => {
            let v = number(&format!("quality.{}", field.key()), *value)?;
            quality(doc)?.set(field.key(), v);
        }
        Edit::Slo { index, field, value } => {
            let v = match value {
                Some(v) => Some(number(&format!("quality.slo[{index}].{}", field.key()), *v)?),
                None => None,
            };
            let mut slo = slo(doc, *index)?;
            match v {
                Some(v) => slo.set(field.key(), v),
                None => slo.remove(field.key()),
            }
        }
        Edit::ArrivalRate { rate_rps } => {
            let v = number("workload.arrival.rate_rps", *rate_rps)?;
            arrival_rate(doc, v)?;
        }
        Edit::AddFault(spec) => add_fault(doc, spec)?,
        Edit::RemoveFault { index } => remove_fault(doc, *index)?,
    }
    Ok(())
}

// --- finding what to edit -------------------------------------------------------------------

/// The `[[key]]` element whose `name` is `name` (`service` → NoService, `store` → NoStore).
fn named<'a>(doc: &'a mut DocumentMut, key: &str, name: &str) -> Result<TableMut<'a>, EditError> {
    let found = TableMut::Std(doc.as_table_mut())
        .into_list(key)
        .into_iter()
        .find(|t| t.get_str("name") == Some(name));
    found.ok_or_else(|| match key {
        "store" => EditError::NoStore(name.to_owned()),
        _ => EditError::NoService(name.to_owned()),
    })
}

/// `[quality]`, created (at the end of the file) when missing.
fn quality(doc: &mut DocumentMut) -> Result<TableMut<'_>, EditError> {
    if !doc.as_table().contains_key("quality") {
        let t = last_table(doc);
        doc.as_table_mut().insert("quality", Item::Table(t));
    }
    let item = doc.as_table_mut().get_mut("quality").expect("inserted above");
    if let Item::Table(t) = item
        && t.is_implicit()
    {
        // `[[quality.slo]]` alone makes an implicit `quality`; a key in it needs a header,
        // printed right before the first SLO: it takes over the comments above that SLO.
        t.set_implicit(false);
        if let Some(Item::ArrayOfTables(slos)) = t.get_mut("slo")
            && let Some(first) = slos.get_mut(0)
            && let Some(prefix) = first.decor().prefix().and_then(|p| p.as_str())
            && prefix.contains('#')
        {
            let indent = last_line(prefix);
            let above = prefix[..prefix.len() - indent.len()].to_owned();
            let indent = format!("\n{indent}");
            first.decor_mut().set_prefix(indent);
            t.decor_mut().set_prefix(above);
        }
    }
    TableMut::of_item(item).ok_or_else(|| malformed("quality", "is not a table"))
}

/// A new table printed at the end of the document, after every other table. It takes over
/// blank lines that end the file, so the file still ends with the last key.
fn last_table(doc: &mut DocumentMut) -> Table {
    let mut t = Table::new();
    t.set_position(Some(max_position(doc.as_table()).map_or(0, |p| p + 1)));
    if let Some(trailing) = doc.trailing().as_str()
        && !trailing.is_empty()
        && trailing.chars().all(char::is_whitespace)
    {
        let blank = trailing.to_owned();
        doc.set_trailing("");
        t.decor_mut().set_prefix(blank);
    }
    t
}

fn slo(doc: &mut DocumentMut, index: usize) -> Result<TableMut<'_>, EditError> {
    let slos = TableMut::Std(doc.as_table_mut())
        .into_sub("quality")
        .map(|q| q.into_list("slo"))
        .unwrap_or_default();
    let count = slos.len();
    slos.into_iter().nth(index).ok_or(EditError::NoSlo { index, count })
}

fn arrival_rate(doc: &mut DocumentMut, rate: Value) -> Result<(), EditError> {
    let mut workload =
        TableMut::Std(doc.as_table_mut()).into_sub("workload").ok_or(EditError::NoWorkload)?;
    if !workload.contains("arrival") {
        // No `arrival` means Poisson (scenarios/README.md); keep that and give it the rate.
        let mut a = InlineTable::new();
        a.insert("kind", Value::from("poisson"));
        a.insert("rate_rps", rate);
        workload.set("arrival", Value::InlineTable(a));
        return Ok(());
    }
    let mut arrival = workload
        .into_sub("arrival")
        .ok_or_else(|| malformed("workload.arrival", "is not a table"))?;
    let kind = arrival
        .get_str("kind")
        .ok_or_else(|| malformed("workload.arrival", "has no string `kind`"))?;
    match kind {
        "poisson" | "constant" | "on-off" => {
            arrival.set("rate_rps", rate);
            Ok(())
        }
        other => Err(EditError::NoRate(other.to_owned())),
    }
}

fn add_fault(doc: &mut DocumentMut, spec: &FaultSpec) -> Result<(), EditError> {
    spec.check()?;
    let pairs = spec.pairs();
    if !doc.as_table().contains_key("fault") {
        let mut t = last_table(doc);
        for (k, v) in pairs {
            t.insert(k, Item::Value(v));
        }
        let mut list = ArrayOfTables::new();
        list.push(t);
        doc.as_table_mut().insert("fault", Item::ArrayOfTables(list));
        return Ok(());
    }
    match doc.as_table_mut().get_mut("fault") {
        Some(Item::ArrayOfTables(list)) => {
            // Follow the layout of the last fault: indentation of its header and keys. No
            // position: it is printed right after the table before it, the last fault.
            let (header_indent, key_indent) = list
                .iter()
                .last()
                .map(|t| {
                    let header = t.decor().prefix().and_then(|p| p.as_str()).map(last_line);
                    (header.filter(|s| is_blank(s)).unwrap_or("").to_owned(), indent_of(t))
                })
                .unwrap_or_default();
            let mut t = Table::new();
            t.decor_mut().set_prefix(format!("\n{header_indent}"));
            for (k, v) in pairs {
                t.insert(k, Item::Value(v));
                if let Some(mut key) = t.key_mut(k) {
                    key.leaf_decor_mut().set_prefix(key_indent.as_str());
                }
            }
            list.push(t);
        }
        Some(Item::Value(Value::Array(list))) => {
            let mut t = InlineTable::new();
            for (k, v) in pairs {
                t.insert(k, v);
            }
            let mut v = Value::InlineTable(t);
            if let Some(last) = list.iter().last() {
                *v.decor_mut() = last.decor().clone();
            }
            list.push_formatted(v);
        }
        _ => return Err(malformed("fault", "is not a list of tables (`[[fault]]`)")),
    }
    Ok(())
}

fn remove_fault(doc: &mut DocumentMut, index: usize) -> Result<(), EditError> {
    let root = doc.as_table_mut();
    let emptied = match root.get_mut("fault") {
        None => return Err(EditError::NoFault { index, count: 0 }),
        Some(Item::ArrayOfTables(list)) => {
            if index >= list.len() {
                return Err(EditError::NoFault { index, count: list.len() });
            }
            list.remove(index);
            list.is_empty()
        }
        Some(Item::Value(Value::Array(list))) => {
            if index >= list.len() {
                return Err(EditError::NoFault { index, count: list.len() });
            }
            list.remove(index);
            list.is_empty()
        }
        Some(_) => return Err(malformed("fault", "is not a list of tables (`[[fault]]`)")),
    };
    if emptied {
        root.remove("fault");
    }
    Ok(())
}

fn malformed(path: &str, problem: &str) -> EditError {
    EditError::Malformed { path: path.to_owned(), problem: problem.to_owned() }
}

/// The highest document position of any table (the order tables are printed in).
fn max_position(t: &Table) -> Option<isize> {
    let mut max = t.position();
    for (_, item) in t.iter() {
        let sub = match item {
            Item::Table(t) => max_position(t),
            Item::ArrayOfTables(list) => list.iter().filter_map(max_position).max(),
            _ => None,
        };
        max = max.max(sub);
    }
    max
}

// --- writing values ---------------------------------------------------------------------------

fn int(n: u32) -> Value {
    Value::from(i64::from(n))
}

/// A number as the parser reads it: a whole number is written as a TOML integer (the style of
/// the scenario files, and exact up to 2^53), anything else as a float whose text reads back as
/// the same `f64`.
fn number(field: &str, v: f64) -> Result<Value, EditError> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if !v.is_finite() {
        return Err(EditError::NotFinite { field: field.to_owned(), value: v });
    }
    if v.fract() == 0.0 && v.abs() <= EXACT {
        // Exact: |v| ≤ 2^53 and whole.
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::from(v as i64));
    }
    Ok(Value::from(v))
}

/// The text after the last line break.
fn last_line(s: &str) -> &str {
    s.rfind('\n').map_or(s, |i| &s[i + 1..])
}

fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c == ' ' || c == '\t')
}

/// The indentation of a table's keys (that of its last plain key), for a key added to it.
fn indent_of(t: &Table) -> String {
    t.iter()
        .filter(|(_, item)| item.is_value())
        .filter_map(|(k, _)| t.key(k))
        .last()
        .and_then(|k| k.leaf_decor().prefix().and_then(|p| p.as_str()))
        .map(last_line)
        .filter(|s| is_blank(s))
        .unwrap_or("")
        .to_owned()
}

/// A table written either way: `[header]` / `[[header]]` / dotted keys, or `{ inline }`.
enum TableMut<'a> {
    Std(&'a mut Table),
    Inline(&'a mut InlineTable),
}

impl<'a> TableMut<'a> {
    fn of_item(item: &'a mut Item) -> Option<Self> {
        match item {
            Item::Table(t) => Some(TableMut::Std(t)),
            Item::Value(v) => Self::of_value(v),
            _ => None,
        }
    }

    fn of_value(v: &'a mut Value) -> Option<Self> {
        v.as_inline_table_mut().map(TableMut::Inline)
    }

    fn contains(&self, key: &str) -> bool {
        match self {
            TableMut::Std(t) => t.contains_key(key),
            TableMut::Inline(t) => t.contains_key(key),
        }
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        match self {
            TableMut::Std(t) => t.get(key)?.as_str(),
            TableMut::Inline(t) => t.get(key)?.as_str(),
        }
    }

    /// The sub-table `key`.
    fn into_sub(self, key: &str) -> Option<TableMut<'a>> {
        match self {
            TableMut::Std(t) => TableMut::of_item(t.get_mut(key)?),
            TableMut::Inline(t) => TableMut::of_value(t.get_mut(key)?),
        }
    }

    /// The tables of the list `key`: `[[key]]` or `key = [{ … }, …]`.
    fn into_list(self, key: &str) -> Vec<TableMut<'a>> {
        match self {
            TableMut::Std(t) => match t.get_mut(key) {
                Some(Item::ArrayOfTables(list)) => list.iter_mut().map(TableMut::Std).collect(),
                Some(Item::Value(v)) => value_list(v),
                _ => Vec::new(),
            },
            TableMut::Inline(t) => t.get_mut(key).map(value_list).unwrap_or_default(),
        }
    }

    /// Sets `key` to `new`: in place (keeping the spacing and comment around the old value), or
    /// as a new key after the last one, indented like its siblings.
    fn set(&mut self, key: &str, mut new: Value) {
        match self {
            TableMut::Std(t) => {
                if let Some(old) = t.get_mut(key).and_then(Item::as_value_mut) {
                    *new.decor_mut() = old.decor().clone();
                    *old = new;
                    return;
                }
                let indent = indent_of(t);
                t.insert(key, Item::Value(new));
                if let Some(mut k) = t.key_mut(key) {
                    k.leaf_decor_mut().set_prefix(indent);
                }
            }
            TableMut::Inline(t) => {
                if let Some(old) = t.get_mut(key) {
                    *new.decor_mut() = old.decor().clone();
                    *old = new;
                    return;
                }
                // The new pair looks like the last one, which passes on the space before `}`.
                let last = t.iter().last().map(|(k, _)| k.to_owned());
                let style = last.as_deref().and_then(|last| {
                    let (k, v) = t.get_key_value(last)?;
                    Some((k.leaf_decor().clone(), v.as_value()?.decor().clone()))
                });
                match style {
                    Some((key_decor, value_decor)) => {
                        if let Some(prev) = last.as_deref().and_then(|l| t.get_mut(l))
                            && prev.decor().suffix().is_some()
                        {
                            prev.decor_mut().set_suffix("");
                        }
                        *new.decor_mut() = value_decor;
                        t.insert_formatted(&Key::new(key).with_leaf_decor(key_decor), new);
                    }
                    None => {
                        t.insert(key, new);
                    }
                }
            }
        }
    }

    /// Removes `key` (a table's key takes the comment lines right above it along).
    fn remove(&mut self, key: &str) {
        match self {
            TableMut::Std(t) => {
                t.remove(key);
            }
            TableMut::Inline(t) => {
                let was_last = t.iter().last().is_some_and(|(k, _)| k == key);
                let Some(removed) = t.remove(key) else { return };
                if was_last
                    && let Some(suffix) = removed.decor().suffix().cloned()
                    && let Some((_, last)) = t.iter_mut().last()
                {
                    last.decor_mut().set_suffix(suffix);
                }
            }
        }
    }
}

/// The inline tables of an array value.
fn value_list(v: &mut Value) -> Vec<TableMut<'_>> {
    match v.as_array_mut() {
        Some(a) => a.iter_mut().filter_map(TableMut::of_value).collect(),
        None => Vec::new(),
    }
}

// --- faults -------------------------------------------------------------------------------------

impl FaultSpec {
    /// The `kind` key's value: `crash`, `partition`, `latency-spike`, `loss`, `duplication`,
    /// `reorder`, `replica-lag` or `module-swap`.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether the parser would accept this kind with this target and duration, and every
    /// number is finite. (Ranges and names are left to the parser's diagnostics.)
    pub fn check(&self) -> Result<(), EditError> {
        use FaultKind as K;
        use FaultTarget as T;
        let kind = self.kind_name();
        let (fits, needs) = match &self.kind {
            K::Crash { .. } => (
                matches!(self.target, T::Service { .. } | T::Node { .. }),
                "a service (optionally one replica) or a node",
            ),
            K::ModuleSwap { .. } => (matches!(self.target, T::Service { .. }), "a service"),
            K::Partition | K::LatencySpike { .. } | K::Loss { .. } => {
                (matches!(self.target, T::Link { .. }), "a link (`between` two nodes)")
            }
            K::Duplication { .. } | K::Reorder { .. } => {
                (matches!(self.target, T::Channel { .. }), "a channel")
            }
            K::ReplicaLag { .. } => (matches!(self.target, T::Store { .. }), "a store"),
        };
        if !fits {
            return Err(EditError::InvalidFault(format!(
                "a `{kind}` fault cannot target {}: it needs {needs}",
                TargetText(&self.target)
            )));
        }
        let instantaneous = matches!(self.kind, K::Crash { .. } | K::ModuleSwap { .. });
        match (instantaneous, self.duration_s) {
            (true, Some(_)) => {
                return Err(EditError::InvalidFault(format!(
                    "a `{kind}` fault is instantaneous: it takes no `duration_s`"
                )));
            }
            (false, None) => {
                return Err(EditError::InvalidFault(format!(
                    "a `{kind}` fault needs a `duration_s`"
                )));
            }
            _ => {}
        }
        for (k, v) in self.numbers() {
            if !v.is_finite() {
                return Err(EditError::NotFinite { field: format!("fault.{k}"), value: v });
            }
        }
        Ok(())
    }

    /// The numeric keys and their values.
    fn numbers(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![("at_s", self.at_s)];
        if let Some(d) = self.duration_s {
            out.push(("duration_s", d));
        }
        match &self.kind {
            FaultKind::Crash { restart_after_s: Some(r) } => out.push(("restart_after_s", *r)),
            FaultKind::LatencySpike { extra_ms } | FaultKind::ReplicaLag { extra_ms } => {
                out.push(("extra_ms", *extra_ms));
            }
            FaultKind::Loss { rate } | FaultKind::Duplication { rate } => {
                out.push(("rate", *rate));
            }
            FaultKind::Reorder { jitter_ms } => out.push(("jitter_ms", *jitter_ms)),
            FaultKind::Crash { restart_after_s: None }
            | FaultKind::Partition
            | FaultKind::ModuleSwap { .. } => {}
        }
        out
    }

    /// The keys of its `[[fault]]` table, in the order the scenario files write them: kind,
    /// target, at_s, duration_s, parameters. Numbers must have been checked finite.
    fn pairs(&self) -> Vec<(&'static str, Value)> {
        let mut out = vec![("kind", Value::from(self.kind_name()))];
        match &self.target {
            FaultTarget::Service { service, replica } => {
                out.push(("service", Value::from(service.as_str())));
                if let Some(r) = replica {
                    out.push(("replica", int(*r)));
                }
            }
            FaultTarget::Node { node } => out.push(("node", Value::from(node.as_str()))),
            FaultTarget::Link { between: [a, b] } => {
                let ends: toml_edit::Array = [a.as_str(), b.as_str()].into_iter().collect();
                out.push(("between", Value::Array(ends)));
            }
            FaultTarget::Channel { channel } => {
                out.push(("channel", Value::from(channel.as_str())));
            }
            FaultTarget::Store { store } => out.push(("store", Value::from(store.as_str()))),
        }
        for (k, v) in self.numbers() {
            // Finite: checked by `check`; a NaN here would only be reported by the parser.
            out.push((k, number(k, v).unwrap_or_else(|_| Value::from(v))));
        }
        if let FaultKind::ModuleSwap { module } = &self.kind {
            out.push(("module", Value::from(module.as_str())));
        }
        out
    }
}

fn bare(n: &NameRef) -> NameRef {
    NameRef::new(n.name.clone())
}

impl From<&Fault> for FaultSpec {
    /// The spec of a parsed fault, without source spans.
    fn from(f: &Fault) -> Self {
        let kind = match &f.kind {
            FaultKind::ModuleSwap { module } => FaultKind::ModuleSwap { module: bare(module) },
            other => other.clone(),
        };
        let target = match &f.target {
            FaultTarget::Service { service, replica } => {
                FaultTarget::Service { service: bare(service), replica: *replica }
            }
            FaultTarget::Node { node } => FaultTarget::Node { node: bare(node) },
            FaultTarget::Link { between: [a, b] } => {
                FaultTarget::Link { between: [bare(a), bare(b)] }
            }
            FaultTarget::Channel { channel } => FaultTarget::Channel { channel: bare(channel) },
            FaultTarget::Store { store } => FaultTarget::Store { store: bare(store) },
        };
        FaultSpec { kind, target, at_s: f.at_s, duration_s: f.duration_s }
    }
}

// --- descriptions -------------------------------------------------------------------------------

struct TargetText<'a>(&'a FaultTarget);

impl fmt::Display for TargetText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            FaultTarget::Service { service, replica: Some(r) } => {
                write!(f, "service {service} replica {r}")
            }
            FaultTarget::Service { service, replica: None } => write!(f, "service {service}"),
            FaultTarget::Node { node } => write!(f, "node {node}"),
            FaultTarget::Link { between: [a, b] } => write!(f, "link {a}–{b}"),
            FaultTarget::Channel { channel } => write!(f, "channel {channel}"),
            FaultTarget::Store { store } => write!(f, "store {store}"),
        }
    }
}

impl fmt::Display for FaultSpec {
    /// E.g. `crash service payments replica 0 at 10 s, restart after 5 s` or
    /// `latency-spike link edge-paris–cloud-eu at 20 s for 3 s, +40 ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} at {} s", self.kind_name(), TargetText(&self.target), self.at_s)?;
        if let Some(d) = self.duration_s {
            write!(f, " for {d} s")?;
        }
        match &self.kind {
            FaultKind::Crash { restart_after_s: Some(r) } => write!(f, ", restart after {r} s"),
            FaultKind::Crash { restart_after_s: None } | FaultKind::Partition => Ok(()),
            FaultKind::LatencySpike { extra_ms } | FaultKind::ReplicaLag { extra_ms } => {
                write!(f, ", +{extra_ms} ms")
            }
            FaultKind::Loss { rate } | FaultKind::Duplication { rate } => {
                write!(f, ", rate {rate}")
            }
            FaultKind::Reorder { jitter_ms } => write!(f, ", jitter {jitter_ms} ms"),
            FaultKind::ModuleSwap { module } => write!(f, " to {module}"),
        }
    }
}

impl fmt::Display for Edit {
    /// A short description for a list of pending changes, e.g. `orders.replicas = 4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edit::Replicas { service, replicas } => write!(f, "{service}.replicas = {replicas}"),
            Edit::Concurrency { service, concurrency } => {
                write!(f, "{service}.concurrency = {concurrency}")
            }
            Edit::Placement { service, node } => write!(f, "{service}.node = {node}"),
            Edit::LoadBalancing { service, policy } => {
                write!(f, "{service}.load_balancing = {policy}")
            }
            Edit::Autoscale { service, field, value } => match value {
                Scalar::Number(n) => write!(f, "{service}.autoscale.{} = {n}", field.key()),
                Scalar::Text(t) => write!(f, "{service}.autoscale.{} = {t}", field.key()),
            },
            Edit::StoreReplicas { store, replicas } => {
                write!(f, "store {store}.replicas = {replicas}")
            }
            Edit::Quality { field, value } => write!(f, "quality.{} = {value}", field.key()),
            Edit::Slo { index, field, value: Some(v) } => {
                write!(f, "quality.slo[{index}].{} = {v}", field.key())
            }
            Edit::Slo { index, field, value: None } => {
                write!(f, "quality.slo[{index}].{} removed", field.key())
            }
            Edit::ArrivalRate { rate_rps } => write!(f, "workload.arrival.rate_rps = {rate_rps}"),
            Edit::AddFault(spec) => write!(f, "add fault: {spec}"),
            Edit::RemoveFault { index } => write!(f, "remove fault[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests;
