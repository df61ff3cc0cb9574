//! The fault plan, applied at its times: crashes and restarts, partitions, latency spikes,
//! loss, duplication, reordering, replica lag and module swaps.

use fusebench_model::scenario::{FaultKind, FaultTarget};

use super::{Event, Sim};
use crate::time::{SimTime, millis_to_nanos, secs_to_nanos};
use crate::trace::TraceEvent;

impl Sim {
    pub(crate) fn schedule_faults(&mut self) {
        for (i, f) in self.s.faults.iter().enumerate() {
            let at = SimTime::from_secs_f64(f.at_s);
            self.q.schedule(at, Event::FaultStart(i));
            if let Some(d) = f.duration_s {
                self.q.schedule(at + secs_to_nanos(d), Event::FaultEnd(i));
            }
        }
    }

    /// The replicas a crash targets: (service index, replica).
    fn crash_targets(&self, target: &FaultTarget) -> Vec<(usize, u32)> {
        match target {
            FaultTarget::Service { service, replica } => {
                let Some(&svc) = self.serving.index.get(&service.name) else { return Vec::new() };
                let n = self.serving.svcs[svc].replicas.len() as u32;
                match replica {
                    Some(r) => vec![(svc, *r)],
                    None => (0..n).map(|r| (svc, r)).collect(),
                }
            }
            FaultTarget::Node { node } => {
                let node = self.net.node(&node.name);
                self.serving
                    .svcs
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| x.node == node)
                    .flat_map(|(i, x)| (0..x.replicas.len() as u32).map(move |r| (i, r)))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn link_of(&self, target: &FaultTarget) -> Option<(usize, usize)> {
        match target {
            FaultTarget::Link { between } => {
                Some((self.net.node(&between[0].name), self.net.node(&between[1].name)))
            }
            _ => None,
        }
    }

    fn channel_of(&self, target: &FaultTarget) -> Option<usize> {
        match target {
            FaultTarget::Channel { channel } => {
                self.s.channels.iter().position(|c| c.name == channel.name)
            }
            _ => None,
        }
    }

    pub(crate) fn on_fault_start(&mut self, i: usize) {
        let now = self.q.now();
        let f = self.s.faults[i].clone();
        self.trace.emit(now, &TraceEvent::FaultStart { index: i, kind: f.kind.name() });
        self.apply_fault(&f.kind, &f.target, true);
        if let FaultKind::Crash { restart_after_s: Some(after) } = f.kind {
            for (svc, replica) in self.crash_targets(&f.target) {
                self.q.after(secs_to_nanos(after), Event::Restart { svc, replica });
            }
        }
    }

    pub(crate) fn on_fault_end(&mut self, i: usize) {
        let now = self.q.now();
        let f = self.s.faults[i].clone();
        self.trace.emit(now, &TraceEvent::FaultEnd { index: i, kind: f.kind.name() });
        self.apply_fault(&f.kind, &f.target, false);
    }

    fn apply_fault(&mut self, kind: &FaultKind, target: &FaultTarget, on: bool) {
        let sign = if on { 1.0 } else { -1.0 };
        match kind {
            FaultKind::Crash { .. } => {
                if on {
                    for (svc, replica) in self.crash_targets(target) {
                        self.crash_replica(svc, replica);
                    }
                }
            }
            FaultKind::Partition => {
                if let Some((a, b)) = self.link_of(target) {
                    self.net.set_partition(a, b, on);
                }
            }
            FaultKind::LatencySpike { extra_ms } => {
                if let Some((a, b)) = self.link_of(target) {
                    let n = millis_to_nanos(*extra_ms) as i64;
                    self.net.add_latency(a, b, if on { n } else { -n });
                }
            }
            FaultKind::Loss { rate } => {
                if let Some((a, b)) = self.link_of(target) {
                    self.net.add_loss(a, b, sign * rate);
                }
            }
            FaultKind::Duplication { rate } => {
                if let Some(c) = self.channel_of(target) {
                    let r = self.data.dup_rate.entry(c).or_default();
                    *r = (*r + sign * rate).clamp(0.0, 1.0);
                }
            }
            FaultKind::Reorder { jitter_ms } => {
                if let Some(c) = self.channel_of(target) {
                    if on {
                        self.data.jitter_nanos.insert(c, millis_to_nanos(*jitter_ms));
                    } else {
                        self.data.jitter_nanos.remove(&c);
                    }
                }
            }
            FaultKind::ReplicaLag { extra_ms } => {
                if let FaultTarget::Store { store } = target
                    && let Some(d) = self.data.store_index(&store.name)
                {
                    let n = millis_to_nanos(*extra_ms);
                    let s = &mut self.data.stores[d];
                    s.extra_lag_nanos = if on {
                        s.extra_lag_nanos + n
                    } else {
                        s.extra_lag_nanos.saturating_sub(n)
                    };
                }
            }
            FaultKind::ModuleSwap { .. } => {
                if on
                    && let FaultTarget::Service { service, .. } = target
                    && let Some(&svc) = self.serving.index.get(&service.name)
                {
                    // The setup loaded the replacement under `<service>@swap<fault index>`.
                    let idx = self
                        .s
                        .faults
                        .iter()
                        .position(|f| &f.kind == kind && &f.target == target)
                        .unwrap_or(0);
                    self.serving.svcs[svc].runtime_name = format!("{}@swap{idx}", service.name);
                }
            }
        }
    }
}
