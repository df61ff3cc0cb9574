//! The fault plan, applied at its times: crashes and restarts, partitions, latency spikes,
//! loss, duplication, reordering, replica lag and module swaps.
//!
//! Faults may overlap. Counters (partitions), integer sums (latency, lag) and sets of active
//! faults (loss and duplication combine as independent events; reorder takes the largest
//! jitter) make a fault's end undo exactly what its start did.

use fusebench_model::scenario::FaultKind;

use super::Sim;
use super::event::Event;
use super::world::FaultSite;
use crate::time::{millis_to_nanos, secs_to_nanos};
use crate::trace::TraceEvent;

impl Sim {
    pub(crate) fn schedule_faults(&mut self) {
        for (i, f) in self.world.faults.iter().enumerate() {
            self.q.schedule(f.start, Event::FaultStart(i));
            if let Some(end) = f.end {
                self.q.schedule(end, Event::FaultEnd(i));
            }
        }
    }

    pub(crate) fn on_fault_start(&mut self, i: usize) {
        let now = self.q.now();
        let kind = self.world.faults[i].kind.clone();
        self.trace.emit(now, &TraceEvent::FaultStart { index: i, kind: kind.name() });
        self.apply_fault(i, true);
        if let (
            FaultKind::Crash { restart_after_s: Some(after) },
            FaultSite::Replicas { replicas, .. },
        ) = (&kind, &self.world.faults[i].site)
        {
            for &(service, replica) in replicas {
                self.q.after(secs_to_nanos(*after), Event::Restart { service, replica });
            }
            // The crash heals when its replicas restart: its `fault_end` then (after the
            // restarts, in scheduling order), as a timed fault's at its end — a `[[temporal]]`
            // scope `to = { on = "heal" }` closes there, and the replay story stops calling it
            // active. A crash without a restart never heals.
            if self.world.faults[i].end.is_none() {
                self.q.after(secs_to_nanos(*after), Event::FaultEnd(i));
            }
        }
    }

    pub(crate) fn on_fault_end(&mut self, i: usize) {
        let now = self.q.now();
        let kind = self.world.faults[i].kind.name();
        self.trace.emit(now, &TraceEvent::FaultEnd { index: i, kind });
        self.apply_fault(i, false);
    }

    fn apply_fault(&mut self, i: usize, on: bool) {
        let f = &self.world.faults[i];
        match (&f.kind, &f.site) {
            // A crash ends by its restart, not by the end of a duration.
            (FaultKind::Crash { .. }, FaultSite::Replicas { replicas, .. }) if on => {
                for (service, replica) in replicas.clone() {
                    self.crash_replica(service, replica);
                }
            }
            (FaultKind::Partition, &FaultSite::Link(a, b)) => self.net.set_partition(a, b, on),
            (FaultKind::LatencySpike { extra_ms }, &FaultSite::Link(a, b)) => {
                let n = millis_to_nanos(*extra_ms) as i64;
                self.net.add_latency(a, b, if on { n } else { -n });
            }
            (FaultKind::Loss { rate }, &FaultSite::Link(a, b)) => {
                self.net.set_loss_fault(a, b, i, on.then_some(*rate));
            }
            (FaultKind::Duplication { rate }, &FaultSite::Channel(c)) => {
                self.broker.set_duplication(c, i, on.then_some(*rate));
            }
            (FaultKind::Reorder { jitter_ms }, &FaultSite::Channel(c)) => {
                self.broker.set_jitter(c, i, on.then(|| millis_to_nanos(*jitter_ms)));
            }
            (FaultKind::ReplicaLag { extra_ms }, &FaultSite::Store(d)) => {
                let n = millis_to_nanos(*extra_ms);
                let s = &mut self.stores[d.index()];
                s.extra_lag_nanos =
                    if on { s.extra_lag_nanos + n } else { s.extra_lag_nanos.saturating_sub(n) };
            }
            (FaultKind::ModuleSwap { .. }, FaultSite::Replicas { service: Some(service), .. }) => {
                // Every replica at once, and every one that starts later (the target).
                if on && let Some(name) = &f.swap_module {
                    let state = &mut self.services[service.index()];
                    let v = state.version_named(name);
                    state.target = v;
                    for r in &mut state.replicas {
                        r.version = v;
                    }
                }
            }
            // A kind on a target it does not apply to (the parser refuses these) does nothing.
            _ => {}
        }
    }
}
