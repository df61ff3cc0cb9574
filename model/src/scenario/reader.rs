//! A strict, diagnostics-collecting reader over a spanned TOML tree.
//!
//! serde derive stops at the first error and loses most positions; a scenario author wants every
//! problem in the file at once, each with its line, column and field. This reader walks the
//! tree `toml` parses (every key and value carries its byte span), records every key it is
//! asked for, and reports the keys nobody asked for as unknown fields, with a "did you mean"
//! hint drawn from the keys that were asked for.

use std::collections::BTreeSet;
use std::str::FromStr;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, LineIndex, Location, Span, did_you_mean};

pub(crate) type Value<'s> = Spanned<DeValue<'s>>;

/// The file being read and the diagnostics found so far.
pub(crate) struct Cx<'s> {
    pub file: &'s str,
    pub text: &'s str,
    lines: LineIndex,
    pub diags: Vec<Diagnostic>,
}

impl<'s> Cx<'s> {
    pub fn new(file: &'s str, text: &'s str) -> Self {
        Cx { file, text, lines: LineIndex::new(text), diags: Vec::new() }
    }

    pub fn locate(&self, span: Span) -> Location {
        let (line, column) = self.lines.line_col(self.text, span.start);
        Location { file: self.file.to_owned(), line, column }
    }

    /// Records an error at `span` about `field`.
    pub fn error(&mut self, code: &str, span: Span, field: &str, message: impl Into<String>) {
        let d = Diagnostic::error(code, message).at(self.locate(span)).field(field);
        self.diags.push(d);
    }

    pub fn error_hint(
        &mut self,
        code: &str,
        span: Span,
        field: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut d = Diagnostic::error(code, message).at(self.locate(span)).field(field);
        d.hint = hint;
        self.diags.push(d);
    }
}

pub(crate) fn span_of<T>(v: &Spanned<T>) -> Span {
    v.span().into()
}

/// The TOML type name of a value, for "expected X, found Y" messages.
pub(crate) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// Reading one table: every key asked for is remembered, so [`Obj::finish`] can report the rest.
pub(crate) struct Obj<'a, 's> {
    table: &'a DeTable<'s>,
    pub span: Span,
    pub path: String,
    asked: BTreeSet<&'static str>,
}

impl<'a, 's> Obj<'a, 's> {
    /// Reads `value` as a table, or reports what it is instead.
    pub fn of(cx: &mut Cx<'_>, value: &'a Value<'s>, path: &str) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(table) => Some(Obj {
                table,
                span: span_of(value),
                path: path.to_owned(),
                asked: BTreeSet::new(),
            }),
            other => {
                let msg = format!("`{path}` must be a table, found {}", type_name(other));
                cx.error("parse.type", span_of(value), path, msg);
                None
            }
        }
    }

    pub fn root(table: &'a Spanned<DeTable<'s>>) -> Self {
        Obj {
            table: table.get_ref(),
            span: span_of(table),
            path: String::new(),
            asked: BTreeSet::new(),
        }
    }

    pub fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of `key`, if present.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value<'s>> {
        self.asked.insert(key);
        self.table.get(key)
    }

    /// Whether `key` is present (counts as asking for it).
    pub fn has(&mut self, key: &'static str) -> bool {
        self.get(key).is_some()
    }

    fn missing(&self, cx: &mut Cx<'_>, key: &str, what: &str) {
        let msg = format!("missing required field `{key}` ({what})");
        cx.error("parse.missing-field", self.span, &self.field(key), msg);
    }

    fn wrong_type(&self, cx: &mut Cx<'_>, key: &str, v: &Value<'_>, expected: &str) {
        let msg = format!("`{key}` must be {expected}, found {}", type_name(v.get_ref()));
        cx.error("parse.type", span_of(v), &self.field(key), msg);
    }

    /// A string, with its span.
    pub fn opt_str(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<(String, Span)> {
        let v = self.get(key)?;
        match v.get_ref().as_str() {
            Some(s) => Some((s.to_owned(), span_of(v))),
            None => {
                self.wrong_type(cx, key, v, "a string");
                None
            }
        }
    }

    pub fn req_str(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<(String, Span)> {
        if !self.has(key) {
            self.missing(cx, key, what);
            return None;
        }
        self.opt_str(cx, key)
    }

    pub fn opt_bool(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<bool> {
        let v = self.get(key)?;
        let b = v.get_ref().as_bool();
        if b.is_none() {
            self.wrong_type(cx, key, v, "true or false");
        }
        b
    }

    /// A number (integer or float) within `[min, max]`.
    pub fn opt_f64(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let v = self.get(key)?;
        let n = match v.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(i.as_str(), i.radix()).ok().map(|i| i as f64)
            }
            DeValue::Float(f) => f64::from_str(f.as_str()).ok(),
            _ => {
                self.wrong_type(cx, key, v, "a number");
                return None;
            }
        };
        match n {
            Some(n) if n.is_finite() && (min..=max).contains(&n) => Some(n),
            n => {
                let shown = n.map_or_else(|| "the value".to_owned(), |n| n.to_string());
                let msg = format!("`{key}` = {shown} is out of range (allowed: {min} to {max})");
                cx.error("parse.range", span_of(v), &self.field(key), msg);
                None
            }
        }
    }

    pub fn req_f64(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        min: f64,
        max: f64,
        what: &str,
    ) -> Option<f64> {
        if !self.has(key) {
            self.missing(cx, key, what);
            return None;
        }
        self.opt_f64(cx, key, min, max)
    }

    /// A whole number within `[min, max]`.
    pub fn opt_u64(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let v = self.get(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(cx, key, v, "a whole number");
            return None;
        };
        match u64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let msg =
                    format!("`{key}` = {} is out of range (allowed: {min} to {max})", i.as_str());
                cx.error("parse.range", span_of(v), &self.field(key), msg);
                None
            }
        }
    }

    pub fn req_u64(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        min: u64,
        max: u64,
        what: &str,
    ) -> Option<u64> {
        if !self.has(key) {
            self.missing(cx, key, what);
            return None;
        }
        self.opt_u64(cx, key, min, max)
    }

    /// A string that must be one of `choices` (given as `(name, value)` pairs).
    pub fn opt_enum<T: Copy>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        choices: &[(&'static str, T)],
    ) -> Option<T> {
        let (s, span) = self.opt_str(cx, key)?;
        if let Some((_, t)) = choices.iter().find(|(name, _)| *name == s) {
            return Some(*t);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let hint = did_you_mean(&s, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
        let msg = format!("`{key}` = \"{s}\" is not one of: {}", names.join(", "));
        cx.error_hint("parse.value", span, &self.field(key), msg, hint);
        None
    }

    /// An array of strings, each with its span.
    pub fn str_list(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Vec<(String, Span)> {
        let Some(v) = self.get(key) else { return Vec::new() };
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(cx, key, v, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref().as_str() {
                Some(s) => out.push((s.to_owned(), span_of(item))),
                None => {
                    let msg = format!(
                        "`{key}[{i}]` must be a string, found {}",
                        type_name(item.get_ref())
                    );
                    cx.error(
                        "parse.type",
                        span_of(item),
                        &format!("{}[{i}]", self.field(key)),
                        msg,
                    );
                }
            }
        }
        out
    }

    /// A sub-table, if present.
    pub fn opt_table(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Obj<'a, 's>> {
        let v = self.get(key)?;
        let path = self.field(key);
        Obj::of(cx, v, &path)
    }

    /// An array of tables (`[[key]]`), each with its path `key[i]`.
    pub fn table_list(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Vec<Obj<'a, 's>> {
        let Some(v) = self.get(key) else { return Vec::new() };
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(cx, key, v, "an array of tables (`[[...]]`)");
            return Vec::new();
        };
        let field = self.field(key);
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Obj::of(cx, item, &format!("{field}[{i}]")))
            .collect()
    }

    /// The entries of this table, for tables whose keys are data (e.g. contract fields).
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Span, &'a Value<'s>)> {
        self.table.iter().map(|(k, v)| (k.get_ref().as_ref(), span_of(k), v))
    }

    /// Reports every key nobody asked for.
    pub fn finish(self, cx: &mut Cx<'_>) {
        for (key, v) in self.table {
            let name: &str = key.get_ref().as_ref();
            if self.asked.contains(name) {
                continue;
            }
            let hint = did_you_mean(name, self.asked.iter().copied())
                .map(|k| format!("did you mean `{k}`?"));
            let hint = hint.or_else(|| {
                let known: Vec<&str> = self.asked.iter().copied().collect();
                (!known.is_empty()).then(|| format!("known fields here: {}", known.join(", ")))
            });
            let where_ = if self.path.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in `{}`", self.path)
            };
            let msg = format!("unknown field `{name}` {where_}");
            let _ = v;
            cx.error_hint("parse.unknown-field", span_of(key), &self.field(name), msg, hint);
        }
    }
}
