//! Several seeds of one scenario: the mean of each endpoint figure over the runs, with a 95 %
//! confidence interval (Student's t, since a handful of seeds is a small sample), and how many
//! runs met each SLO objective.
//!
//! The aggregate depends only on the set of reports, not on the order they finished in: runs
//! are sorted by seed before anything is summed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use fusebench_model::text;
use serde::{Deserialize, Serialize};

use super::{Objective, Report, SloStatus};

/// The mean of one figure over runs, with its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Runs that had a value (an endpoint without successful answers in a run has no latency).
    pub n: usize,
    pub mean: f64,
    /// Half-width of the 95 % confidence interval of the mean; None with fewer than 2 runs.
    pub ci95: Option<f64>,
    pub min: f64,
    pub max: f64,
}

impl Estimate {
    /// The estimate of the mean of `values` (None when empty). Values are summed in the order
    /// given, so callers pass them in seed order for bit-identical results.
    #[must_use]
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let nf = n as f64;
        let mean = values.iter().sum::<f64>() / nf;
        let ci95 = (n >= 2).then(|| {
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (nf - 1.0);
            t_975(n - 1) * (var / nf).sqrt()
        });
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Estimate { n, mean, ci95, min, max })
    }

    /// `12.34 ± 0.56` with `decimals` digits (`12.34 ± –` without an interval).
    #[must_use]
    pub fn show(&self, decimals: usize) -> String {
        match self.ci95 {
            Some(h) => format!("{:.*} ± {:.*}", decimals, self.mean, decimals, h),
            None => format!("{:.*} ± –", decimals, self.mean),
        }
    }
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom: the factor of a two-sided
/// 95 % interval. Exact to 4 decimals from a table up to 30, then the Cornish–Fisher expansion
/// around the normal quantile (error below 1e-4 there).
#[must_use]
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739,
        2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ];
    assert!(df >= 1, "Student's t needs at least one degree of freedom");
    if let Some(t) = TABLE.get(df - 1) {
        return *t;
    }
    let z = 1.959_963_985_f64;
    let v = df as f64;
    // Products, not `powi`, whose result may depend on how the compiler expands it.
    let z2 = z * z;
    let (z3, z5, z7) = (z2 * z, z2 * z2 * z, z2 * z2 * z2 * z);
    z + (z3 + z) / (4.0 * v)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
}

/// The aggregate of K runs of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct MultiReport {
    pub system: String,
    pub duration_s: f64,
    /// One line per run, by seed.
    pub runs: Vec<RunSummary>,
    pub endpoints: BTreeMap<String, EndpointEstimates>,
    /// Per SLO objective (scenario order): how many runs met it, and the figure over runs.
    pub slos: Vec<SloTally>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub seed: u64,
    pub events: u64,
    pub trace_hash: String,
    pub slos_failed: usize,
}

/// Each figure is None when no run had a value for it.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointEstimates {
    pub p50_ms: Option<Estimate>,
    pub p99_ms: Option<Estimate>,
    pub mean_ms: Option<Estimate>,
    pub throughput_rps: Option<Estimate>,
    pub availability: Option<Estimate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SloTally {
    pub endpoint: String,
    pub objective: Objective,
    pub target: f64,
    /// Runs that met it, out of `runs`.
    pub passed: usize,
    pub runs: usize,
    pub actual: Option<Estimate>,
}

impl SloTally {
    /// The figure over runs in the objective's unit, or `no data`.
    #[must_use]
    pub fn show_actual(&self) -> String {
        self.actual.map_or_else(|| "no data".to_owned(), |a| show(self.objective, &a))
    }
}

/// What the aggregate reads of one run. `run --seeds K --shard I/N` writes these for its seeds
/// and `fusebench merge` aggregates the runs of every shard as one process would have: floats
/// travel as Rust's shortest round-trip text (`exact_f64`), so the means, intervals and every
/// byte printed from them are the same as from the runs' own reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFigures {
    pub system: String,
    pub seed: u64,
    #[serde(with = "exact_f64")]
    pub duration_s: f64,
    pub events: u64,
    pub trace_hash: String,
    pub endpoints: BTreeMap<String, EndpointFigures>,
    /// One per objective of every SLO, in scenario order.
    pub slos: Vec<SloFigures>,
}

/// One endpoint's figures in one run (see [`super::EndpointReport`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointFigures {
    pub requests: u64,
    pub successes: u64,
    #[serde(with = "exact_f64")]
    pub availability: f64,
    #[serde(with = "exact_f64")]
    pub throughput_rps: f64,
    #[serde(with = "exact_f64")]
    pub p50_ms: f64,
    #[serde(with = "exact_f64")]
    pub p99_ms: f64,
    #[serde(with = "exact_f64")]
    pub mean_ms: f64,
}

/// One SLO objective judged in one run (see [`super::SloVerdict`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloFigures {
    pub endpoint: String,
    pub objective: Objective,
    #[serde(with = "exact_f64")]
    pub target: f64,
    #[serde(with = "exact_f64::option")]
    pub actual: Option<f64>,
    pub verdict: SloStatus,
}

impl RunFigures {
    /// The figures of `r` the aggregate reads.
    #[must_use]
    pub fn of(r: &Report) -> Self {
        RunFigures {
            system: r.system.clone(),
            seed: r.seed,
            duration_s: r.duration_s,
            events: r.events,
            trace_hash: r.trace_hash.clone(),
            endpoints: r
                .endpoints
                .iter()
                .map(|(name, e)| {
                    let figures = EndpointFigures {
                        requests: e.requests,
                        successes: e.successes,
                        availability: e.availability,
                        throughput_rps: e.throughput_rps,
                        p50_ms: e.latency.p50_ms,
                        p99_ms: e.latency.p99_ms,
                        mean_ms: e.latency.mean_ms,
                    };
                    (name.clone(), figures)
                })
                .collect(),
            slos: r
                .slos
                .iter()
                .map(|v| SloFigures {
                    endpoint: v.endpoint.clone(),
                    objective: v.objective,
                    target: v.target,
                    actual: v.actual,
                    verdict: v.verdict,
                })
                .collect(),
        }
    }
}

/// An `f64` as the text Rust writes for it (the shortest that reads back to the same bits,
/// `NaN` and `inf` included) rather than a JSON number, whose reading serde_json does not
/// promise to be exact.
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|_| D::Error::custom(format!("`{text}` is not a number")))
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        #[allow(clippy::ref_option)] // serde's `with` signature
        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            #[derive(Deserialize)]
            struct Exact(#[serde(with = "super")] f64);
            Ok(Option::<Exact>::deserialize(d)?.map(|Exact(v)| v))
        }
    }
}

impl MultiReport {
    /// Aggregates the reports of several seeds of one scenario (any order; at least one).
    #[must_use]
    pub fn new(reports: &[Report]) -> Self {
        Self::of_runs(reports.iter().map(RunFigures::of).collect())
    }

    /// Aggregates the figures of several seeds of one scenario (any order; at least one).
    #[must_use]
    pub fn of_runs(mut runs: Vec<RunFigures>) -> Self {
        assert!(!runs.is_empty(), "aggregating no run");
        runs.sort_by_key(|r| r.seed);
        let names: std::collections::BTreeSet<&String> =
            runs.iter().flat_map(|r| r.endpoints.keys()).collect();
        let endpoints = names
            .into_iter()
            .map(|name| {
                let with = |answered: bool, f: fn(&EndpointFigures) -> f64| {
                    let values: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.endpoints.get(name))
                        .filter(|e| if answered { e.requests > 0 } else { e.successes > 0 })
                        .map(f)
                        .collect();
                    Estimate::of(&values)
                };
                let estimates = EndpointEstimates {
                    p50_ms: with(false, |e| e.p50_ms),
                    p99_ms: with(false, |e| e.p99_ms),
                    mean_ms: with(false, |e| e.mean_ms),
                    // A run where the endpoint got nothing has zero throughput: count it.
                    throughput_rps: Estimate::of(
                        &runs
                            .iter()
                            .map(|r| r.endpoints.get(name).map_or(0.0, |e| e.throughput_rps))
                            .collect::<Vec<_>>(),
                    ),
                    availability: with(true, |e| e.availability),
                };
                (name.clone(), estimates)
            })
            .collect();
        let first = &runs[0];
        let slos = first
            .slos
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let same: Vec<_> = runs.iter().filter_map(|r| r.slos.get(i)).collect();
                let actual: Vec<f64> = same.iter().filter_map(|s| s.actual).collect();
                SloTally {
                    endpoint: v.endpoint.clone(),
                    objective: v.objective,
                    target: v.target,
                    passed: same.iter().filter(|s| s.verdict == SloStatus::Pass).count(),
                    runs: same.len(),
                    actual: Estimate::of(&actual),
                }
            })
            .collect();
        MultiReport {
            system: first.system.clone(),
            duration_s: first.duration_s,
            runs: runs
                .iter()
                .map(|r| RunSummary {
                    seed: r.seed,
                    events: r.events,
                    trace_hash: r.trace_hash.clone(),
                    slos_failed: r.slos.iter().filter(|v| v.verdict == SloStatus::Fail).count(),
                })
                .collect(),
            endpoints,
            slos,
        }
    }

    /// Whether every run met every SLO objective.
    #[must_use]
    pub fn slos_met(&self) -> bool {
        self.slos.iter().all(|s| s.passed == s.runs)
    }

    /// `report.json` of a multi-seed run.
    ///
    /// # Errors
    /// Never in practice; kept for the serialiser's signature.
    pub fn to_json(&self) -> Result<Vec<u8>, super::ReportError> {
        // Names come from the scenario (untrusted): every string shown visibly (`text::json`).
        let mut json = text::json(&serde_json::to_string_pretty(self)?);
        json.push('\n');
        Ok(json.into_bytes())
    }

    /// `report.md` of a multi-seed run; each seed's own report is in `seed-N/`.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let seeds = self.runs.iter().map(|r| r.seed.to_string()).collect::<Vec<_>>();
        let _ = writeln!(md, "# {}: {} seeds\n", text::markdown(&self.system), self.runs.len());
        let _ = writeln!(
            md,
            "Seeds {}; workload {:.3} s each. Figures are means over the runs ± the half-width \
             of their 95 % confidence interval (Student's t). Each seed's full report is in \
             `seed-N/`.\n",
            seeds.join(", "),
            self.duration_s
        );
        md.push_str("## SLO objectives\n\n");
        if self.slos.is_empty() {
            md.push_str("The scenario declares no SLO.\n");
        } else {
            md.push_str("| endpoint | objective | target | runs met | actual (mean ± CI) |\n");
            md.push_str("|---|---|---|---:|---:|\n");
            for s in &self.slos {
                let verdict = if s.passed == s.runs { "" } else { " **FAIL**" };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} / {}{verdict} | {} |",
                    text::markdown(&s.endpoint),
                    s.objective.label(),
                    s.objective.show_target(s.target),
                    s.passed,
                    s.runs,
                    s.show_actual(),
                );
            }
        }
        md.push_str("\n## Endpoints\n\n");
        md.push_str("| endpoint | p50 (ms) | p99 (ms) | mean (ms) | req/s | availability (%) |\n");
        md.push_str("|---|---:|---:|---:|---:|---:|\n");
        let cell = |e: Option<Estimate>, scale: f64, decimals: usize| {
            e.map_or_else(|| "–".to_owned(), |e| scaled(e, scale).show(decimals))
        };
        for (name, e) in &self.endpoints {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                text::markdown(name),
                cell(e.p50_ms, 1.0, 2),
                cell(e.p99_ms, 1.0, 2),
                cell(e.mean_ms, 1.0, 2),
                cell(e.throughput_rps, 1.0, 1),
                cell(e.availability, 100.0, 3),
            );
        }
        md.push_str("\n## Runs\n\n| seed | events | SLO objectives missed | trace BLAKE3 |\n");
        md.push_str("|---:|---:|---:|---|\n");
        for r in &self.runs {
            let _ = writeln!(
                md,
                "| {} | {} | {} | `{}` |",
                r.seed, r.events, r.slos_failed, r.trace_hash
            );
        }
        md
    }
}

/// An estimate in another unit (a fraction as a percentage).
#[must_use]
pub fn scaled(e: Estimate, k: f64) -> Estimate {
    Estimate {
        n: e.n,
        mean: e.mean * k,
        ci95: e.ci95.map(|h| h * k),
        min: e.min * k,
        max: e.max * k,
    }
}

/// An SLO figure over runs, in the objective's unit.
fn show(objective: Objective, e: &Estimate) -> String {
    match objective {
        Objective::P50Ms | Objective::P99Ms => format!("{} ms", e.show(2)),
        Objective::Availability => format!("{} %", scaled(*e, 100.0).show(3)),
        Objective::ThroughputMinRps => format!("{} req/s", e.show(1)),
    }
}
