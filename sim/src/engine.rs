//! The discrete-event core: a priority queue of events ordered by (virtual time, sequence), and
//! cancellable timers. The sequence number makes the order of simultaneous events the order in
//! which they were scheduled, so a run is a pure function of its inputs.
//!
//! A timer (an event scheduled with [`EventQueue::timer_after`]) fires or is cancelled exactly
//! once: cancelling one that already fired or was cancelled is a simulator bug and asserts, so
//! the set of cancelled timers only ever holds events still in the heap.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use crate::time::SimTime;

/// Cancelled timers the heap may hold before it is compacted (below this, lazy discarding
/// at the top costs less than a pass over the heap).
const COMPACT_MIN: usize = 1024;

/// Identifies a scheduled event, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(u64);

#[derive(Debug)]
struct Entry<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The event queue and the virtual clock.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    /// Timers scheduled and neither fired nor cancelled.
    timers: BTreeSet<u64>,
    /// Timers cancelled while still in the heap (discarded when they reach the top).
    cancelled: BTreeSet<u64>,
    now: SimTime,
    next_seq: u64,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            timers: BTreeSet::new(),
            cancelled: BTreeSet::new(),
            now: SimTime::ZERO,
            next_seq: 0,
            popped: 0,
        }
    }
}

impl<E> EventQueue<E> {
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at` (never in the past: an earlier time is a simulator bug).
    pub fn schedule(&mut self, at: SimTime, event: E) -> TimerId {
        assert!(at >= self.now, "event scheduled in the past: {at} < {}", self.now);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { at, seq, event }));
        TimerId(seq)
    }

    /// Schedules `event` `delay_nanos` from now.
    pub fn after(&mut self, delay_nanos: u64, event: E) -> TimerId {
        self.schedule(self.now + delay_nanos, event)
    }

    /// Schedules `event` `delay_nanos` from now as a timer: it fires, or is cancelled with
    /// [`EventQueue::cancel`], exactly once.
    pub fn timer_after(&mut self, delay_nanos: u64, event: E) -> TimerId {
        let id = self.after(delay_nanos, event);
        self.timers.insert(id.0);
        id
    }

    /// Cancels a timer that has neither fired nor been cancelled.
    ///
    /// # Panics
    /// If it has (a simulator bug: its owner lost track of it).
    pub fn cancel(&mut self, id: TimerId) {
        assert!(self.timers.remove(&id.0), "timer {} cancelled after it fired or twice", id.0);
        self.cancelled.insert(id.0);
        if self.cancelled.len() >= COMPACT_MIN && self.cancelled.len() * 2 > self.heap.len() {
            self.compact();
        }
    }

    /// Drops the cancelled timers' events from the heap at once. Without it a cancelled
    /// timer stays until its time comes: a gateway timeout of 600 s kept every request's
    /// timer for 600 s, memory growing with the run's length (benches/README.md, "Memory of `run`").
    /// Run when cancelled entries are half the heap, so each costs O(1) amortised; the order
    /// of the events left is their (time, sequence) order as before, so runs are unchanged.
    fn compact(&mut self) {
        let cancelled = std::mem::take(&mut self.cancelled);
        self.heap.retain(|Reverse(e)| !cancelled.contains(&e.seq));
        if self.heap.capacity() > 4 * self.heap.len().max(COMPACT_MIN) {
            self.heap.shrink_to(2 * self.heap.len().max(COMPACT_MIN));
        }
    }

    /// Timers scheduled and neither fired nor cancelled.
    #[must_use]
    pub fn live_timers(&self) -> usize {
        self.timers.len()
    }

    /// Timers cancelled whose events are still in the heap.
    #[must_use]
    pub fn cancelled_pending(&self) -> usize {
        self.cancelled.len()
    }

    /// The next event, advancing the clock to it. Time never goes backwards.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        while let Some(Reverse(entry)) = self.heap.pop() {
            if !self.cancelled.is_empty() && self.cancelled.remove(&entry.seq) {
                continue;
            }
            if !self.timers.is_empty() {
                self.timers.remove(&entry.seq); // a timer fired
            }
            assert!(entry.at >= self.now, "time went backwards");
            self.now = entry.at;
            self.popped += 1;
            return Some((entry.at, entry.event));
        }
        None
    }

    /// Time of the next live event, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        while let Some(Reverse(entry)) = self.heap.peek() {
            if self.cancelled.contains(&entry.seq) {
                let seq = entry.seq;
                self.heap.pop();
                self.cancelled.remove(&seq);
                continue;
            }
            return Some(entry.at);
        }
        None
    }

    /// Events processed so far.
    #[must_use]
    pub fn processed(&self) -> u64 {
        self.popped
    }

    /// Events waiting (including cancelled ones not yet discarded).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Moves the clock forward to `t` without an event (the end of a run).
    pub fn advance_to(&mut self, t: SimTime) {
        if t > self.now {
            self.now = t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simultaneous_events_keep_scheduling_order_and_cancel_works() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(5), "b");
        let c = q.timer_after(5, "c");
        q.schedule(SimTime(1), "a");
        q.schedule(SimTime(5), "d");
        q.cancel(c);
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "d"]);
        assert_eq!(q.now(), SimTime(5));
        assert_eq!((q.live_timers(), q.cancelled_pending()), (0, 0));
    }

    #[test]
    fn a_fired_timer_leaves_no_trace_and_cannot_be_cancelled() {
        let mut q = EventQueue::default();
        let t = q.timer_after(3, "t");
        assert_eq!(q.live_timers(), 1);
        assert_eq!(q.pop().map(|(_, e)| e), Some("t"));
        assert_eq!((q.live_timers(), q.cancelled_pending()), (0, 0));
        let late = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.cancel(t)));
        assert!(late.is_err(), "cancelling a fired timer is a bug and must assert");
    }

    #[test]
    fn cancelled_timers_do_not_pile_up_in_the_heap_and_order_is_kept() {
        // A request's long timeout, cancelled when it is answered: what the heap holds stays
        // bounded by the live events however many were cancelled.
        let mut q = EventQueue::default();
        let mut max_pending = 0;
        for i in 0..100_000u64 {
            q.schedule(q.now() + 1, ("tick", i));
            let t = q.timer_after(600_000, ("timeout", i));
            if i % 7 != 0 {
                q.cancel(t);
            }
            max_pending = max_pending.max(q.pending());
            assert_eq!(q.pop(), Some((SimTime(i + 1), ("tick", i))));
        }
        let live = 100_000 / 7 + 1;
        assert!(max_pending <= 2 * live + COMPACT_MIN + 2, "{max_pending} pending, {live} live");
        assert!(q.cancelled_pending() < COMPACT_MIN.max(q.pending()));
        // The timers left fire in their order, the cancelled never.
        let fired: Vec<u64> = std::iter::from_fn(|| q.pop().map(|(_, (_, i))| i)).collect();
        let expected: Vec<u64> = (0..100_000).filter(|i| i % 7 == 0).collect();
        assert_eq!(fired, expected);
        assert_eq!((q.live_timers(), q.cancelled_pending()), (0, 0));
    }

    proptest! {
        #[test]
        fn time_never_goes_backwards(times in prop::collection::vec(0u64..1_000, 1..200), cancel in prop::collection::vec(any::<bool>(), 200)) {
            let mut q = EventQueue::default();
            let ids: Vec<TimerId> = times.iter().map(|t| q.timer_after(*t, *t)).collect();
            for (id, c) in ids.iter().zip(&cancel) {
                if *c { q.cancel(*id); }
            }
            let mut last = SimTime::ZERO;
            let mut n = 0;
            while let Some((at, t)) = q.pop() {
                prop_assert!(at >= last);
                prop_assert_eq!(at, SimTime(t));
                last = at;
                n += 1;
            }
            let live = times.len() - cancel.iter().take(times.len()).filter(|c| **c).count();
            prop_assert_eq!(n, live);
            prop_assert_eq!((q.live_timers(), q.cancelled_pending()), (0, 0));
        }
    }
}
