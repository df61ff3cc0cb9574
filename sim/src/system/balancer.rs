//! Load balancing over the replicas a caller discovered: round robin, uniform random, or the
//! replica with the fewest requests in service and queued.

use fusebench_model::scenario::LoadBalancing;

use super::Sim;
use super::event::Event;
use super::ids::{NodeId, ReplicaIdx, ReqId, ServiceId};

impl Sim {
    /// Picks a replica of `service` for `caller`; `None` when none is registered.
    fn pick_replica(
        &mut self,
        caller: Option<ServiceId>,
        service: ServiceId,
    ) -> Option<ReplicaIdx> {
        let candidates = self.discover(caller, service);
        if candidates.is_empty() {
            return None;
        }
        let balancing = self.world.service(service).balancing;
        let state = &mut self.services[service.index()];
        Some(match balancing {
            LoadBalancing::RoundRobin => {
                state.rr += 1;
                candidates[((state.rr - 1) % candidates.len() as u64) as usize]
            }
            LoadBalancing::Random => {
                candidates[self.rng_lb.below(candidates.len() as u64) as usize]
            }
            LoadBalancing::LeastOutstanding => candidates
                .iter()
                .copied()
                .min_by_key(|&r| (state.replicas[r as usize].outstanding(), r))
                .unwrap_or(candidates[0]),
        })
    }

    /// Sends request `req` towards a replica of its service, from node `from` on behalf of
    /// `caller`. Returns false when no replica is registered.
    pub(crate) fn dispatch_request(
        &mut self,
        req: ReqId,
        from: NodeId,
        caller: Option<ServiceId>,
    ) -> bool {
        let service = self.requests.live(req).service;
        let Some(replica) = self.pick_replica(caller, service) else { return false };
        let to = self.world.service(service).node;
        match self.transit(from, to, "request", req.0) {
            Some(d) => self.q.after(d, Event::AtReplica { req, service, replica }),
            None => {
                self.requests.settle(req);
                return true;
            }
        };
        true
    }
}
