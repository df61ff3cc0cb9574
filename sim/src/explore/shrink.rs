//! Shrinking a failing case: candidates smaller than the current best, largest reductions
//! first (drop every added fault, drop one, halve the duration, halve the rate, no bursts, a
//! quarter shorter), evaluated in parallel batches; the first candidate *in that order* that
//! still fails one of the originally failing properties becomes the new best, until no
//! candidate fails or the wall-time budget is spent.
//!
//! The budget is the caller's (`sim` has no wall clock): `keep_going()` is asked before each
//! batch. It only decides when to stop, never which counterexample is found: a batch is either
//! evaluated whole or not started, and the winner of a batch is chosen by candidate order, not
//! by which run finished first. The same scenario, seed and case give the same counterexample
//! whenever the budget was not hit; hitting it can leave a less-shrunk one (and says so).

use fusebench_model::Scenario;
use rayon::prelude::*;
use serde::Serialize;

use super::{CaseVerdicts, ExploreError, Schedule, judge_case_limited};
use crate::limits::Limits;
use crate::setup::ModuleFiles;

/// Candidates run at once: fixed, so the number of runs reported does not depend on the
/// machine's core count (the counterexample would not either way).
const BATCH: usize = 4;

/// A bound on accepted reductions, whatever the budget: each one strictly shrinks the schedule,
/// so this is never reached by a real schedule (at most 4 faults, durations on a 0.1 s grid).
const REDUCTIONS_MAX: usize = 256;

/// How a counterexample was shrunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shrinking {
    /// The case it was shrunk from (0: the declared scenario).
    pub from_case: usize,
    /// Candidate runs evaluated.
    pub runs: usize,
    /// Candidates accepted (each a smaller schedule that still fails).
    pub reductions: usize,
    /// The budget stopped shrinking before every candidate passed: a longer budget may give
    /// a smaller counterexample.
    pub budget_hit: bool,
}

/// Each candidate smaller than `sch`, largest reductions first.
pub(super) fn candidates(sch: &Schedule) -> Vec<Schedule> {
    let mut out = Vec::new();
    let halve = |d: f64| (d / 2.0 * 10.0).floor() / 10.0;
    let with_duration = |k: f64, d: f64| Schedule {
        duration_s: d,
        faults: sch.faults.iter().map(|f| f.scaled(k)).collect(),
        ..sch.clone()
    };
    if !sch.declared {
        if !sch.faults.is_empty() {
            out.push(Schedule { faults: Vec::new(), ..sch.clone() });
        }
        if sch.faults.len() > 1 {
            for i in 0..sch.faults.len() {
                let mut c = sch.clone();
                c.faults.remove(i);
                out.push(c);
            }
        }
    }
    if sch.duration_s >= 0.2 {
        out.push(with_duration(0.5, halve(sch.duration_s)));
    }
    if !sch.declared {
        if sch.rate_scale > 0.1 {
            let r = ((sch.rate_scale / 2.0) * 100.0).round() / 100.0;
            out.push(Schedule { rate_scale: r.max(0.05), ..sch.clone() });
        }
        if sch.burst.is_some() {
            out.push(Schedule { burst: None, ..sch.clone() });
        }
    }
    if sch.duration_s >= 0.4 {
        let d = (sch.duration_s * 0.75 * 10.0).floor() / 10.0;
        out.push(with_duration(d / sch.duration_s, d));
    }
    out
}

fn still_fails(o: &CaseVerdicts, ids: &[&str]) -> bool {
    o.verdicts.iter().any(|v| v.failed() && ids.contains(&&*v.id))
}

/// Shrinks `start` (case `from_case`, failing) while it still fails one of the properties it
/// fails now, and `keep_going()` allows another batch.
///
/// # Errors
/// A module the host rejects, or a limit.
pub(super) fn shrink(
    s: &Scenario,
    files: &ModuleFiles,
    limits: &Limits,
    from_case: usize,
    start: CaseVerdicts,
    keep_going: &(dyn Fn() -> bool + Sync),
) -> Result<(CaseVerdicts, Shrinking), ExploreError> {
    let failed: Vec<String> =
        start.verdicts.iter().filter(|v| v.failed()).map(|v| v.id.to_string()).collect();
    let ids: Vec<&str> = failed.iter().map(String::as_str).collect();
    let seed = start.seed;
    let mut best = start;
    let mut report = Shrinking { from_case, runs: 0, reductions: 0, budget_hit: false };
    'rounds: while report.reductions < REDUCTIONS_MAX {
        let cands = candidates(&best.schedule);
        let mut accepted = None;
        for batch in cands.chunks(BATCH) {
            if !keep_going() {
                report.budget_hit = true;
                break 'rounds;
            }
            let outs: Vec<Result<CaseVerdicts, ExploreError>> =
                batch.par_iter().map(|c| judge_case_limited(s, files, c, seed, limits)).collect();
            report.runs += batch.len();
            for o in outs {
                let o = o?;
                if still_fails(&o, &ids) {
                    accepted = Some(o);
                    break;
                }
            }
            if accepted.is_some() {
                break;
            }
        }
        match accepted {
            Some(o) => {
                best = o;
                report.reductions += 1;
            }
            None => break,
        }
    }
    Ok((best, report))
}
