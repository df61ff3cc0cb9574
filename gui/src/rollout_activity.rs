//! What the rollouts did during a run, read from its trace as the run goes: each rollout's
//! timeline (start, finish, replica steps, how long two versions served side by side) and
//! how many replicas ran the old and the new version over time — the inspector's rollout view
//! (`panels/rollout.rs`).
//!
//! Every figure comes from the `rollout` lines through the simulator's own reader
//! (`fusebench_sim::trace::rollout::Versions`, the one `rollout-safe` and the report use), so
//! the view agrees with them. Memory stays bounded whatever the run's length: replicas per
//! version are sampled at a fixed resolution ([`BINS`] per run, the last state in each bin).

use std::collections::BTreeMap;

use fusebench_sim::time::SimTime;
use fusebench_sim::trace::rollout::{RolloutTimeline, Versions};
use fusebench_sim::trace::{TraceEvent, TraceLine};

/// Time bins per run for replicas per version.
pub const BINS: usize = 100;

#[derive(Debug, Clone)]
pub struct RolloutActivity {
    end: SimTime,
    /// The last trace line's time.
    now: SimTime,
    versions: Versions,
    /// Per rolled-out service: (old, new) replicas at the end of each bin a `rollout` line
    /// fell in; bins without one carry the previous state.
    bins: BTreeMap<String, Vec<Option<(u32, u32)>>>,
}

impl RolloutActivity {
    /// Nothing seen yet, for a run ending at `end`.
    #[must_use]
    pub fn new(end: SimTime) -> RolloutActivity {
        RolloutActivity {
            end,
            now: SimTime::ZERO,
            versions: Versions::default(),
            bins: BTreeMap::new(),
        }
    }

    fn bin(&self, t: SimTime) -> usize {
        if self.end.nanos() == 0 {
            return 0;
        }
        let at = u128::from(t.nanos()) * BINS as u128 / u128::from(self.end.nanos());
        usize::try_from(at).unwrap_or(BINS).min(BINS - 1)
    }

    /// Takes in one trace line.
    pub fn note(&mut self, line: &TraceLine) {
        self.now = line.t;
        let TraceEvent::Rollout { service, step, replica, version, desired } = &line.event else {
            return;
        };
        self.versions.step(line.t, service, step, *replica, *version, *desired);
        let counts = self.versions.replicas_of(service);
        let bin = self.bin(line.t);
        self.bins.entry(service.clone()).or_insert_with(|| vec![None; BINS])[bin] = Some(counts);
    }

    /// `service`'s rollout as the trace has told it so far (skew still open counted up to
    /// the last line read), if it started.
    #[must_use]
    pub fn timeline(&self, service: &str) -> Option<RolloutTimeline> {
        self.versions.timelines_at(self.now).into_iter().find(|t| t.service == service)
    }

    /// `service`'s replicas on the old and on the new version over the run, from the
    /// rollout's start: `(old, new)` as `[seconds, replicas]` step corners, one step per bin
    /// with a change, carried to the run's end. Empty when no rollout of it started.
    #[must_use]
    pub fn replicas_over_time(&self, service: &str) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
        let Some(bins) = self.bins.get(service) else { return (Vec::new(), Vec::new()) };
        let width = self.end.as_secs_f64() / BINS as f64;
        let (mut old, mut new): (Vec<[f64; 2]>, Vec<[f64; 2]>) = (Vec::new(), Vec::new());
        for (i, counts) in bins.iter().enumerate() {
            let Some((o, n)) = *counts else { continue };
            let at = i as f64 * width;
            for (series, v) in [(&mut old, o), (&mut new, n)] {
                if let Some(&[_, last]) = series.last() {
                    series.push([at, last]);
                }
                series.push([at, f64::from(v)]);
            }
        }
        let end = self.end.as_secs_f64();
        for series in [&mut old, &mut new] {
            if let Some(&[_, last]) = series.last() {
                series.push([end, last]);
            }
        }
        (old, new)
    }
}

#[cfg(test)]
mod tests {
    use fusebench_sim::trace::{TraceEvent, TraceLine};

    use super::*;

    fn line(ms: u64, step: &str, replica: u32, version: u32) -> TraceLine {
        TraceLine {
            t: SimTime(ms * 1_000_000),
            event: TraceEvent::Rollout {
                service: "cat".into(),
                step: step.into(),
                replica,
                version,
                desired: 2,
            },
        }
    }

    #[test]
    fn replicas_per_version_follow_the_rollout_lines_at_a_fixed_resolution() {
        let mut a = RolloutActivity::new(SimTime(10_000_000_000));
        assert_eq!(a.replicas_over_time("cat"), (Vec::new(), Vec::new()));
        assert!(a.timeline("cat").is_none());
        for l in [
            line(1000, "started", 0, 1),
            line(1000, "starting", 2, 1),
            line(1500, "ready", 2, 1),
            line(1500, "terminating", 1, 0),
            line(2000, "stopped", 1, 0),
            line(2000, "starting", 1, 1),
            line(2500, "ready", 1, 1),
            line(2500, "terminating", 0, 0),
            line(3000, "stopped", 0, 0),
            line(3000, "finished", 0, 1),
        ] {
            a.note(&l);
        }
        let (old, new) = a.replicas_over_time("cat");
        // 10 s in 100 bins: 1 s is bin 10, 2 s bin 20, 3 s bin 30.
        assert_eq!(old.first(), Some(&[1.0, 2.0]));
        assert_eq!(new.first(), Some(&[1.0, 1.0]));
        assert!(old.contains(&[2.0, 1.0]) && old.contains(&[3.0, 0.0]), "{old:?}");
        assert!(new.contains(&[2.0, 2.0]), "{new:?}");
        assert_eq!(old.last(), Some(&[10.0, 0.0]));
        assert_eq!(new.last(), Some(&[10.0, 2.0]));
        let t = a.timeline("cat").expect("started");
        assert_eq!(
            (t.started, t.finished, t.version),
            (SimTime(1_000_000_000), Some(SimTime(3_000_000_000)), 1)
        );
        assert_eq!(t.skew_ns, 2_000_000_000);
        // Lines of a long run land in their bins: memory stays fixed.
        for i in 0..10_000u64 {
            a.note(&line(3000 + i / 2, if i % 2 == 0 { "terminating" } else { "ready" }, 5, 1));
        }
        assert_eq!(a.bins["cat"].len(), BINS);
    }
}
