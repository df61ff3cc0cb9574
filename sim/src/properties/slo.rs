//! SLOs (Q): every objective of every `[[quality.slo]]` met on the run.

use fusebench_model::Scenario;

use super::Judged;
use super::Verdict;
use crate::report::{self, Report};

pub(super) const ID: &str = "slo";

/// A failed SLO verdict is never dated (`at` stays `None`): a percentile, an availability
/// ratio or a throughput is a fact about the whole run, and no single answer violates it —
/// dating an availability miss by its first failed answer would point the replay at an answer
/// the objective allowed. The replay then tells the story of the endpoints' services.
pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let r = Report::new(run, s);
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    for v in &r.slos {
        let actual = v.actual.map_or_else(|| "no data".to_owned(), |a| v.objective.show_value(a));
        let line = format!(
            "{} {}: target {}, actual {actual}",
            v.endpoint,
            v.objective.name(),
            v.objective.show_target(v.target)
        );
        if v.verdict == report::SloStatus::Fail { findings.push(line) } else { notes.push(line) }
    }
    let subjects: Vec<String> = r
        .slos
        .iter()
        .filter(|v| v.verdict == report::SloStatus::Fail)
        .filter_map(|v| v.endpoint.split('.').next().map(str::to_owned))
        .collect();
    Verdict::new(ID, findings, notes).about(subjects)
}
