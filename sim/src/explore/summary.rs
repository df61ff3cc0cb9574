//! Every property over every explored case: where it held, failed, was not exercised or could
//! not be judged, and where it was not judged at all and why. The report's verdict for a
//! property is this summary, never one case's: a property that failed in any case is failed.

use serde::Serialize;

use super::CaseVerdicts;
use std::borrow::Cow;

use crate::properties::{PropertyInfo, Status, Verdict};

/// Why the SLOs are not judged in generated cases: they add faults, scale the rate and shorten
/// the run, and a quality target is a promise about the declared workload, not about every
/// perturbation of it (a crash injected for a second would fail any availability target).
pub const SLO_SKIPPED_WHY: &str =
    "the quality targets were written for the declared workload, not for generated cases";

/// Why property `id` was not judged in a case whose verdicts do not include it.
fn skipped_why(id: &str) -> &'static str {
    if id == "slo" { SLO_SKIPPED_WHY } else { "not judged in this case" }
}

/// One property over every case (case numbers: 0 is the declared scenario).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertySummary {
    pub id: Cow<'static, str>,
    /// What the property asserts (from the catalogue).
    pub summary: Cow<'static, str>,
    /// Failed if it failed in any case; else not judged ([`Status::Error`]) if it could not be
    /// judged in any; else held if it held in any; else not exercised.
    pub status: Status,
    pub held: Vec<usize>,
    pub failed: Vec<usize>,
    pub not_exercised: Vec<usize>,
    /// Cases whose checker broke (left out of the JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<usize>,
    /// Cases in which it was not judged (see `skipped_why`).
    pub skipped: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_why: Option<&'static str>,
    /// The verdict whose findings and notes are shown: the shrunk counterexample's when it
    /// fails this property, else the first failing case's, else the declared scenario's.
    pub shown: Verdict,
    /// The case `shown` comes from (the counterexample's original case when shrunk).
    pub shown_case: usize,
    /// `shown` is the shrunk counterexample's verdict.
    pub shown_from_counterexample: bool,
}

impl PropertySummary {
    /// Judged, and not violated in any case.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.status.passed()
    }

    /// One line: the cases per outcome, e.g. "failed in 2 of 16 cases (first: case 5), held in
    /// 9, not exercised in 5".
    #[must_use]
    pub fn counts(&self) -> String {
        let judged =
            self.held.len() + self.failed.len() + self.not_exercised.len() + self.errors.len();
        let mut parts = Vec::new();
        if let Some(first) = self.failed.first() {
            parts.push(format!(
                "failed in {} of {judged} case(s) (first: case {first})",
                self.failed.len()
            ));
        }
        if !self.held.is_empty() {
            parts.push(format!("held in {}", self.held.len()));
        }
        if !self.not_exercised.is_empty() {
            parts.push(format!("not exercised in {}", self.not_exercised.len()));
        }
        if let Some(first) = self.errors.first() {
            parts.push(format!(
                "could not be judged in {} (first: case {first})",
                self.errors.len()
            ));
        }
        if parts.is_empty() {
            parts.push("judged in no case".to_owned());
        }
        let mut line = parts.join(", ");
        if !self.skipped.is_empty() {
            let why = self.skipped_why.unwrap_or("not judged");
            line.push_str(&format!("; skipped in {} generated case(s): {why}", self.skipped.len()));
        }
        line
    }
}

/// Summarises every property of `catalogue` (see [`crate::properties::catalogue`]) over
/// `cases` (in case order, case 0 first).
#[must_use]
pub fn summarise(catalogue: &[PropertyInfo], cases: &[CaseVerdicts]) -> Vec<PropertySummary> {
    catalogue
        .iter()
        .map(|p| {
            let mut s = PropertySummary {
                id: p.id.clone(),
                summary: p.summary.clone(),
                status: Status::NotExercised,
                held: Vec::new(),
                failed: Vec::new(),
                not_exercised: Vec::new(),
                errors: Vec::new(),
                skipped: Vec::new(),
                skipped_why: None,
                shown: Verdict::not_exercised(p.id.clone(), "judged in no case"),
                shown_case: 0,
                shown_from_counterexample: false,
            };
            let mut shown: Option<(usize, &Verdict)> = None;
            for (i, c) in cases.iter().enumerate() {
                let Some(v) = c.verdicts.iter().find(|v| v.id == p.id) else {
                    s.skipped.push(i);
                    s.skipped_why = Some(skipped_why(&p.id));
                    continue;
                };
                match v.status {
                    Status::Held => s.held.push(i),
                    Status::Failed => s.failed.push(i),
                    Status::NotExercised => s.not_exercised.push(i),
                    Status::Error => s.errors.push(i),
                }
                // The first failing case wins; until there is one, the first that could not be
                // judged (the reason is what to show); until then, the first judged case.
                let rank = |v: &Verdict| match v.status {
                    Status::Failed => 2,
                    Status::Error => 1,
                    Status::Held | Status::NotExercised => 0,
                };
                let replace = match shown {
                    None => true,
                    Some((_, old)) => rank(v) > rank(old),
                };
                if replace {
                    shown = Some((i, v));
                }
            }
            s.status = if !s.failed.is_empty() {
                Status::Failed
            } else if !s.errors.is_empty() {
                Status::Error
            } else if !s.held.is_empty() {
                Status::Held
            } else {
                Status::NotExercised
            };
            if let Some((i, v)) = shown {
                s.shown = v.clone();
                s.shown_case = i;
            }
            // A property held somewhere but never failed: show a held verdict (with its notes)
            // rather than a not-exercised one from case 0.
            let held = cases.iter().enumerate().find_map(|(i, c)| {
                c.verdicts.iter().find(|v| v.id == p.id && v.status == Status::Held).map(|v| (i, v))
            });
            if s.status == Status::Held
                && s.shown.status != Status::Held
                && let Some((i, v)) = held
            {
                s.shown = v.clone();
                s.shown_case = i;
            }
            s
        })
        .collect()
}
