//! Node capacity: the replicas placed on a node must fit in its memory. Each replica of a
//! service with a module may hold up to `concurrency` live instances (pooled or per request),
//! each allowed to grow to the service's `memory_max_kib`; their sum over the node is what it
//! must be able to give — as Kubernetes refuses to schedule pods whose memory limits overcommit
//! a node when limits equal requests (the Guaranteed QoS class). Abstract services (no module)
//! hold no guest memory and are not counted. A service's replicas include those of its mesh
//! subsets that are Deployments of their own (`[[mesh.subset]]` with `replicas`: Istio's
//! second Deployment runs on the service's node too).
//!
//! A rolling rollout places one more replica beside the old ones before it drains any when
//! `max_unavailable` is 0 (Kubernetes' default for 1–3 replicas): on a node its instances
//! already fill, that surge replica stays pending and the rollout never finishes — the
//! simulator places a replica only where it fits (`system/autoscale.rs`, `room_for`), as the
//! Kubernetes scheduler leaves such a pod `Pending`.

use super::Findings;
use crate::diagnostic::Severity;
use crate::scenario::{Scenario, Service, Strategy};

pub(super) const MEMORY_ID: &str = "node-memory";

/// What one replica of `svc` may hold: `concurrency` instances of at most `memory_max_kib`.
fn per_replica_kib(s: &Scenario, svc: &Service) -> u64 {
    u64::from(svc.concurrency).saturating_mul(s.memory_max_kib(svc))
}

/// The services with a module on node `node`, each with the memory its replicas may hold.
fn placed_on(s: &Scenario, node: &str) -> Vec<(usize, u64)> {
    s.services
        .iter()
        .enumerate()
        .filter(|(_, svc)| svc.module.is_some() && svc.node.name == node)
        .map(|(i, svc)| (i, u64::from(s.replicas_of(svc)).saturating_mul(per_replica_kib(s, svc))))
        .collect()
}

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    rollout_surge(f);
    for (n, node) in s.nodes.iter().enumerate() {
        let placed = placed_on(s, &node.name);
        let needed_kib: u64 = placed.iter().map(|(_, k)| *k).fold(0, u64::saturating_add);
        let have_kib = node.memory_mib.saturating_mul(1024);
        if needed_kib <= have_kib {
            continue;
        }
        let mut parts: Vec<(usize, u64)> = placed.clone();
        parts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let listed: Vec<String> = parts
            .iter()
            .take(4)
            .map(|(i, k)| {
                let svc = &s.services[*i];
                format!(
                    "`{}` {} replica(s) × {} instance(s) × {} KiB = {} MiB",
                    svc.name,
                    s.replicas_of(svc),
                    svc.concurrency,
                    s.memory_max_kib(svc),
                    k.div_ceil(1024)
                )
            })
            .collect();
        let d = f.push(
            Severity::Error,
            MEMORY_ID,
            node.span,
            format!(
                "node `{}` has {} MiB of memory, but the instances placed on it may grow to {} MiB: {}",
                node.name,
                node.memory_mib,
                needed_kib.div_ceil(1024),
                listed.join("; ")
            ),
        );
        d.field = Some(format!("node[{n}].memory_mib"));
        d.hint = Some(format!(
            "raise `memory_mib` to at least {}, or lower replicas, concurrency or memory_max_kib of the services on it",
            needed_kib.div_ceil(1024)
        ));
    }
}

/// A rolling rollout that must place a surge replica before draining any, on a node whose
/// placed instances leave no room for it.
fn rollout_surge(f: &mut Findings<'_>) {
    let s = f.s;
    for r in s.rollouts.iter().filter(|r| r.strategy == Strategy::Rolling) {
        // Unset for an autoscaled service: resolved against its count of the moment.
        let (Some(surge), Some(0)) = (r.max_surge, r.max_unavailable) else { continue };
        let Some(svc) = s.service(&r.service.name).filter(|x| x.module.is_some()) else {
            continue;
        };
        let Some(node) = s.nodes.iter().find(|n| n.name == svc.node.name) else { continue };
        let needed_kib: u64 =
            placed_on(s, &node.name).iter().map(|(_, k)| *k).fold(0, u64::saturating_add);
        let have_kib = node.memory_mib.saturating_mul(1024);
        let one = per_replica_kib(s, svc);
        // An overcommitted node is reported as such; a surge of 0 with none unavailable is
        // refused when the scenario is read.
        if surge == 0 || needed_kib > have_kib || needed_kib.saturating_add(one) <= have_kib {
            continue;
        }
        let d = f.push(
            Severity::Error,
            MEMORY_ID,
            r.span,
            format!(
                "the rolling rollout of `{}` can never finish: with `max_unavailable = 0` it starts a new replica ({} MiB) before draining an old one, but node `{}` has {} MiB and the instances placed on it already take {} MiB",
                svc.name,
                one.div_ceil(1024),
                node.name,
                node.memory_mib,
                needed_kib.div_ceil(1024)
            ),
        );
        d.hint = Some(format!(
            "set `max_unavailable = 1` (an old replica drains first), or raise node `{}`'s `memory_mib` to at least {}",
            node.name,
            needed_kib.saturating_add(one).div_ceil(1024)
        ));
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
