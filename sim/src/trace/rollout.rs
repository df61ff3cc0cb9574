//! Rollouts as the trace tells them: which module version each replica of a rolled-out
//! service runs at any instant, read off the `rollout` lines alone (`system/rollout.rs` writes
//! them) — for the `rollout-safe` property, and for the report's rollout section, which the
//! simulator keeps by feeding this same reader every line it writes (so the two agree by
//! construction, and `sim/tests/report_agrees.rs`-style tests hold them to the trace).
//!
//! From `started` on, positions `0..desired` (the desired count then) run the old version;
//! `starting`, `swapped`, `restarted` and `ready` put a replica on the line's version,
//! `stopped` takes it away; `terminating` and `draining` mark it retiring (until a replica in
//! its position is ready, restarted or swapped: one merely `starting` there is reached only
//! through the retired one's stale registry entry; or until it crashes, which the property
//! tells it from `replica_down`), a stop does not (a replica stopped while down or starting served nothing). The skew
//! window is the time two versions are placed side by side.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{TraceEvent, TraceLine};
use crate::time::SimTime;

/// What the trace says about one rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutTimeline {
    pub service: String,
    /// The new version's number (the service's module versions, 0 its declared module).
    pub version: u32,
    pub started: SimTime,
    pub finished: Option<SimTime>,
    /// `rollout` lines about single replicas (starting, ready, draining, …).
    pub steps: u64,
    /// How long replicas of two versions were placed side by side, ns (up to the run's end
    /// for an unfinished rollout).
    pub skew_ns: u64,
}

/// Follows which version every replica of a rolled-out service runs.
#[derive(Debug, Default, Clone)]
pub struct Versions {
    /// (service, position) → the version it runs, `None` for the old one, while placed.
    pub(crate) placed: BTreeMap<(String, u32), Option<u32>>,
    /// Positions the rollout is retiring or retired.
    pub(crate) retiring: BTreeMap<(String, u32), ()>,
    /// Per rolled-out service: its timeline, and since when it has had two versions.
    timelines: Vec<(RolloutTimeline, Option<SimTime>)>,
}

impl Versions {
    /// The timelines so far, skew windows still open closed at `now`.
    #[must_use]
    pub fn timelines_at(&self, now: SimTime) -> Vec<RolloutTimeline> {
        self.clone().finish(now)
    }

    fn new_version(&self, service: &str) -> Option<u32> {
        self.timelines.iter().find(|(t, _)| t.service == service).map(|(t, _)| t.version)
    }

    /// Whether `service`'s `replica` runs its rollout's new version now.
    pub(crate) fn runs_new(&self, service: &str, replica: u32) -> bool {
        let key = (service.to_owned(), replica);
        self.new_version(service)
            .is_some_and(|v| self.placed.get(&key).copied().flatten() == Some(v))
    }

    /// `service`'s replicas placed now: (on the old version, on its rollout's new one).
    #[must_use]
    pub fn replicas_of(&self, service: &str) -> (u32, u32) {
        let new = self.new_version(service);
        let (mut on_old, mut on_new) = (0, 0);
        for ((s, _), v) in &self.placed {
            if s == service {
                if v.is_some() && *v == new {
                    on_new += 1;
                } else {
                    on_old += 1;
                }
            }
        }
        (on_old, on_new)
    }

    fn skewed(&self, service: &str) -> bool {
        let mut seen: Option<Option<u32>> = None;
        for ((s, _), v) in &self.placed {
            if s != service {
                continue;
            }
            match seen {
                None => seen = Some(*v),
                Some(w) if w != *v => return true,
                Some(_) => {}
            }
        }
        false
    }

    /// Takes in one `rollout` line's fields.
    pub fn step(
        &mut self,
        t: SimTime,
        service: &str,
        step: &str,
        replica: u32,
        version: u32,
        desired: u32,
    ) {
        let key = (service.to_owned(), replica);
        match step {
            "started" => {
                for r in 0..desired {
                    self.placed.insert((service.to_owned(), r), None);
                }
                let timeline = RolloutTimeline {
                    service: service.to_owned(),
                    version,
                    started: t,
                    finished: None,
                    steps: 0,
                    skew_ns: 0,
                };
                self.timelines.push((timeline, None));
                return;
            }
            "finished" => {
                self.note_skew(t, service);
                if let Some((tl, since)) =
                    self.timelines.iter_mut().find(|(tl, _)| tl.service == service)
                {
                    tl.finished = Some(t);
                    if let Some(s) = since.take() {
                        tl.skew_ns += t - s;
                    }
                }
                return;
            }
            "starting" => {
                // A new replica in a retired one's position is not in the registry yet: a
                // caller reaching the position still does so through the old one's stale entry.
                self.placed.insert(key, Some(version));
            }
            "swapped" | "restarted" | "ready" => {
                self.placed.insert(key.clone(), Some(version));
                self.retiring.remove(&key);
            }
            "terminating" | "draining" => {
                self.retiring.insert(key, ());
            }
            "stopped" => {
                // Still retiring if it was retired while serving (`terminating`/`draining`
                // before). One stopped while it served nothing — down after a crash, starting,
                // pending — is not: a caller reaching it through the registry's stale entry
                // would have failed there without the rollout too (the crash's doing).
                self.placed.remove(&key);
            }
            _ => {}
        }
        if let Some((tl, _)) = self.timelines.iter_mut().find(|(tl, _)| tl.service == service) {
            tl.steps += 1;
        }
        self.note_skew(t, service);
    }

    /// `service`'s `replica` crashed (a `replica_down` line, which the property passes on):
    /// a retired replica that crashed is no longer the rollout's doing — a caller reaching its
    /// position from now on would have failed there without the rollout too.
    pub fn crashed(&mut self, service: &str, replica: u32) {
        self.retiring.remove(&(service.to_owned(), replica));
    }

    /// Opens or closes `service`'s skew window as its replicas' versions now stand.
    fn note_skew(&mut self, t: SimTime, service: &str) {
        let skewed = self.skewed(service);
        if let Some((tl, since)) = self.timelines.iter_mut().find(|(tl, _)| tl.service == service) {
            match (skewed, *since) {
                (true, None) => *since = Some(t),
                (false, Some(s)) => {
                    tl.skew_ns += t - s;
                    *since = None;
                }
                _ => {}
            }
        }
    }

    /// The timelines, skew windows still open closed at `end`.
    #[must_use]
    pub fn finish(self, end: SimTime) -> Vec<RolloutTimeline> {
        self.timelines
            .into_iter()
            .map(|(mut tl, since)| {
                if let Some(s) = since {
                    tl.skew_ns += end - s;
                }
                tl
            })
            .collect()
    }
}

/// Every rollout's timeline, read from trace lines in order.
#[must_use]
pub fn timelines<'a>(lines: impl IntoIterator<Item = &'a TraceLine>) -> Vec<RolloutTimeline> {
    let mut v = Versions::default();
    let mut end = SimTime::ZERO;
    for line in lines {
        end = line.t;
        if let TraceEvent::Rollout { service, step, replica, version, desired } = &line.event {
            v.step(line.t, service, step, *replica, *version, *desired);
        }
    }
    v.finish(end)
}
