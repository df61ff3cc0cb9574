//! Findings — static diagnostics and dynamic verdicts — mapped to the diagram elements they
//! concern, so the graph can badge them.

use std::collections::BTreeMap;

use fusebench_model::{Diagnostic, Severity};
use fusebench_sim::properties::Verdict;

use crate::diagram::Diagram;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Static,
    Dynamic,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub origin: Origin,
    /// The check or property id.
    pub id: String,
    pub severity: Severity,
    pub text: String,
    /// Diagram nodes it concerns.
    pub nodes: Vec<usize>,
}

/// Names quoted in a message: `name` in backticks and `[name]` in field paths.
fn quoted_names(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (open, close) in [('`', '`'), ('[', ']')] {
        let mut rest = text;
        while let Some(a) = rest.find(open) {
            let after = &rest[a + open.len_utf8()..];
            let Some(b) = after.find(close) else { break };
            out.push(&after[..b]);
            rest = &after[b + close.len_utf8()..];
        }
    }
    out
}

/// The nodes named in `text` (a service, store, cache or broker; `service.endpoint` counts
/// for the service).
fn nodes_named(diagram: &Diagram, names: &[&str]) -> Vec<usize> {
    let mut nodes: Vec<usize> = names
        .iter()
        .filter_map(|n| diagram.named(n).or_else(|| diagram.named(n.split('.').next()?)))
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// Static diagnostics as findings.
pub fn from_diagnostics<'a>(
    diagram: &Diagram,
    diags: impl IntoIterator<Item = &'a Diagnostic>,
    origin: Origin,
) -> Vec<Finding> {
    diags
        .into_iter()
        .map(|d| {
            let mut names = quoted_names(&d.message);
            if let Some(f) = &d.field {
                names.extend(quoted_names(f));
            }
            Finding {
                origin,
                id: d.code.clone(),
                severity: d.severity,
                text: d.to_string(),
                nodes: nodes_named(diagram, &names),
            }
        })
        .collect()
}

/// Failed dynamic verdicts as findings (one per finding line; subjects name the elements).
#[must_use]
pub fn from_verdicts(diagram: &Diagram, verdicts: &[Verdict]) -> Vec<Finding> {
    verdicts
        .iter()
        .filter(|v| !v.passed())
        .flat_map(|v| {
            let subjects: Vec<&str> = v.subjects.iter().map(String::as_str).collect();
            let nodes = nodes_named(diagram, &subjects);
            v.findings.iter().map(move |f| Finding {
                origin: Origin::Dynamic,
                id: v.id.to_string(),
                severity: Severity::Error,
                text: f.clone(),
                nodes: nodes.clone(),
            })
        })
        .collect()
}

/// Per node: (errors, warnings) among the findings.
#[must_use]
pub fn badges<'a>(
    findings: impl IntoIterator<Item = &'a Finding>,
) -> BTreeMap<usize, (usize, usize)> {
    let mut out: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for f in findings {
        for &n in &f.nodes {
            let b = out.entry(n).or_default();
            match f.severity {
                Severity::Error => b.0 += 1,
                Severity::Warning | Severity::Info => b.1 += 1,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_backticks_and_brackets_are_found() {
        assert_eq!(
            quoted_names("service `orders` and `payments-db` (field service[shipping].owns)"),
            ["orders", "payments-db", "shipping"]
        );
        assert!(quoted_names("nothing quoted `here").is_empty());
    }
}
