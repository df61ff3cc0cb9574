//! Node CPUs: the invocations computing on a node share its `cpu_cores` by processor sharing.
//! With n slices computing on c cores, each progresses at min(1, c/n) of a core — more runnable
//! invocations than cores stretch each one's CPU time, as the Linux CFS scheduler shares cores
//! among runnable threads (queueing theory's M/M/c-PS: the node serves min(n, c) CPU-seconds per
//! second).
//!
//! The node keeps a *virtual time* V: the CPU time each runnable slice has received since some
//! origin. V grows at min(1, c/n) per nanosecond, so a slice with demand w started at V₀ is done
//! when V = V₀ + w — its order among the others never changes, and only the earliest needs a
//! timer (one per node). V is an integer in 2⁻¹⁶ ns steps; the timer rounds up, so a slice is
//! never finished early.

use std::collections::{BTreeMap, BTreeSet};

use super::Sim;
use super::event::Event;
use super::ids::{InvId, NodeId};
use crate::engine::TimerId;
use crate::time::SimTime;

/// Virtual-time units per CPU nanosecond.
const SCALE: u128 = 1 << 16;

#[derive(Debug)]
pub(crate) struct NodeCpu {
    cores: u128,
    /// CPU time received by every runnable slice (× `SCALE`), as of `at`.
    virt: u128,
    at: SimTime,
    /// Runnable slices by the virtual time they finish at.
    runnable: BTreeSet<(u128, InvId)>,
    finish_of: BTreeMap<InvId, u128>,
    /// The earliest finish's timer, if any slice is runnable.
    timer: Option<TimerId>,
}

impl NodeCpu {
    pub(crate) fn new(cores: u32) -> Self {
        NodeCpu {
            cores: u128::from(cores.max(1)),
            virt: 0,
            at: SimTime::ZERO,
            runnable: BTreeSet::new(),
            finish_of: BTreeMap::new(),
            timer: None,
        }
    }

    /// The invocations computing here now.
    pub(crate) fn computing(&self) -> impl Iterator<Item = InvId> + '_ {
        debug_assert_eq!(self.runnable.len(), self.finish_of.len());
        self.runnable.iter().map(|&(_, inv)| inv)
    }

    /// Brings V up to `now`.
    fn advance(&mut self, now: SimTime) {
        let n = self.runnable.len() as u128;
        let dt = u128::from(now - self.at);
        self.virt += (dt * SCALE * n.min(self.cores)).checked_div(n).unwrap_or(0);
        self.at = now;
    }

    /// Nanoseconds until the earliest runnable slice is done (rounded up).
    fn next_done_in(&self) -> Option<u64> {
        let &(finish, _) = self.runnable.first()?;
        let n = self.runnable.len() as u128;
        let left = finish.saturating_sub(self.virt) * n;
        let per_ns = SCALE * n.min(self.cores);
        Some(u64::try_from(left.div_ceil(per_ns)).unwrap_or(u64::MAX))
    }
}

impl Sim {
    /// `inv` starts computing `demand` nanoseconds of CPU on `node`; `Event::CpuDone` reports
    /// when it has received them.
    pub(crate) fn cpu_start(&mut self, node: NodeId, inv: InvId, demand: u64) {
        let now = self.q.now();
        let cpu = &mut self.cpus[node.index()];
        cpu.advance(now);
        let finish = cpu.virt + u128::from(demand) * SCALE;
        cpu.runnable.insert((finish, inv));
        let old = cpu.finish_of.insert(inv, finish);
        assert!(old.is_none(), "{inv} computes twice on one node");
        self.cpu_reschedule(node);
    }

    /// `inv` stops computing before it is done (its replica crashed).
    pub(crate) fn cpu_cancel(&mut self, node: NodeId, inv: InvId) {
        let now = self.q.now();
        let cpu = &mut self.cpus[node.index()];
        let Some(finish) = cpu.finish_of.remove(&inv) else { return };
        cpu.advance(now);
        cpu.runnable.remove(&(finish, inv));
        self.cpu_reschedule(node);
    }

    fn cpu_reschedule(&mut self, node: NodeId) {
        let cpu = &mut self.cpus[node.index()];
        if let Some(t) = cpu.timer.take() {
            self.q.cancel(t);
        }
        if let Some(dt) = cpu.next_done_in() {
            cpu.timer = Some(self.q.timer_after(dt, Event::CpuDone(node)));
        }
    }

    /// The node's earliest slice is due: every slice that has received its demand is done.
    pub(crate) fn on_cpu_done(&mut self, node: NodeId) {
        let now = self.q.now();
        let cpu = &mut self.cpus[node.index()];
        cpu.timer = None; // it fired
        cpu.advance(now);
        let mut done = Vec::new();
        while let Some(&(finish, inv)) = cpu.runnable.first() {
            if finish > cpu.virt {
                break;
            }
            cpu.runnable.pop_first();
            cpu.finish_of.remove(&inv);
            done.push(inv);
        }
        self.cpu_reschedule(node);
        for inv in done {
            self.slice_computed(inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_stretch_only_beyond_the_cores() {
        let mut cpu = NodeCpu::new(2);
        for (i, w) in [(0u64, 10u128), (1, 20)] {
            cpu.runnable.insert((w * 1_000 * SCALE, InvId(i)));
        }
        // Two slices on two cores: each at full speed.
        assert_eq!(cpu.next_done_in(), Some(10_000));
        cpu.runnable.insert((30_000 * SCALE, InvId(2)));
        cpu.runnable.insert((40_000 * SCALE, InvId(3)));
        // Four on two: half speed each, so the first needs twice its remaining demand.
        assert_eq!(cpu.next_done_in(), Some(20_000));
        cpu.advance(SimTime(20_000));
        assert_eq!(cpu.virt, 10_000 * SCALE);
        assert_eq!(cpu.next_done_in(), Some(0));
    }

    #[test]
    fn the_timer_rounds_up_never_finishing_a_slice_early() {
        let mut cpu = NodeCpu::new(1);
        for i in 0..3 {
            cpu.runnable.insert((SCALE, InvId(i))); // 1 ns each, shared three ways
        }
        let dt = cpu.next_done_in().expect("runnable");
        assert_eq!(dt, 3);
        cpu.advance(SimTime(dt));
        assert!(cpu.virt >= SCALE);
    }
}
