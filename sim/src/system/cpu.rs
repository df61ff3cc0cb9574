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
//!
//! Besides guest slices, the mesh's proxies compute here (`mesh/proxy.rs`): a sidecar's CPU per
//! message and its WebAssembly filters' fuel share the node's cores with the guests, as Envoy's
//! worker threads share them with the application's in a pod on the node.

use super::Sim;
use super::event::Event;
use super::ids::{InvId, NodeId};
use crate::engine::TimerId;
use crate::time::SimTime;

/// What computes on a node's cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CpuJob {
    /// An invocation's slice.
    Slice(InvId),
    /// A mesh proxy's work on one message (`mesh/proxy.rs`), by its leg's number. (Ordered
    /// after slices: of two finishing at once, the slice is done first, so a run without
    /// proxy work orders its slices exactly as before.)
    Proxy(u64),
}

/// A node's runnable slices ordered by (finish, job), as the `BTreeSet` it replaces ordered
/// them: a `Vec` sorted from the last to finish to the first, so the next done is popped from
/// its end. A node computes a handful of slices at once (M/M/c: at most c), where the set
/// allocated, searched and rebalanced nodes on each slice's start and end (benches/README.md,
/// "Sixth round"); an insert is a binary search and a shift of the later-finishing ones.
#[derive(Debug, Default)]
struct Runnable {
    /// Descending: the first to finish is last.
    desc: Vec<(u128, CpuJob)>,
}

impl Runnable {
    fn len(&self) -> usize {
        self.desc.len()
    }

    /// The first to finish.
    fn first(&self) -> Option<&(u128, CpuJob)> {
        self.desc.last()
    }

    fn pop_first(&mut self) -> Option<(u128, CpuJob)> {
        self.desc.pop()
    }

    /// Adds `entry` unless it is there (then false), as `BTreeSet::insert`.
    fn insert(&mut self, entry: (u128, CpuJob)) -> bool {
        let at = self.desc.partition_point(|e| *e > entry);
        if self.desc.get(at) == Some(&entry) {
            return false;
        }
        self.desc.insert(at, entry);
        true
    }

    fn remove(&mut self, entry: &(u128, CpuJob)) -> bool {
        let at = self.desc.partition_point(|e| e > entry);
        if self.desc.get(at) != Some(entry) {
            return false;
        }
        self.desc.remove(at);
        true
    }

    /// In (finish, job) order.
    fn iter(&self) -> impl Iterator<Item = &(u128, CpuJob)> {
        self.desc.iter().rev()
    }
}

/// Virtual-time units per CPU nanosecond.
const SCALE: u128 = 1 << 16;

#[derive(Debug)]
pub(crate) struct NodeCpu {
    cores: u128,
    /// CPU time received by every runnable slice (× `SCALE`), as of `at`.
    virt: u128,
    at: SimTime,
    /// Runnable slices by the virtual time they finish at. (No index by job: only a crash
    /// cancels a slice, and it finds it by a scan; a second `BTreeMap` kept for it cost an
    /// insert and a remove per slice, benches/README.md "Third round".)
    runnable: Runnable,
    /// The earliest finish's timer, if any slice is runnable.
    timer: Option<TimerId>,
    /// Room for the slices a `CpuDone` finds done, kept between events: a new `Vec` there
    /// was an allocation and a free per slice (benches/README.md, "Ninth round").
    done: Vec<CpuJob>,
}

impl NodeCpu {
    pub(crate) fn new(cores: u32) -> Self {
        NodeCpu {
            cores: u128::from(cores.max(1)),
            virt: 0,
            at: SimTime::ZERO,
            runnable: Runnable::default(),
            timer: None,
            done: Vec::new(),
        }
    }

    /// The invocations computing here now.
    pub(crate) fn computing(&self) -> impl Iterator<Item = InvId> + '_ {
        self.jobs().filter_map(|job| match job {
            CpuJob::Slice(inv) => Some(inv),
            CpuJob::Proxy(_) => None,
        })
    }

    /// Everything computing here now.
    pub(crate) fn jobs(&self) -> impl Iterator<Item = CpuJob> + '_ {
        self.runnable.iter().map(|&(_, job)| job)
    }

    /// Brings V up to `now`.
    fn advance(&mut self, now: SimTime) {
        self.virt = self.virt_at(now);
        self.at = now;
    }

    /// What V is at `now` (at or after `at`).
    fn virt_at(&self, now: SimTime) -> u128 {
        let n = self.runnable.len() as u128;
        let dt = u128::from(now - self.at);
        self.virt + div(dt * SCALE * n.min(self.cores), n)
    }

    /// Nanoseconds until the earliest runnable slice is done (rounded up).
    fn next_done_in(&self) -> Option<u64> {
        let &(finish, _) = self.runnable.first()?;
        let n = self.runnable.len() as u128;
        let left = finish.saturating_sub(self.virt) * n;
        let per_ns = SCALE * n.min(self.cores);
        Some(u64::try_from(div_ceil(left, per_ns)).unwrap_or(u64::MAX))
    }
}

/// The CPU nanoseconds (rounded down) a slice finishing at virtual time `finish` has still to
/// receive when V is `virt`.
fn owed_nanos(finish: u128, virt: u128) -> u64 {
    u64::try_from(finish.saturating_sub(virt) / SCALE).unwrap_or(u64::MAX)
}

/// `a / b` (0 when `b` is 0), in 64 bits when both fit: the same quotient without a call to
/// the 128-bit division routine (a slice start and end each divide).
fn div(a: u128, b: u128) -> u128 {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => u128::from(a.checked_div(b).unwrap_or(0)),
        _ => a.checked_div(b).unwrap_or(0),
    }
}

/// `a / b` rounded up (`b` > 0), in 64 bits when both fit.
fn div_ceil(a: u128, b: u128) -> u128 {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => u128::from(a.div_ceil(b)),
        _ => a.div_ceil(b),
    }
}

impl Sim {
    /// `inv` starts computing `demand` nanoseconds of CPU on `node`; `Event::CpuDone` reports
    /// when it has received them.
    pub(crate) fn cpu_start(&mut self, node: NodeId, inv: InvId, demand: u64) {
        self.cpu_start_job(node, CpuJob::Slice(inv), demand);
    }

    /// `job` starts computing `demand` nanoseconds of CPU on `node`.
    pub(crate) fn cpu_start_job(&mut self, node: NodeId, job: CpuJob, demand: u64) {
        let now = self.q.now();
        let cpu = &mut self.cpus[node.index()];
        cpu.advance(now);
        let finish = cpu.virt + u128::from(demand) * SCALE;
        debug_assert!(cpu.jobs().all(|j| j != job), "{job:?} computes twice on one node");
        cpu.runnable.insert((finish, job));
        self.cpu_reschedule(node);
    }

    /// `inv` stops computing before it is done (its replica crashed). Returns the CPU
    /// nanoseconds of its demand it never received.
    pub(crate) fn cpu_cancel(&mut self, node: NodeId, inv: InvId) -> u64 {
        let now = self.q.now();
        let cpu = &mut self.cpus[node.index()];
        let job = CpuJob::Slice(inv);
        let Some(&entry) = cpu.runnable.iter().find(|&&(_, j)| j == job) else { return 0 };
        cpu.advance(now);
        cpu.runnable.remove(&entry);
        let owed = owed_nanos(entry.0, cpu.virt);
        self.cpu_reschedule(node);
        owed
    }

    /// Every invocation computing now, with the CPU nanoseconds of its slice's demand it has
    /// not received yet (on every node, in node then finish order).
    ///
    /// Reads the nodes without advancing them: advancing splits the next advance in two,
    /// and the rounding of two steps could move a slice's finish and so the run.
    pub(crate) fn cpu_owed(&self) -> Vec<(InvId, u64)> {
        let now = self.q.now();
        let mut owed = Vec::new();
        for cpu in &self.cpus {
            let virt = cpu.virt_at(now);
            for &(finish, job) in cpu.runnable.iter() {
                if let CpuJob::Slice(inv) = job {
                    owed.push((inv, owed_nanos(finish, virt)));
                }
            }
        }
        owed
    }

    fn cpu_reschedule(&mut self, node: NodeId) {
        let cpu = &mut self.cpus[node.index()];
        if let Some(t) = cpu.timer.take() {
            self.q.cancel(t);
        }
        if let Some(dt) = cpu.next_done_in() {
            cpu.timer = Some(self.q.timer_after_with(dt, || Event::CpuDone(node)));
        }
    }

    /// The node's earliest slice is due: every slice that has received its demand is done.
    pub(crate) fn on_cpu_done(&mut self, node: NodeId) {
        let now = self.q.now();
        let cpu = &mut self.cpus[node.index()];
        cpu.timer = None; // it fired
        cpu.advance(now);
        // Taken, so the handlers below may use `self`; given back, capacity kept. (Were a
        // handler to reach here again, it would take an empty `Vec`: the same, slower.)
        let mut done = std::mem::take(&mut cpu.done);
        while let Some(&(finish, job)) = cpu.runnable.first() {
            if finish > cpu.virt {
                break;
            }
            cpu.runnable.pop_first();
            done.push(job);
        }
        self.cpu_reschedule(node);
        for &job in &done {
            match job {
                CpuJob::Slice(inv) => self.slice_computed(inv),
                CpuJob::Proxy(leg) => self.proxy_computed(leg),
            }
        }
        done.clear();
        self.cpus[node.index()].done = done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn job() -> impl Strategy<Value = CpuJob> {
        prop_oneof![
            (0u64..8).prop_map(|i| CpuJob::Slice(InvId(i))),
            (0u64..4).prop_map(CpuJob::Proxy)
        ]
    }

    proptest! {
        /// The sorted `Vec` answers as the `BTreeSet<(u128, CpuJob)>` it replaced: the same
        /// first, the same order, the same inserts and removals accepted.
        #[test]
        fn runnable_slices_are_ordered_as_the_set_ordered_them(
            ops in prop::collection::vec((0u8..4, 0u128..6, job()), 1..200),
        ) {
            let mut ours = Runnable::default();
            let mut set = BTreeSet::new();
            for (op, finish, job) in ops {
                let entry = (finish << 60, job); // ties in finish, and values past 64 bits
                match op {
                    0 | 1 => prop_assert_eq!(ours.insert(entry), set.insert(entry)),
                    2 => prop_assert_eq!(ours.pop_first(), set.pop_first()),
                    _ => prop_assert_eq!(ours.remove(&entry), set.remove(&entry)),
                }
                prop_assert_eq!(ours.first(), set.first());
                prop_assert_eq!(ours.len(), set.len());
                prop_assert!(ours.iter().eq(set.iter()));
            }
        }
    }

    #[test]
    fn shares_stretch_only_beyond_the_cores() {
        let mut cpu = NodeCpu::new(2);
        for (i, w) in [(0u64, 10u128), (1, 20)] {
            cpu.runnable.insert((w * 1_000 * SCALE, CpuJob::Slice(InvId(i))));
        }
        // Two slices on two cores: each at full speed.
        assert_eq!(cpu.next_done_in(), Some(10_000));
        cpu.runnable.insert((30_000 * SCALE, CpuJob::Slice(InvId(2))));
        cpu.runnable.insert((40_000 * SCALE, CpuJob::Proxy(0)));
        // Four on two: half speed each, so the first needs twice its remaining demand.
        assert_eq!(cpu.next_done_in(), Some(20_000));
        cpu.advance(SimTime(20_000));
        assert_eq!(cpu.virt, 10_000 * SCALE);
        assert_eq!(cpu.next_done_in(), Some(0));
    }

    #[test]
    fn narrow_division_gives_the_wide_quotient() {
        let big = u128::from(u64::MAX);
        let cases =
            [0, 1, 2, 3, 7, 1 << 16, 3 << 40, big - 1, big, big + 1, big * 3 + 5, u128::MAX];
        for a in cases {
            for b in cases {
                assert_eq!(div(a, b), a.checked_div(b).unwrap_or(0), "{a} / {b}");
                if b > 0 {
                    assert_eq!(div_ceil(a, b), a.div_ceil(b), "{a} / {b} rounded up");
                }
            }
        }
    }

    #[test]
    fn the_timer_rounds_up_never_finishing_a_slice_early() {
        let mut cpu = NodeCpu::new(1);
        for i in 0..3 {
            cpu.runnable.insert((SCALE, CpuJob::Slice(InvId(i)))); // 1 ns each, shared three ways
        }
        let dt = cpu.next_done_in().expect("runnable");
        assert_eq!(dt, 3);
        cpu.advance(SimTime(dt));
        assert!(cpu.virt >= SCALE);
    }
}
