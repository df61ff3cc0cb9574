//! Node capacity: the replicas placed on a node must fit in its memory. Each replica of a
//! service with a module may hold up to `concurrency` live instances (pooled or per request),
//! each allowed to grow to the service's `memory_max_kib`; their sum over the node is what it
//! must be able to give — as Kubernetes refuses to schedule pods whose memory limits overcommit
//! a node when limits equal requests (the Guaranteed QoS class). Abstract services (no module)
//! hold no guest memory and are not counted. A service's replicas include those of its mesh
//! subsets that are Deployments of their own (`[[mesh.subset]]` with `replicas`: Istio's
//! second Deployment runs on the service's node too).

use super::Findings;
use crate::diagnostic::Severity;

pub(super) const MEMORY_ID: &str = "node-memory";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    for (n, node) in s.nodes.iter().enumerate() {
        let placed: Vec<(usize, u64)> = s
            .services
            .iter()
            .enumerate()
            .filter(|(_, svc)| svc.module.is_some() && svc.node.name == node.name)
            .map(|(i, svc)| {
                let per_replica = u64::from(svc.concurrency).saturating_mul(s.memory_max_kib(svc));
                (i, u64::from(s.replicas_of(svc)).saturating_mul(per_replica))
            })
            .collect();
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
                    k / 1024
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

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
