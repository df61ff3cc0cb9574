//! The journey table: per journey, how many instances started, completed and failed (and at
//! which step), and the end-to-end latency of the completed ones. Every figure is a function
//! of the run's `journey_start` / `journey_end` trace lines (`sim/tests/report_agrees.rs`
//! recomputes them); percentiles are exact (nearest rank over every completed instance), not
//! histogram buckets, so the recomputation agrees to the nanosecond.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use fusebench_model::text::markdown;
use serde::Serialize;

use crate::system::JourneyStats;

/// One journey's figures in `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JourneyReport {
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    /// Started but not ended when the run stopped (its workload and drain were over).
    pub unfinished: u64,
    /// Completed ÷ ended (completed + failed): the instances the run cut short are neither
    /// a success nor a failure of the design. 0 when none ended.
    pub completion_rate: f64,
    /// Per step, in declaration order: the instances that failed at it.
    pub failed_by_step: Vec<StepFailures>,
    /// End-to-end latency of the completed instances, from start to last answer (think
    /// times included, as a user lives them).
    pub latency: JourneyLatency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepFailures {
    pub step: String,
    pub failed: u64,
}

/// Nearest-rank percentiles in ms (0 when nothing completed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct JourneyLatency {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl JourneyLatency {
    /// The summary of `latencies_ns` (any order).
    #[must_use]
    pub fn of(latencies_ns: &[u64]) -> Self {
        let mut sorted = latencies_ns.to_vec();
        sorted.sort_unstable();
        let ms = |ns: u64| ns as f64 / 1e6;
        JourneyLatency {
            count: sorted.len() as u64,
            p50_ms: ms(nearest_rank(&sorted, 50)),
            p95_ms: ms(nearest_rank(&sorted, 95)),
            p99_ms: ms(nearest_rank(&sorted, 99)),
            max_ms: ms(sorted.last().copied().unwrap_or(0)),
        }
    }
}

/// The `pct`-th percentile of `sorted` by nearest rank: the smallest value with at least
/// `pct` % of the values at or below it (0 for no values).
#[must_use]
pub fn nearest_rank(sorted: &[u64], pct: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len() as u64;
    let rank = (pct * n).div_ceil(100).max(1);
    sorted[usize::try_from(rank - 1).unwrap_or(0)]
}

impl JourneyReport {
    #[must_use]
    pub fn new(s: &JourneyStats) -> Self {
        let failed = s.failed();
        let ended = s.completed + failed;
        JourneyReport {
            started: s.started,
            completed: s.completed,
            failed,
            unfinished: s.unfinished,
            completion_rate: if ended == 0 { 0.0 } else { s.completed as f64 / ended as f64 },
            failed_by_step: s
                .failed_at
                .iter()
                .map(|(step, failed)| StepFailures { step: step.clone(), failed: *failed })
                .collect(),
            latency: JourneyLatency::of(&s.latencies_ns),
        }
    }
}

/// Every journey's report, by name.
#[must_use]
pub fn journeys(stats: &BTreeMap<String, JourneyStats>) -> BTreeMap<String, JourneyReport> {
    stats.iter().map(|(name, s)| (name.clone(), JourneyReport::new(s))).collect()
}

/// The `## Journeys` section of `report.md` (nothing when the workload has no journey).
pub(crate) fn render(md: &mut String, journeys: &BTreeMap<String, JourneyReport>) {
    if journeys.is_empty() {
        return;
    }
    md.push_str(
        "\n## Journeys\n\nCompletion rate = completed ÷ ended (completed + failed); latency of completed journeys, start to last answer, think times included, in ms.\n\n",
    );
    md.push_str("| journey | started | completed | failed | unfinished | completion | p50 | p95 | p99 | failed at step |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (name, j) in journeys {
        let at: Vec<String> = j
            .failed_by_step
            .iter()
            .filter(|s| s.failed > 0)
            .map(|s| format!("{}: {}", markdown(&s.step), s.failed))
            .collect();
        let at = if at.is_empty() { "—".to_owned() } else { at.join(", ") };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.1} % | {:.2} | {:.2} | {:.2} | {at} |",
            markdown(name),
            j.started,
            j.completed,
            j.failed,
            j.unfinished,
            j.completion_rate * 100.0,
            j.latency.p50_ms,
            j.latency.p95_ms,
            j.latency.p99_ms,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 50), 50);
        assert_eq!(nearest_rank(&v, 95), 95);
        assert_eq!(nearest_rank(&v, 99), 99);
        assert_eq!(nearest_rank(&[7], 99), 7);
        assert_eq!(nearest_rank(&[1, 2, 3], 50), 2);
        assert_eq!(nearest_rank(&[], 50), 0);
    }

    #[test]
    fn the_rate_leaves_unfinished_journeys_out() {
        let s = JourneyStats {
            started: 10,
            completed: 6,
            failed_at: vec![("a".into(), 1), ("b".into(), 1)],
            unfinished: 2,
            latencies_ns: vec![3_000_000, 1_000_000, 2_000_000, 4_000_000, 5_000_000, 6_000_000],
        };
        let r = JourneyReport::new(&s);
        assert_eq!(r.failed, 2);
        assert!((r.completion_rate - 0.75).abs() < 1e-12);
        assert_eq!(r.latency.count, 6);
        assert!((r.latency.p50_ms - 3.0).abs() < 1e-12);
        assert!((r.latency.max_ms - 6.0).abs() < 1e-12);
        let mut md = String::new();
        render(&mut md, &BTreeMap::from([("buy|x".to_owned(), r)]));
        assert!(md.contains("buy\\|x"), "{md}");
        assert!(md.contains("a: 1, b: 1"), "{md}");
        assert!(md.contains("75.0 %"), "{md}");
    }
}
