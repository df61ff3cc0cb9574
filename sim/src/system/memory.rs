//! Node memory: the guest instances on a node share its `memory_mib`.
//!
//! Each instance's linear memory is charged to the node its replica runs on from the end of the
//! slice that grew it until the instance goes (its request ends without pooling, a fault, its
//! replica's crash). An instance whose growth takes the node past its capacity is killed at the
//! end of that slice, as the Linux OOM killer kills the process whose allocation the kernel
//! cannot back (Kubernetes reports `OOMKilled`): its invocation fails and its memory is freed;
//! other instances on the node go on. A design that overcommits its node is already refused by
//! the static check `node-memory`; this is what a run of it anyway shows.
//!
//! Memory is settled at slice ends, not at each `memory.grow`: a guest that grows and releases
//! within one slice cannot release (linear memory never shrinks), so the end of the slice sees
//! the most it took.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use super::ids::{NodeId, ReplicaIdx, ServiceId};
use crate::runtime::InstanceMemory;

/// What one live instance holds, and where.
#[derive(Debug, Clone, Copy)]
struct Resident {
    node: NodeId,
    service: ServiceId,
    replica: ReplicaIdx,
    bytes: u64,
}

/// An instance killed for taking more memory than its node had left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OomKill {
    /// The instance's memory when it was killed.
    pub(crate) bytes: u64,
    /// Held by the node's other instances at that moment.
    pub(crate) others: u64,
    pub(crate) capacity: u64,
}

#[derive(Debug)]
pub(crate) struct NodeMemory {
    /// Per node, in bytes.
    capacity: Vec<u64>,
    used: Vec<u64>,
    /// By instance id.
    resident: BTreeMap<u64, Resident>,
}

impl NodeMemory {
    pub(crate) fn new(capacity_mib: impl IntoIterator<Item = u64>) -> Self {
        let capacity: Vec<u64> =
            capacity_mib.into_iter().map(|m| m.saturating_mul(1 << 20)).collect();
        let used = vec![0; capacity.len()];
        NodeMemory { capacity, used, resident: BTreeMap::new() }
    }

    /// A slice of an instance of `service`'s `replica` on `node` ended holding `m`: charges
    /// what it keeps, or kills it if it grew past what the node has left.
    ///
    /// One search of the instance's entry (a kept instance is charged again after every slice:
    /// its entry is updated in place, not removed and inserted again).
    pub(crate) fn settle(
        &mut self,
        node: NodeId,
        service: ServiceId,
        replica: ReplicaIdx,
        m: InstanceMemory,
    ) -> Option<OomKill> {
        let entry = self.resident.entry(m.instance.0);
        // What it held is released first: `others` is the rest of the node.
        let before = match &entry {
            Entry::Occupied(e) => {
                let r = e.get();
                self.used[r.node.index()] -= r.bytes;
                r.bytes
            }
            Entry::Vacant(_) => 0,
        };
        let others = self.used[node.index()];
        let capacity = self.capacity[node.index()];
        let killed = m.bytes > before && others.saturating_add(m.bytes) > capacity;
        let resident = Resident { node, service, replica, bytes: m.bytes };
        match entry {
            Entry::Occupied(mut e) if !killed && m.kept && m.bytes > 0 => *e.get_mut() = resident,
            Entry::Vacant(e) if !killed && m.kept && m.bytes > 0 => {
                e.insert(resident);
            }
            Entry::Occupied(e) => {
                e.remove();
            }
            Entry::Vacant(_) => {}
        }
        if killed {
            return Some(OomKill { bytes: m.bytes, others, capacity });
        }
        if m.kept && m.bytes > 0 {
            self.used[node.index()] += m.bytes;
        }
        None
    }

    /// Every instance of `service`'s `replica` is gone (the replica crashed).
    pub(crate) fn drop_replica(&mut self, service: ServiceId, replica: ReplicaIdx) {
        let gone: Vec<u64> = self
            .resident
            .iter()
            .filter(|(_, r)| r.service == service && r.replica == replica)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.release(id);
        }
    }

    /// Bytes held on `node` right now.
    #[cfg(test)]
    pub(crate) fn used(&self, node: NodeId) -> u64 {
        self.used[node.index()]
    }

    /// Frees what instance `id` held; returns how much that was.
    fn release(&mut self, id: u64) -> u64 {
        match self.resident.remove(&id) {
            Some(r) => {
                self.used[r.node.index()] -= r.bytes;
                r.bytes
            }
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::InstanceId;

    const MIB: u64 = 1 << 20;

    fn m(instance: u64, mib: u64, kept: bool) -> InstanceMemory {
        InstanceMemory { instance: InstanceId(instance), bytes: mib * MIB, kept }
    }

    #[test]
    fn kept_instances_are_charged_until_their_replica_goes() {
        let (n, s) = (NodeId(0), ServiceId(0));
        let mut mem = NodeMemory::new([4]);
        assert_eq!(mem.settle(n, s, 0, m(1, 1, true)), None);
        assert_eq!(mem.settle(n, s, 1, m(2, 2, true)), None);
        assert_eq!(mem.used(n), 3 * MIB);
        // Not kept: its memory goes with the slice.
        assert_eq!(mem.settle(n, s, 0, m(3, 1, false)), None);
        assert_eq!(mem.used(n), 3 * MIB);
        mem.drop_replica(s, 0);
        assert_eq!(mem.used(n), 2 * MIB);
    }

    #[test]
    fn the_instance_that_grows_past_the_node_is_killed_and_frees_its_memory() {
        let (n, s) = (NodeId(0), ServiceId(0));
        let mut mem = NodeMemory::new([4]);
        assert_eq!(mem.settle(n, s, 0, m(1, 3, true)), None);
        assert_eq!(mem.settle(n, s, 1, m(2, 1, true)), None);
        let kill = mem.settle(n, s, 1, m(2, 2, true)).expect("2 + 3 MiB > 4 MiB");
        assert_eq!(kill, OomKill { bytes: 2 * MIB, others: 3 * MIB, capacity: 4 * MIB });
        assert_eq!(mem.used(n), 3 * MIB, "the killed instance holds nothing");
        // An instance that does not grow is never the one killed, even on a full node.
        assert_eq!(mem.settle(n, s, 0, m(1, 3, true)), None);
    }

    #[test]
    fn nodes_are_charged_separately() {
        let s = ServiceId(0);
        let mut mem = NodeMemory::new([2, 2]);
        assert_eq!(mem.settle(NodeId(0), s, 0, m(1, 2, true)), None);
        assert_eq!(mem.settle(NodeId(1), s, 0, m(2, 2, true)), None);
        assert!(mem.settle(NodeId(1), s, 0, m(3, 1, false)).is_some());
    }
}
