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
///
/// An objective of an endpoint no request reached says nothing about the design: it is noted,
/// not judged (a run shrunk too short to send anything is no counterexample), and a run whose
/// every objective is such — or a scenario that declares none — did not exercise the SLOs. An
/// endpoint that got requests and answered none of them successfully still fails its latency
/// objectives (`run` reports both as missed: there, a target with no data is not met).
pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let r = Report::new(run, s);
    if r.slos.is_empty() {
        return Verdict::not_exercised(ID, "the scenario declares no SLO ([[quality.slo]])");
    }
    let reached = |endpoint: &str| r.endpoints.get(endpoint).is_some_and(|e| e.requests > 0);
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let mut subjects = Vec::new();
    let mut judged = false;
    for v in &r.slos {
        let actual = v.actual.map_or_else(|| "no data".to_owned(), |a| v.objective.show_value(a));
        let line = format!(
            "{} {}: target {}, actual {actual}",
            v.endpoint,
            v.objective.name(),
            v.objective.show_target(v.target)
        );
        if !reached(&v.endpoint) {
            notes.push(format!("{line} (no request reached it: not judged)"));
            continue;
        }
        judged = true;
        if v.verdict == report::SloStatus::Fail {
            findings.push(line);
            subjects.extend(v.endpoint.split('.').next().map(str::to_owned));
        } else {
            notes.push(line);
        }
    }
    if !judged {
        let mut v = Verdict::not_exercised(ID, "no request reached an endpoint with an SLO");
        v.notes.extend(notes);
        return v;
    }
    Verdict::new(ID, findings, notes).about(subjects)
}
