//! User-stated invariants (`[[invariant]]`): a name, a CEL expression over the stores, the
//! clock and a few metrics, and when it must hold. The expression is compiled and every name in
//! it checked at load time (`crate::expr`), so a typo is an error at the file, line and column
//! of the offending character inside the `expr` string.

use serde::Serialize;

use super::reader::{Cx, Obj, span_of};
use super::{Store, StoreKind};
use crate::diagnostic::Span;
use crate::expr::{self, Reads};

/// The ids of the built-in dynamic properties (sim's `PROPERTIES`; a sim test keeps the two
/// lists equal): an invariant may not take one, or its verdict would be confused with theirs.
pub const BUILTIN_PROPERTY_IDS: &[&str] = &[
    "idempotence",
    "eventual-consistency",
    "no-lost-update",
    "cache-staleness",
    "acked-writes-survive",
    "no-loss",
    "slo",
    "sandbox-containment",
    "dynamic-coupling",
    "retry-amplification",
    "authorization-never-bypassed",
    "rollout-safe",
];

/// When an invariant must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    /// In every state of the run: after each event that changed what it reads.
    Always,
    /// In the state the run ends in, once its traffic has quiesced.
    AtEnd,
}

impl When {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            When::Always => "always",
            When::AtEnd => "at-end",
        }
    }
}

/// One `[[invariant]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invariant {
    /// Its property id in verdicts and reports.
    pub name: String,
    /// The CEL expression, as written; it compiled and every name in it resolved.
    pub expr: String,
    pub when: When,
    pub description: Option<String>,
    /// What the expression reads (stores, clock, metrics).
    pub reads: Reads,
    #[serde(skip)]
    pub span: Span,
}

impl Invariant {
    /// What it asserts, for the property catalogue: its description, else its expression.
    #[must_use]
    pub fn summary(&self) -> String {
        let text = self.description.as_deref().unwrap_or(&self.expr);
        format!("{} ({})", text.trim(), self.when.name())
    }
}

/// Reads every `[[invariant]]` table against the stores already read.
pub(crate) fn read_all(
    tables: Vec<Obj<'_, '_>>,
    cx: &mut Cx<'_>,
    stores: &[Store],
) -> Vec<Invariant> {
    let kv: Vec<&str> =
        stores.iter().filter(|s| s.kind == StoreKind::Kv).map(|s| s.name.as_str()).collect();
    let other: Vec<&str> =
        stores.iter().filter(|s| s.kind != StoreKind::Kv).map(|s| s.name.as_str()).collect();
    let mut out: Vec<Invariant> = Vec::new();
    for t in tables {
        let path = t.path.clone();
        if let Some(inv) = read(cx, t, &kv, &other) {
            if out.iter().any(|o| o.name == inv.name) {
                let msg = format!("invariant `{}` is declared twice", inv.name);
                cx.error("parse.duplicate", inv.span, &format!("{path}.name"), msg);
                continue;
            }
            out.push(inv);
        }
    }
    out
}

fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>, kv: &[&str], other: &[&str]) -> Option<Invariant> {
    let name = o.req_str(cx, "name", "the invariant's id in verdicts");
    let when = if o.has("when") {
        o.opt_enum(cx, "when", &[("always", When::Always), ("at-end", When::AtEnd)])
    } else {
        Some(When::Always)
    };
    let description = o.opt_str(cx, "description").map(|d| d.0);
    let raw = if o.has("expr") { o.get("expr") } else { None };
    let expr_text = o.req_str(cx, "expr", "a CEL expression that must be true");
    let span = o.span;
    let field = o.field("expr");
    let name_field = o.field("name");
    o.finish(cx);
    let (name, name_span) = name?;
    if !valid_id(&name) {
        let msg = format!(
            "invariant name `{name}` must be lower-case letters, digits and `-` (it is a property id)"
        );
        cx.error("parse.value", name_span, &name_field, msg);
    } else if BUILTIN_PROPERTY_IDS.contains(&name.as_str()) {
        let msg = format!("invariant name `{name}` is the id of a built-in property");
        cx.error("parse.duplicate", name_span, &name_field, msg);
    }
    let (text, text_span) = expr_text?;
    let reads = match expr::analyse(&text, kv, other) {
        Ok((_, reads)) => reads,
        Err(problems) => {
            for p in problems {
                let at = raw.map_or(text_span.start, |v| {
                    offset_in_source(cx.text, span_of(v), &text, p.at)
                });
                let msg = format!("invariant `{name}`: {}", p.message);
                cx.error_hint("parse.expr", Span::new(at, at), &field, msg, p.hint);
            }
            return None;
        }
    };
    Some(Invariant { name, expr: text, when: when?, description, reads, span })
}

fn valid_id(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_lowercase()
}

/// Where byte `at` of a string's value is in the source, given the span of the TOML string
/// (quotes included). Exact when the string holds no escape (its raw text is its value), which
/// is how expressions are written (`'…'` and `'''…'''` literal strings never have escapes);
/// otherwise the string's first character.
fn offset_in_source(source: &str, span: Span, value: &str, at: usize) -> usize {
    let raw = source.get(span.start..span.end).unwrap_or("");
    let mut open = if raw.starts_with("\"\"\"") || raw.starts_with("'''") { 3 } else { 1 };
    if open == 3 {
        // A newline right after a multi-line string's opening delimiter is not part of it.
        if raw[3..].starts_with("\r\n") {
            open += 2;
        } else if raw[3..].starts_with('\n') {
            open += 1;
        }
    }
    let inner = raw.get(open..open + value.len());
    if inner == Some(value) { span.start + open + at } else { span.start + open.min(raw.len()) }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Diagnostic;
    use crate::scenario::parse;

    const HEAD: &str = r#"[system]
name = "bank"

[[node]]
name = "n"
tier = "cloud"

[[store]]
name = "ledger"
kind = "kv"
nodes = ["n"]

[[store]]
name = "hot"
kind = "cache"
nodes = ["n"]
capacity = 10
"#;

    fn diags(tail: &str) -> Vec<Diagnostic> {
        let p = parse("bank.toml", &format!("{HEAD}{tail}"));
        p.diagnostics.into_iter().filter(Diagnostic::is_error).collect()
    }

    /// The 1-based line and column of the first occurrence of `needle` in the whole file.
    fn line_col_of(tail: &str, needle: &str) -> (usize, usize) {
        let text = format!("{HEAD}{tail}");
        let at = text.find(needle).expect("needle");
        let line = text[..at].matches('\n').count() + 1;
        let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, col)
    }

    #[test]
    fn an_invariant_is_read_with_its_defaults() {
        let p = parse(
            "bank.toml",
            &format!(
                "{HEAD}\n[[invariant]]\nname = \"non-negative\"\nexpr = 'values(stores.ledger).all(v, v >= 0)'\n\n[[invariant]]\nname = \"balanced\"\nwhen = \"at-end\"\ndescription = \"debits equal credits\"\nexpr = 'sum(values(scan(stores.ledger, \"debit/\"))) == sum(values(scan(stores.ledger, \"credit/\")))'\n"
            ),
        );
        let s = p.ok().expect("parses");
        assert_eq!(s.invariants.len(), 2);
        assert_eq!(s.invariants[0].when, super::When::Always);
        assert!(s.invariants[0].reads.store("ledger"));
        assert_eq!(s.invariants[1].when, super::When::AtEnd);
        assert_eq!(s.invariants[1].summary(), "debits equal credits (at-end)");
    }

    #[test]
    fn an_unknown_store_is_an_error_at_its_column_in_the_file() {
        let tail = "\n[[invariant]]\nname = \"x\"\nexpr = 'size(stores.ledgr) == 0'\n";
        let d = diags(tail);
        assert_eq!(d.len(), 1, "{d:?}");
        let (line, col) = line_col_of(tail, ".ledgr");
        let loc = d[0].location.as_ref().expect("located");
        assert_eq!((loc.file.as_str(), loc.line, loc.column), ("bank.toml", line, col));
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `ledger`?"));
        assert_eq!(d[0].field.as_deref(), Some("invariant[0].expr"));
    }

    #[test]
    fn a_syntax_error_in_a_multi_line_expression_is_on_its_line() {
        let tail = "\n[[invariant]]\nname = \"x\"\nexpr = '''\nsize(stores.ledger) >= 0 &&\n  answered >= ) '''\n";
        let d = diags(tail);
        assert_eq!(d.len(), 1, "{d:?}");
        let (line, _) = line_col_of(tail, "  answered");
        assert_eq!(d[0].location.as_ref().map(|l| l.line), Some(line), "{d:?}");
        assert!(d[0].message.starts_with("invariant `x`: "), "{}", d[0].message);
    }

    #[test]
    fn names_are_unique_and_not_builtin_ids() {
        let tail = "\n[[invariant]]\nname = \"x\"\nexpr = 'true'\n[[invariant]]\nname = \"x\"\nexpr = 'true'\n[[invariant]]\nname = \"no-loss\"\nexpr = 'true'\n[[invariant]]\nname = \"Bad Name\"\nexpr = 'true'\n";
        let d = diags(tail);
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(d.len(), 3, "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("declared twice")));
        assert!(msgs.iter().any(|m| m.contains("built-in property")));
        assert!(msgs.iter().any(|m| m.contains("lower-case")));
    }

    #[test]
    fn a_cache_and_a_bad_when_are_errors() {
        let tail = "\n[[invariant]]\nname = \"x\"\nwhen = \"eventually\"\nexpr = 'size(stores.hot) == 0'\n";
        let d = diags(tail);
        assert_eq!(d.len(), 2, "{d:?}");
    }

    mod props {
        use super::{HEAD, diags};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            /// Any expression text in a scenario file: never a panic; the scenario is valid, or
            /// every error about the expression is located inside the `expr` string.
            #[test]
            fn any_expression_is_valid_or_a_located_error(
                text in "[a-z_.()\\[\\]\"+=<>!&|0-9, {}:?-]{0,40}|\\PC{0,30}"
            ) {
                prop_assume!(!text.contains('\'') && !text.contains('\n'));
                let tail = format!("\n[[invariant]]\nname = \"x\"\nexpr = '{text}'\n");
                let line = format!("{HEAD}{tail}").lines().count();
                for d in diags(&tail) {
                    let loc = d.location.as_ref().expect("located");
                    prop_assert_eq!(loc.line, line, "{:?}", d);
                    if d.code == "parse.expr" {
                        prop_assert!(loc.column >= 9 && loc.column <= 9 + text.len(), "{:?}", d);
                    }
                }
            }
        }
    }
}
