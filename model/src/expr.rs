//! Expressions of user-stated invariants, in CEL (the Common Expression Language of Kubernetes,
//! Envoy and Istio, through the `cel` crate): compiling them, the names they may use, and the
//! static checks a scenario gets at load time.
//!
//! A well-kept language instead of one of our own: CEL is total (no loops, no side effects, every
//! evaluation ends), has a specification, and its users already know it. What fusebench adds is
//! the environment ([`VARIABLES`], [`FUNCTIONS`]) and the check that every name in an expression
//! means something in the scenario at hand ([`analyse`]), so a typo is an error at file:line:col
//! before any run, not a run-time finding.
//!
//! The model only checks; sim/src/properties/invariant.rs evaluates.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

pub use cel;
use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::{Context, Env, Program};

use crate::diagnostic::did_you_mean;

/// The variables an invariant may read, with what they are (the README's table is written from
/// these).
pub const VARIABLES: &[(&str, &str)] = &[
    ("stores", "map store → (map key → value): the key-value stores' current accepted state"),
    ("initial", "map store → (map key → value): the stores' `[store.init]` contents"),
    ("now_ms", "int: the run's clock, in whole milliseconds"),
    ("requests", "int: client requests that arrived so far"),
    ("answered", "int: client requests answered so far (any outcome)"),
    ("errors", "int: client requests answered with an outcome other than `ok` so far"),
];

/// The functions fusebench adds to CEL's standard ones (CEL has no sum, no prefix scan and no
/// ordered `values`).
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("scan", "scan(map, prefix): the entries of `map` whose key starts with `prefix`"),
    ("keys", "keys(map): the keys of `map`, sorted"),
    ("values", "values(map): the values of `map`, in key order"),
    ("sum", "sum(list): the sum of a list of numbers (int if all are ints, else double)"),
];

/// CEL's type names, which are identifiers an expression may use as values (`type(x) == int`).
const TYPE_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
];

/// CEL's standard environment, shared: building it registers every standard overload.
#[must_use]
pub fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    Arc::clone(ENV.get_or_init(|| Arc::new(Env::stdlib())))
}

/// Whether `name` is a function of CEL's standard library. The `cel` crate has no public
/// look-up: a context refuses to add a function that shadows a standard overload, and that
/// refusal is the answer (exact for every overload the crate declares, now and in later versions).
fn is_standard_function(name: &str) -> bool {
    let mut cx = Context::with_env(env());
    cx.add_function(name, |a: i64| a).is_err()
}

/// A problem in an expression's text: `at` is a byte offset into the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprProblem {
    pub at: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// What an expression reads, so an `always` invariant is evaluated again only after an event
/// that changed one of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reads {
    /// The stores it names (`stores.orders`, `stores["orders-db"]`).
    pub stores: BTreeSet<String>,
    /// It uses `stores` as a whole (`size(stores)`, `stores[name]` with a computed name): every
    /// store counts as read.
    pub all_stores: bool,
    /// It reads `now_ms`.
    pub clock: bool,
    /// It reads `requests`, `answered` or `errors`.
    pub metrics: bool,
}

impl Reads {
    /// Whether it reads store `name`.
    #[must_use]
    pub fn store(&self, name: &str) -> bool {
        self.all_stores || self.stores.contains(name)
    }
}

/// Compiles `text`; a syntax error comes back with its byte offset in `text`.
///
/// # Errors
/// The first syntax error the parser reports.
pub fn compile(text: &str) -> Result<Program, ExprProblem> {
    env().compile(text).map_err(|errors| {
        let first = errors.errors.first();
        let (line, col) = first.map_or((0, 0), |e| e.pos);
        let message = first
            .map_or_else(|| "the expression could not be parsed".to_owned(), |e| e.msg.clone());
        ExprProblem { at: offset_of_line_col(text, line, col), message, hint: None }
    })
}

/// The byte offset of CEL's (1-based line, 1-based column in characters) in `text`; the start
/// for a position the parser could not give (0, 0).
fn offset_of_line_col(text: &str, line: isize, col: isize) -> usize {
    if line < 1 {
        return 0;
    }
    let mut start = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let col = usize::try_from(col.max(1) - 1).unwrap_or(0);
            return start + l.char_indices().nth(col).map_or(l.len(), |(b, _)| b);
        }
        start += l.len();
    }
    text.len()
}

/// Compiles `text` and checks every name in it against the scenario: `stores.X` and
/// `initial.X` must name a key-value store among `kv_stores` (`other_stores` are caches and
/// brokers, which hold no readable state), every other identifier must be a variable of
/// [`VARIABLES`], a macro's own variable or a type name, and every function must be CEL's or
/// one of [`FUNCTIONS`].
///
/// # Errors
/// Every problem found, each at its offset in `text`.
pub fn analyse(
    text: &str,
    kv_stores: &[&str],
    other_stores: &[&str],
) -> Result<(Program, Reads), Vec<ExprProblem>> {
    let program = compile(text).map_err(|p| vec![p])?;
    let mut w = Walk {
        text,
        program: &program,
        kv_stores,
        other_stores,
        bound: Vec::new(),
        reads: Reads::default(),
        problems: Vec::new(),
    };
    w.expr(program.expression());
    if w.problems.is_empty() {
        let reads = w.reads;
        Ok((program, reads))
    } else {
        let mut problems = w.problems;
        problems.sort_by_key(|p| p.at);
        problems.dedup();
        Err(problems)
    }
}

struct Walk<'a> {
    text: &'a str,
    program: &'a Program,
    kv_stores: &'a [&'a str],
    other_stores: &'a [&'a str],
    /// Variables bound by the macros around the node being walked (`all(k, …)`).
    bound: Vec<String>,
    reads: Reads,
    problems: Vec<ExprProblem>,
}

impl Walk<'_> {
    /// The byte offset of node `id` in the text. The parser records character offsets.
    fn at(&self, id: u64) -> usize {
        let chars = self.program.source_info().offset_for(id).map_or(0, |(start, _)| start);
        self.text.char_indices().nth(chars as usize).map_or(self.text.len(), |(b, _)| b)
    }

    fn problem(&mut self, id: u64, message: String, hint: Option<String>) {
        let at = self.at(id);
        self.problems.push(ExprProblem { at, message, hint });
    }

    /// `stores.X`/`initial.X` (or `stores["X"]`): checks X and records the read.
    fn store_ref(&mut self, root: &str, id: u64, name: &str) {
        if self.kv_stores.contains(&name) {
            if root == "stores" {
                self.reads.stores.insert(name.to_owned());
            }
            return;
        }
        if self.other_stores.contains(&name) {
            let msg = format!(
                "`{root}.{name}`: store `{name}` is a cache or a broker; invariants read key-value stores"
            );
            self.problem(id, msg, None);
            return;
        }
        let hint = did_you_mean(name, self.kv_stores.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| {
                (!self.kv_stores.is_empty())
                    .then(|| format!("key-value stores here: {}", self.kv_stores.join(", ")))
            });
        self.problem(id, format!("`{root}.{name}`: no key-value store named `{name}`"), hint);
    }

    fn ident(&mut self, id: u64, name: &str) {
        if self.bound.iter().any(|b| b == name) || TYPE_NAMES.contains(&name) {
            return;
        }
        match name {
            "stores" => self.reads.all_stores = true,
            "initial" => {}
            "now_ms" => self.reads.clock = true,
            "requests" | "answered" | "errors" => self.reads.metrics = true,
            _ => {
                let names = VARIABLES.iter().map(|(n, _)| *n);
                let hint = did_you_mean(name, names.clone())
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| {
                        Some(format!("known names: {}", names.collect::<Vec<_>>().join(", ")))
                    });
                self.problem(id, format!("unknown name `{name}`"), hint);
            }
        }
    }

    fn expr(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(sel) => {
                if let Expr::Ident(root) = &sel.operand.expr
                    && (root == "stores" || root == "initial")
                    && !self.bound.iter().any(|b| b == root)
                {
                    self.store_ref(root, e.id, &sel.field);
                } else {
                    self.expr(&sel.operand);
                }
            }
            Expr::Call(call) => {
                // `stores["orders-db"]`: the index operator with a literal store name.
                if call.func_name == "_[_]"
                    && call.target.is_none()
                    && let [operand, index] = call.args.as_slice()
                    && let Expr::Ident(root) = &operand.expr
                    && (root == "stores" || root == "initial")
                    && !self.bound.iter().any(|b| b == root)
                    && let Expr::Literal(LiteralValue::String(name)) = &index.expr
                {
                    self.store_ref(root, index.id, name);
                    return;
                }
                let operator = call.func_name.starts_with(['_', '@', '!', '-']);
                let name = call.func_name.as_str();
                if !operator
                    && !FUNCTIONS.iter().any(|(f, _)| *f == name)
                    && !is_standard_function(name)
                {
                    let ours = FUNCTIONS.iter().map(|(f, _)| *f);
                    let hint = did_you_mean(name, ours.clone())
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| {
                            Some(format!(
                                "besides CEL's standard functions: {}",
                                ours.collect::<Vec<_>>().join(", ")
                            ))
                        });
                    // The parser places a call at its `(`: point at the name instead.
                    let paren = self.at(e.id);
                    let at =
                        if self.text[..paren].ends_with(name) { paren - name.len() } else { paren };
                    self.problems.push(ExprProblem {
                        at,
                        message: format!("unknown function `{name}`"),
                        hint,
                    });
                }
                if let Some(t) = &call.target {
                    self.expr(t);
                }
                for a in &call.args {
                    self.expr(a);
                }
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                let pushed = 2 + usize::from(c.iter_var2.is_some());
                self.bound.push(c.iter_var.clone());
                self.bound.push(c.accu_var.clone());
                if let Some(v) = &c.iter_var2 {
                    self.bound.push(v.clone());
                }
                self.expr(&c.loop_cond);
                self.expr(&c.loop_step);
                self.expr(&c.result);
                self.bound.truncate(self.bound.len() - pushed);
            }
            Expr::List(l) => {
                for x in &l.elements {
                    self.expr(x);
                }
            }
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        self.expr(&me.key);
                        self.expr(&me.value);
                    }
                }
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    match &entry.expr {
                        EntryExpr::StructField(f) => self.expr(&f.value),
                        EntryExpr::MapEntry(me) => {
                            self.expr(&me.key);
                            self.expr(&me.value);
                        }
                    }
                }
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<ExprProblem> {
        analyse(text, &["ledger", "orders-db"], &["page-cache"]).err().unwrap_or_default()
    }

    #[test]
    fn a_valid_expression_reports_what_it_reads() {
        let (_, reads) = analyse(
            r#"sum(values(scan(stores.ledger, "debit/"))) <= size(stores["orders-db"]) + now_ms && answered >= 0 && initial.ledger.all(k, k != "")"#,
            &["ledger", "orders-db"],
            &[],
        )
        .expect("valid");
        assert_eq!(
            reads.stores.iter().map(String::as_str).collect::<Vec<_>>(),
            ["ledger", "orders-db"]
        );
        assert!(reads.clock && reads.metrics && !reads.all_stores);
    }

    #[test]
    fn a_computed_store_name_reads_every_store() {
        let (_, reads) =
            analyse(r#"stores.all(s, size(stores[s]) >= 0)"#, &["ledger"], &[]).expect("valid");
        assert!(reads.all_stores && reads.store("anything"));
    }

    #[test]
    fn an_unknown_store_is_located_with_a_hint() {
        let p = problems("size(stores.ledgr) > 0");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("`stores.ledgr`"), "{}", p[0].message);
        assert_eq!(p[0].hint.as_deref(), Some("did you mean `ledger`?"));
        // The select's position is its dot, in the parser's convention.
        assert_eq!(p[0].at, "size(stores".len());
        let p = problems(r#"size(initial["orders"]) > 0"#);
        assert_eq!(p[0].hint.as_deref(), Some("did you mean `orders-db`?"));
        assert_eq!(p[0].at, "size(initial[".len());
    }

    #[test]
    fn a_cache_is_not_readable() {
        let p = problems("size(stores[\"page-cache\"]) > 0");
        assert!(p[0].message.contains("cache or a broker"), "{}", p[0].message);
    }

    #[test]
    fn unknown_names_and_functions_are_located() {
        let p = problems("total(values(stores.ledger)) == answerd");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].at, 0);
        assert!(p[0].message.contains("unknown function `total`"));
        assert_eq!(p[1].at, "total(values(stores.ledger)) == ".len());
        assert_eq!(p[1].hint.as_deref(), Some("did you mean `answered`?"));
    }

    #[test]
    fn standard_functions_and_macro_variables_are_known() {
        assert!(
            problems("stores.ledger.exists(k, k.startsWith('a') && size(k) > int('1'))").is_empty()
        );
        assert!(problems("[1, 2].map(x, x * 2) == [2, 4] && type(1) == int").is_empty());
    }

    #[test]
    fn a_syntax_error_is_located_on_its_line() {
        let p = problems("answered >= 0 &&\n  (errors <");
        assert_eq!(p.len(), 1);
        let at = p[0].at;
        assert!(at >= "answered >= 0 &&\n".len(), "at {at}: {p:?}");
    }

    mod props {
        use super::super::analyse;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            /// Whatever the text, analysis ends with a result or problems located inside it.
            #[test]
            fn any_text_is_ok_or_a_located_problem(text in "\\PC{0,40}|[a-z_.()\\[\\]\"' +=<>!&|0-9,{}:?-]{0,40}") {
                if let Err(problems) = analyse(&text, &["ledger"], &[]) {
                    prop_assert!(!problems.is_empty());
                    for p in problems {
                        prop_assert!(p.at <= text.len());
                        prop_assert!(text.is_char_boundary(p.at));
                        prop_assert!(!p.message.is_empty());
                    }
                }
            }
        }
    }
}
