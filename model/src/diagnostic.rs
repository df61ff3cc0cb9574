//! Diagnostics: every problem found in a scenario, a module or a design, with where it is.
//!
//! Parsing and checking never stop at the first problem: they return a list, so the CLI and the
//! GUI can show them all at once. A diagnostic carries a stable `code` (used in reports, JUnit
//! output and tests) and, where it concerns a place in a file, the file, line, column and field.

use std::fmt;

use serde::Serialize;

use crate::text;

/// How bad a finding is. `Error` fails `check`; `Warning` is reported but passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// A byte range in a source text (half-open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    #[must_use]
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Span { start: r.start, end: r.end }
    }
}

/// A resolved place in a file: 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", text::plain(&self.file), self.line, self.column)
    }
}

/// Maps byte offsets of one source text to line and column.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    /// Byte offset at which each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
    text_len: usize,
}

impl LineIndex {
    #[must_use]
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts, text_len: text.len() }
    }

    /// 1-based (line, column) of a byte offset; offsets past the end clamp to the end.
    /// Columns count characters, so they match what an editor shows.
    #[must_use]
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text_len);
        let line = self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.line_starts[line];
        let column = text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }
}

/// One problem (or note) about an input or a design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, e.g. `parse.unknown-field` or `data-ownership`.
    pub code: String,
    pub message: String,
    /// Where in a file, when the problem has a place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The dotted path of the field or element concerned, e.g. `service[2].owns[0]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A suggestion, e.g. "did you mean `orders-db`?".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    #[must_use]
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            code: code.into(),
            message: message.into(),
            location: None,
            field: None,
            hint: None,
        }
    }

    #[must_use]
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    #[must_use]
    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    #[must_use]
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// The field concerned; an empty path (a problem of the whole file, such as a TOML syntax
    /// error) means no field, so nothing shows "field ``".
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// One diagnostic, as a terminal, a log or a GUI shows it. Messages, fields and hints quote
/// names from scenarios and modules, so every part goes through [`text::plain`]: a control
/// character or line break in a name is shown escaped and cannot forge output. The only line
/// break is the one before the hint.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        let code = text::plain(&self.code);
        write!(f, "{}[{code}]: {}", self.severity, text::plain(&self.message))?;
        if let Some(field) = self.field.as_deref().filter(|x| !x.is_empty()) {
            write!(f, " (field `{}`)", text::plain(field))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {}", text::plain(hint))?;
        }
        Ok(())
    }
}

/// The closest candidate to `name` among `candidates`, if close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(name, c), c))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_chars() {
        let text = "a = 1\nbé = 2\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 0), (1, 1));
        assert_eq!(idx.line_col(text, 6), (2, 1));
        // `=` after a two-byte char is the 4th character on line 2.
        let eq = text.rfind('=').unwrap_or_default();
        assert_eq!(idx.line_col(text, eq), (2, 4));
        assert_eq!(idx.line_col(text, 10_000), (3, 1));
    }

    #[test]
    fn an_empty_field_is_no_field() {
        let d = Diagnostic::error("parse.syntax", "invalid TOML: expected `=`").field("");
        assert_eq!(d.field, None);
        assert_eq!(d.to_string(), "error[parse.syntax]: invalid TOML: expected `=`");
        // Built directly (the fields are public), an empty field is not shown either.
        let mut d = Diagnostic::error("x", "m");
        d.field = Some(String::new());
        assert!(!d.to_string().contains("field"), "{d}");
        let d = Diagnostic::error("x", "m").field("service[0].name");
        assert_eq!(d.to_string(), "error[x]: m (field `service[0].name`)");
    }

    #[test]
    fn untrusted_parts_are_shown_escaped() {
        let evil = "\x1b[2J\x1b]0;pwned\x07\nvalid  no\u{202e}";
        let d = Diagnostic::error("module-valid", format!("module `{evil}` is invalid"))
            .at(Location { file: format!("{evil}.toml"), line: 3, column: 7 })
            .field(format!("service[{evil}].module"))
            .hint(format!("did you mean `{evil}`?"));
        let shown = d.to_string();
        assert!(!shown.chars().any(|c| text::is_hazard(c) && c != '\n'), "{shown:?}");
        assert_eq!(shown.lines().count(), 2, "{shown}");
        assert!(
            shown.contains("module `\\x1b[2J\\x1b]0;pwned\\x07\\nvalid  no\\u{202e}` is"),
            "{shown}"
        );
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let names = ["orders-db", "payments-db", "catalog-cache"];
        assert_eq!(did_you_mean("order-db", names), Some("orders-db"));
        assert_eq!(did_you_mean("zzz", names), None);
    }
}
