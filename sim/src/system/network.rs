//! The network: messages between topology nodes take the latency of every link on the
//! (fewest-hop) path, and may be lost (link loss, loss faults) or dropped (partitions).

use std::collections::{BTreeMap, VecDeque};

use fusebench_model::scenario::Distribution;

use super::Sim;
use super::ids::NodeId;
use super::world::World;
use crate::dist::sample_nanos;
use crate::trace::TraceEvent;

/// Latency of a message between two components on the same node.
const LOCAL_NANOS: u64 = 50_000;

#[derive(Debug, Clone)]
struct LinkState {
    latency: Distribution,
    /// The link's own loss rate.
    loss: f64,
    /// Active partition faults on this link (a counter: faults may overlap).
    partitions: u32,
    /// Active loss faults: fault index → rate. Kept as a set, not a running float sum, so a
    /// fault's end removes exactly what its start added.
    loss_faults: BTreeMap<usize, f64>,
    /// The chance a message is lost: the link's loss and every active fault, each an
    /// independent drop (1 − Π(1 − rᵢ)).
    effective_loss: f64,
    extra_nanos: u64,
}

#[derive(Debug)]
pub(crate) struct Network {
    /// links[(a, b)] with a < b.
    links: BTreeMap<(usize, usize), LinkState>,
    /// next_hop[from][to]: the neighbour to go through, `None` if unreachable.
    next_hop: Vec<Vec<Option<usize>>>,
}

impl Network {
    pub(crate) fn new(world: &World) -> Self {
        let mut links = BTreeMap::new();
        let mut adj = vec![Vec::new(); world.nodes.len()];
        for l in &world.links {
            let (a, b) = (l.a.index(), l.b.index());
            links.insert(
                (a.min(b), a.max(b)),
                LinkState {
                    latency: l.latency,
                    loss: l.loss,
                    partitions: 0,
                    loss_faults: BTreeMap::new(),
                    effective_loss: l.loss,
                    extra_nanos: 0,
                },
            );
            adj[a].push(b);
            adj[b].push(a);
        }
        for a in &mut adj {
            a.sort_unstable();
            a.dedup();
        }
        let n = world.nodes.len();
        let mut next_hop = vec![vec![None; n]; n];
        for (src, row) in next_hop.iter_mut().enumerate() {
            // BFS from src; first hop recorded per reached node.
            let mut first: Vec<Option<usize>> = vec![None; n];
            let mut seen = vec![false; n];
            seen[src] = true;
            let mut queue = VecDeque::new();
            for &nb in &adj[src] {
                seen[nb] = true;
                first[nb] = Some(nb);
                queue.push_back(nb);
            }
            while let Some(u) = queue.pop_front() {
                for &v in &adj[u] {
                    if !seen[v] {
                        seen[v] = true;
                        first[v] = first[u];
                        queue.push_back(v);
                    }
                }
            }
            *row = first;
        }
        Network { links, next_hop }
    }

    fn link_mut(&mut self, a: NodeId, b: NodeId) -> Option<&mut LinkState> {
        let (a, b) = (a.index(), b.index());
        self.links.get_mut(&(a.min(b), a.max(b)))
    }

    pub(crate) fn set_partition(&mut self, a: NodeId, b: NodeId, on: bool) {
        if let Some(l) = self.link_mut(a, b) {
            l.partitions = if on { l.partitions + 1 } else { l.partitions.saturating_sub(1) };
        }
    }

    /// Loss fault `fault` starts (`Some(rate)`) or ends (`None`) on the link.
    pub(crate) fn set_loss_fault(&mut self, a: NodeId, b: NodeId, fault: usize, rate: Option<f64>) {
        if let Some(l) = self.link_mut(a, b) {
            match rate {
                Some(r) => l.loss_faults.insert(fault, r),
                None => l.loss_faults.remove(&fault),
            };
            l.effective_loss = combined_chance(l.loss, l.loss_faults.values().copied());
        }
    }

    pub(crate) fn add_latency(&mut self, a: NodeId, b: NodeId, nanos: i64) {
        if let Some(l) = self.link_mut(a, b) {
            l.extra_nanos = l.extra_nanos.saturating_add_signed(nanos);
        }
    }
}

/// The chance that at least one of independent events happens: `base` and each of `rates`.
pub(crate) fn combined_chance(base: f64, rates: impl Iterator<Item = f64>) -> f64 {
    let keep = rates.fold(1.0 - base.clamp(0.0, 1.0), |keep, r| keep * (1.0 - r.clamp(0.0, 1.0)));
    (1.0 - keep).clamp(0.0, 1.0)
}

impl Sim {
    /// The delay of one message from node `from` to node `to`, or `None` if it is lost or
    /// cannot get through (partition, no route). `what`/`id` name it in the trace when dropped.
    pub(crate) fn transit(&mut self, from: NodeId, to: NodeId, what: &str, id: u64) -> Option<u64> {
        if from == to {
            return Some(LOCAL_NANOS);
        }
        let (from, to) = (from.index(), to.index());
        let mut total = 0u64;
        let mut at = from;
        let mut reason = None;
        while at != to {
            let Some(next) = self.net.next_hop[at][to] else {
                reason = Some("no route");
                break;
            };
            let key = (at.min(next), at.max(next));
            let Some(link) = self.net.links.get(&key) else {
                reason = Some("no route");
                break;
            };
            if link.partitions > 0 {
                reason = Some("partition");
                break;
            }
            let (loss, declared) = (link.effective_loss, link.loss);
            let (latency, extra) = (link.latency, link.extra_nanos);
            // One draw decides the drop, as `chance(loss)` would; where it falls says whose
            // loss it was: below the link's own `loss` the design's link alone would have
            // dropped it (`loss`), above it only an active loss fault does (`loss fault`) —
            // so a fault on one link never excuses what another link loses by design.
            if loss > 0.0 {
                let u = self.rng_net.unit();
                if u < loss {
                    reason = Some(if u < declared { "loss" } else { "loss fault" });
                    break;
                }
            }
            total = total
                .saturating_add(sample_nanos(&latency, &mut self.rng_net))
                .saturating_add(extra);
            at = next;
        }
        match reason {
            None => Some(total.max(1)),
            Some(reason) => {
                let now = self.q.now();
                let (f, t) = (&self.world.nodes[from], &self.world.nodes[to]);
                self.trace.emit(now, &TraceEvent::Dropped { what, id, from: f, to: t, reason });
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::combined_chance;

    #[test]
    fn overlapping_chances_combine_as_independent_events_and_come_off_exactly() {
        assert_eq!(combined_chance(0.0, [].into_iter()), 0.0);
        assert!((combined_chance(0.1, [0.5].into_iter()) - 0.55).abs() < 1e-12);
        // Two faults at 0.8 overlap to 0.96, not a clamped 1.0; removing one leaves 0.8.
        assert!((combined_chance(0.0, [0.8, 0.8].into_iter()) - 0.96).abs() < 1e-12);
        assert!((combined_chance(0.0, [0.8].into_iter()) - 0.8).abs() < 1e-12);
        assert_eq!(combined_chance(0.0, [1.0, 0.3].into_iter()), 1.0);
    }
}
