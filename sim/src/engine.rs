//! The discrete-event core: a priority queue of events ordered by (virtual time, sequence), and
//! cancellable timers. The sequence number makes the order of simultaneous events the order in
//! which they were scheduled, so a run is a pure function of its inputs.
//!
//! **Layout** (the classic "pending event set" of discrete-event simulators, e.g. SimPy's heap of
//! `(time, priority, id, event)` tuples, here as a *radix heap*, the monotone priority queue of
//! Ahuja, Mehlhorn, Orlin and Tarjan, 1990): the queue holds only small `(at, seq, slot)` keys;
//! the events themselves sit in a slab (`events`, with a free list; each slot's sequence number in
//! `seqs`) and never move while they wait. A key is *live* while its slot still holds the event of
//! its `seq`; cancelling a timer empties its slot, so its key goes *stale* and is dropped when its
//! bucket is next looked at (or in one pass by [`EventQueue::compact`]). A slot freed by a cancel
//! or a pop is reused by the next event scheduled, and a stale key never matches the new event's
//! `seq`.
//!
//! **Radix heap.** Virtual time never goes backwards and no event is scheduled before `now`, so
//! every key is at or after `last`, the time of the last event popped. A key goes to bucket 0
//! if its time is `last`, else to bucket *b* = the position of the highest bit in which its
//! time differs from `last` (1–64): every key of a lower bucket is earlier than every key of a
//! higher one. To pop with bucket 0 empty, the lowest non-empty bucket is emptied: its earliest
//! time becomes `last` and its keys move, in their order, to lower buckets (bucket 0 for those
//! at that time; the first of those is the next event, so it is taken at once instead of going
//! through bucket 0). Ties need no sorting: a key's bucket does not change while `last` moves
//! within a lower bucket, so keys at one time always share a bucket, in the order they were
//! pushed — their sequence order — and bucket 0 is popped from the front. A key moves at
//! most 64 times, in practice a few; a push is one XOR and one leading-zero count instead of a
//! binary heap's sift. Order is the (time, sequence) order exactly, as before (tested against a
//! sorted list). Measured in benches/README.md ("Engine speed-ups (issue 16 item 1)").
//!
//! A timer (an event scheduled with [`EventQueue::timer_after`]) fires or is cancelled exactly
//! once: cancelling one that already fired or was cancelled is a simulator bug and asserts.

use std::collections::VecDeque;

use crate::time::SimTime;

/// Stale keys the queue may hold before it is compacted (below this, dropping them when their
/// bucket is next emptied costs less than a pass over every bucket). Cancelled far-future
/// timers (600 s gateway timeouts) sit in a high bucket that is rarely emptied: this bounds
/// them (benches/README.md, "Memory of `run`").
const COMPACT_MIN: usize = 64;

/// Buckets 1–64 (a time differing from `last` in bit b − 1 at most goes to bucket b).
const BUCKETS: usize = 64;

/// Identifies a scheduled event, to cancel it: its sequence number and its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    seq: u64,
    slot: u32,
}

/// A queued key: ordered by (time, sequence); `seq` is unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    at: SimTime,
    seq: u64,
    /// The slot (< 2^32), stored as 64 bits so a key has no padding: a key built field by
    /// field and then copied whole is read back with the widths it was written with.
    slot: u64,
}

/// `seqs[slot]` of a free slot: no key's sequence number (they count up from 0).
const FREE: u64 = u64::MAX;

/// The slot of a [`TimerId`] whose timer was due after the horizon and never queued.
const BEYOND: u32 = u32::MAX;

/// The event queue and the virtual clock.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Time of the last event popped: every key is at or after it.
    last: u64,
    /// Keys at `last`, in sequence order (pushed at the back, popped from the front).
    zero: VecDeque<Key>,
    /// `buckets[b - 1]`: keys whose time differs from `last` first in bit b − 1.
    buckets: [Vec<Key>; BUCKETS],
    /// Bit b − 1 set: bucket b is not empty.
    occupied: u64,
    /// Keys held, live and stale.
    keys: usize,
    /// By slot: the sequence number of the event it holds, or [`FREE`] (listed in `free`).
    /// Apart from the events, so that telling a live key from a stale one reads 8 bytes a
    /// slot, and delivering an event moves it once (benches/README.md, "Sixth round").
    seqs: Vec<u64>,
    /// By slot: the event was scheduled by [`EventQueue::timer_after`] (it may be cancelled).
    timer: Vec<bool>,
    /// By slot: the event (`None` in a free slot).
    events: Vec<Option<E>>,
    free: Vec<u32>,
    /// Keys held whose event was cancelled.
    stale: usize,
    /// Timers scheduled and neither fired nor cancelled.
    timers: usize,
    /// No event after it is ever popped (the run's end, [`EventQueue::never_after`]): a timer
    /// due later is not queued.
    horizon: SimTime,
    now: SimTime,
    next_seq: u64,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            last: 0,
            zero: VecDeque::new(),
            buckets: std::array::from_fn(|_| Vec::new()),
            occupied: 0,
            keys: 0,
            // One free slot, ready for the first push (see `push`).
            seqs: vec![FREE],
            timer: vec![false],
            events: vec![None],
            free: vec![0],
            stale: 0,
            timers: 0,
            horizon: SimTime(u64::MAX),
            now: SimTime::ZERO,
            next_seq: 0,
            popped: 0,
        }
    }
}

/// The bucket of a key at `at` when the last event popped was at `last` (`at >= last`).
fn bucket_of(last: u64, at: u64) -> usize {
    (u64::BITS - (at ^ last).leading_zeros()) as usize
}

impl<E> EventQueue<E> {
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Inlined into each `schedule`/`after`/`timer_after` caller: the event is then written
    /// into its slot where it is built, instead of being read back from the caller's stack
    /// right after the caller wrote it field by field (a store-forwarding stall on every push
    /// in `perf annotate`).
    ///
    /// For that, nothing before the event is in its slot may panic or call a function: while
    /// the event is held across such a point, unwinding would have to drop it, so the
    /// compiler keeps it on the stack (written as its fields, then copied whole, 16 bytes at a
    /// time, into the slot: the stall again). So a free slot is always ready (made after the
    /// push that took the last one), the check of the time comes after, and the arms that
    /// cannot happen forget the event before they panic (benches/README.md, "Eleventh round").
    #[inline(always)]
    fn push(&mut self, at: SimTime, make: impl FnOnce() -> E, timer: bool) -> TimerId {
        let Some(slot) = self.free.pop() else {
            std::mem::forget(make);
            unreachable!("a free slot is always ready");
        };
        let s = slot as usize;
        match self.events.get_mut(s) {
            // (`None` is known here: nothing to drop, the event is written in place.)
            Some(free @ None) => {
                free.get_or_insert_with(make);
            }
            _ => {
                std::mem::forget(make);
                unreachable!("slot {slot} on the free list holds an event");
            }
        }
        assert!(at >= self.now, "event scheduled in the past: {at} < {}", self.now);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.seqs[s] = seq;
        self.timer[s] = timer;
        if self.free.is_empty() {
            self.spare_slot();
        }
        // `seq` is the largest yet: it goes at the back of its bucket, behind its ties.
        self.place(Key { at, seq, slot: u64::from(slot) });
        self.keys += 1;
        TimerId { seq, slot }
    }

    /// Drops `event` where a free slot is, leaving it empty: dropped where it was passed, it
    /// had to be kept on the stack, as in `push`.
    #[inline(always)]
    fn drop_in_slot(&mut self, event: E) {
        match self.free.last().and_then(|&slot| self.events.get_mut(slot as usize)) {
            Some(free @ None) => {
                free.get_or_insert_with(|| event);
                *free = None;
            }
            _ => {
                std::mem::forget(event);
                unreachable!("a free slot is always ready, and empty");
            }
        }
    }

    /// Adds an empty slot to the free list (the next `push` takes it).
    #[cold]
    #[inline(never)]
    fn spare_slot(&mut self) {
        let slot = u32::try_from(self.seqs.len()).expect("fewer than 2^32 pending events");
        self.seqs.push(FREE);
        self.timer.push(false);
        self.events.push(None);
        self.free.push(slot);
    }

    /// Puts `key` (at or after `last`) into its bucket; bucket 0 at the back.
    #[inline(always)]
    fn place(&mut self, key: Key) {
        match bucket_of(self.last, key.at.0) {
            0 => self.place_now(key.at, key.seq, key.slot),
            b => {
                self.buckets[b - 1].push(key);
                self.occupied |= 1 << (b - 1);
            }
        }
    }

    /// Puts a key at `last` at the back of bucket 0. Apart, and given the key's fields, not
    /// the key: `VecDeque::push_back` is a call that takes the key by address, which kept every
    /// key `push` builds on the stack, written as 8-byte fields and read back 16 bytes at a time
    /// into its bucket, a load the store buffer cannot serve (benches/README.md, "Eleventh
    /// round").
    #[inline(never)]
    fn place_now(&mut self, at: SimTime, seq: u64, slot: u64) {
        self.zero.push_back(Key { at, seq, slot });
    }

    /// Schedules `event` at `at` (never in the past: an earlier time is a simulator bug).
    #[inline]
    pub fn schedule(&mut self, at: SimTime, event: E) -> TimerId {
        self.push(at, || event, false)
    }

    /// Schedules `event` `delay_nanos` from now.
    #[inline]
    pub fn after(&mut self, delay_nanos: u64, event: E) -> TimerId {
        self.push(self.now + delay_nanos, || event, false)
    }

    /// Schedules `event` `delay_nanos` from now as a timer: it fires, or is cancelled with
    /// [`EventQueue::cancel`], exactly once.
    ///
    /// A timer due after the horizon ([`EventQueue::never_after`]) can never fire: it is
    /// counted as live until cancelled, but not queued (its event is dropped now).
    ///
    /// Inlined, as `after`: a call took the event by address, built by the caller just before
    /// (benches/README.md, "Eleventh round").
    #[inline(always)]
    pub fn timer_after(&mut self, delay_nanos: u64, event: E) -> TimerId {
        self.timers += 1;
        let at = self.now + delay_nanos;
        if at > self.horizon {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.drop_in_slot(event);
            return TimerId { seq, slot: BEYOND };
        }
        self.push(at, || event, true)
    }

    /// As [`EventQueue::timer_after`], the event built by `make` in its slot, and only if it
    /// is queued: a timer past the horizon (every client request's gateway timeout in a run
    /// shorter than it) builds and drops nothing.
    #[inline(always)]
    pub fn timer_after_with(&mut self, delay_nanos: u64, make: impl FnOnce() -> E) -> TimerId {
        self.timers += 1;
        let at = self.now + delay_nanos;
        if at > self.horizon {
            let seq = self.next_seq;
            self.next_seq += 1;
            return TimerId { seq, slot: BEYOND };
        }
        self.push(at, make, true)
    }

    /// Promises that no event after `t` will be popped (a run stops at its end): from now on,
    /// a timer due after `t` is not queued. Every client request of a run arms a gateway
    /// timeout (600 s in the M/M/c validation scenarios, far past their end) and cancels it
    /// when answered; beyond the end, arming and cancelling it costs a count (benches/
    /// README.md, "Sixth round"). Events are popped exactly as before for every time up to
    /// `t` (tested against a queue without a horizon); an event after it may be missing.
    pub fn never_after(&mut self, t: SimTime) {
        self.horizon = t;
    }

    /// Cancels a timer that has neither fired nor been cancelled: empties its slot (the event
    /// is dropped now) and leaves its key stale in its bucket.
    ///
    /// # Panics
    /// If it has (a simulator bug: its owner lost track of it).
    /// (A timer beyond the horizon was never queued: its cancel only counts it, and a second
    /// cancel of it is not detected.)
    pub fn cancel(&mut self, id: TimerId) {
        if id.slot == BEYOND {
            assert!(self.timers > 0, "timer {} cancelled after it fired or twice", id.seq);
            self.timers -= 1;
            return;
        }
        let s = id.slot as usize;
        let live = self.seqs.get(s) == Some(&id.seq) && self.timer[s];
        assert!(live, "timer {} cancelled after it fired or twice", id.seq);
        self.seqs[s] = FREE;
        self.events[s] = None;
        self.free.push(id.slot);
        self.timers -= 1;
        self.stale += 1;
        if self.stale >= COMPACT_MIN && self.stale * 2 > self.keys {
            self.compact();
        }
    }

    /// Drops the stale keys at once. Without it a cancelled timer's key stays until its
    /// bucket is emptied: a gateway timeout of 600 s kept every request's key for 600 s,
    /// memory growing with the run's length (benches/README.md, "Memory of `run`").
    /// Run when stale keys are half of those held, so each costs O(1) amortised; the order of
    /// the keys left is unchanged (bucket 0 stays in sequence order), so runs are unchanged.
    fn compact(&mut self) {
        let seqs = &self.seqs;
        self.zero.retain(|k| is_live(seqs, k));
        let mut keys = self.zero.len();
        for (b, bucket) in self.buckets.iter_mut().enumerate() {
            if bucket.is_empty() {
                continue;
            }
            bucket.retain(|k| is_live(seqs, k));
            keys += bucket.len();
            if bucket.is_empty() {
                self.occupied &= !(1 << b);
            }
            if bucket.capacity() > 4 * bucket.len().max(COMPACT_MIN) {
                bucket.shrink_to(2 * bucket.len().max(COMPACT_MIN));
            }
        }
        self.keys = keys;
        self.stale = 0;
    }

    /// Timers scheduled and neither fired nor cancelled.
    #[must_use]
    pub fn live_timers(&self) -> usize {
        self.timers
    }

    /// Timers cancelled whose keys are still held.
    #[must_use]
    pub fn cancelled_pending(&self) -> usize {
        self.stale
    }

    /// The next event, advancing the clock to it. Time never goes backwards.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_if(|_| true)
    }

    /// The next event if `due` says yes to its time (one look at the queue: the simulator's
    /// step pops with `|t| t <= end` instead of peeking then popping).
    ///
    /// When `due` says no, `last` stays where it is (the lowest bucket is only looked at, not
    /// emptied): events may still be scheduled between `now` and the time refused.
    ///
    /// Inlined into the simulator's step: left to the compiler it stayed a call once a body
    /// type changed the step's code (benches/README.md, "Tenth round").
    #[inline(always)]
    pub fn pop_if(&mut self, due: impl FnOnce(SimTime) -> bool) -> Option<(SimTime, E)> {
        let key = self.next_due(due)?;
        self.deliver(key)
    }

    /// The key of the next event if `due` says yes to its time, taken out of the buckets (its
    /// event still in its slot). One place delivers what the three ways here find, so the
    /// event is moved out of its slot in one place (benches/README.md, "Eleventh round").
    #[inline(always)]
    fn next_due(&mut self, due: impl FnOnce(SimTime) -> bool) -> Option<Key> {
        loop {
            // Stale keys at the front of bucket 0 go; a live one is the next event.
            while let Some(key) = self.zero.front().copied() {
                if is_live(&self.seqs, &key) {
                    if !due(key.at) {
                        return None;
                    }
                    self.zero.pop_front();
                    self.keys -= 1;
                    return Some(key);
                }
                self.zero.pop_front();
                self.keys -= 1;
                self.stale -= 1;
            }
            if self.occupied == 0 {
                return None;
            }
            // Bucket 0 is empty: the lowest non-empty bucket holds the next event.
            let b = self.occupied.trailing_zeros() as usize;
            // Alone in its bucket (events at distinct times, a few pending: most pops of an
            // M/M/c run), a live key is the next event: it pops without going through bucket 0,
            // as the general case below would move it there and take it at once.
            if let [key] = self.buckets[b][..]
                && is_live(&self.seqs, &key)
            {
                if !due(key.at) {
                    return None;
                }
                self.buckets[b].clear();
                self.occupied &= !(1 << b);
                self.last = key.at.0;
                self.keys -= 1;
                return Some(key);
            }
            let mut bucket = std::mem::take(&mut self.buckets[b]);
            let before = bucket.len();
            bucket.retain(|k| is_live(&self.seqs, k));
            self.keys -= before - bucket.len();
            self.stale -= before - bucket.len();
            // The earliest time, and where its first key is (the first pushed of its ties).
            let Some(&Key { at: mut earliest, .. }) = bucket.first() else {
                self.occupied &= !(1 << b);
                self.buckets[b] = bucket;
                continue;
            };
            let mut first = 0;
            for (i, k) in bucket.iter().enumerate().skip(1) {
                if k.at < earliest {
                    (earliest, first) = (k.at, i);
                }
            }
            if !due(earliest) {
                self.buckets[b] = bucket;
                return None;
            }
            // Empty it into lower buckets around its earliest time (all below bucket b + 1),
            // all but the next event: its first key at the earliest time would go to the front
            // of bucket 0 (empty here) and be taken at once, so it is taken now. Its ties follow
            // it into bucket 0 in their order; the later keys go to buckets above 0. Every key
            // ends where it did when the earliest went through bucket 0, without a push and a
            // pop of it there (benches/README.md, "Thirteenth round").
            let key = bucket[first];
            self.occupied &= !(1 << b);
            self.last = earliest.0;
            for (i, k) in bucket.drain(..).enumerate() {
                if i != first {
                    self.place(k);
                }
            }
            self.buckets[b] = bucket; // empty, capacity kept
            self.keys -= 1;
            debug_assert!(
                self.zero.iter().zip(self.zero.iter().skip(1)).all(|(a, b)| a.seq < b.seq)
            );
            debug_assert!(self.zero.front().is_none_or(|k| k.seq > key.seq));
            return Some(key);
        }
    }

    /// Takes `key`'s (live) event out of its slot and moves the clock to it. Inlined, so the
    /// event moves from its slot straight to the caller's.
    #[inline(always)]
    fn deliver(&mut self, key: Key) -> Option<(SimTime, E)> {
        let s = key.slot as usize;
        self.seqs[s] = FREE;
        self.free.push(key.slot as u32);
        if self.timer[s] {
            self.timers -= 1; // a timer fired
        }
        assert!(key.at >= self.now, "time went backwards");
        self.now = key.at;
        self.popped += 1;
        // Taken last, so it moves from its slot straight to the caller's (taken first, it was
        // kept on the stack across the bookkeeping above and copied once more).
        let event = self.events[s].take().expect("a live key's slot holds its event");
        Some((key.at, event))
    }

    /// Time of the next live event, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        let mut next = None;
        let popped = self.pop_if(|t| {
            next = Some(t);
            false
        });
        debug_assert!(popped.is_none());
        next
    }

    /// Events processed so far.
    #[must_use]
    pub fn processed(&self) -> u64 {
        self.popped
    }

    /// Events waiting (including cancelled ones whose keys are not yet discarded).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.keys
    }

    /// Moves the clock forward to `t` without an event (the end of a run).
    pub fn advance_to(&mut self, t: SimTime) {
        if t > self.now {
            self.now = t;
        }
    }
}

#[cfg(test)]
impl<E> EventQueue<E> {
    /// The slot of a queued timer still live, if it is.
    fn slot_of(&self, id: TimerId) -> Option<usize> {
        let s = id.slot as usize;
        (self.seqs.get(s) == Some(&id.seq)).then_some(s)
    }
}

/// Whether `key`'s slot still holds the event it was pushed for.
fn is_live(seqs: &[u64], key: &Key) -> bool {
    seqs[key.slot as usize] == key.seq
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

    #[test]
    fn a_cancelled_slot_is_reused_and_its_stale_key_skipped() {
        let mut q = EventQueue::default();
        let t = q.timer_after(10, "cancelled");
        q.cancel(t);
        // The new event takes the freed slot; the stale key (same slot, old seq, same time)
        // sits before it in the heap and must not deliver it twice or out of order.
        let u = q.schedule(SimTime(10), "reuses the slot");
        assert_eq!(u.slot, t.slot);
        assert_ne!(u.seq, t.seq);
        q.schedule(SimTime(10), "after it");
        assert_eq!((q.pending(), q.cancelled_pending()), (3, 1));
        assert_eq!(q.peek_time(), Some(SimTime(10)));
        assert_eq!(q.cancelled_pending(), 0, "peek dropped the stale key at the top");
        assert_eq!(q.pop(), Some((SimTime(10), "reuses the slot")));
        assert_eq!(q.pop(), Some((SimTime(10), "after it")));
        assert_eq!(q.pop(), None);
        // A cancel through the old id must not hit the slot's next tenant.
        let tenants = [q.timer_after(5, "tenant"), q.timer_after(5, "other tenant")];
        assert!(tenants.iter().any(|v| v.slot == t.slot));
        let stale = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.cancel(t)));
        assert!(stale.is_err(), "an old id must not cancel the slot's new event");
        assert_eq!(q.live_timers(), 2);
        assert_eq!(q.pop(), Some((SimTime(15), "tenant")));
    }

    #[test]
    fn equal_times_pop_in_scheduling_order_whatever_the_slots() {
        let mut q = EventQueue::default();
        // Free slots in a scrambled order, then schedule ten events at one time: they take
        // the slots in free-list order, yet pop in the order they were scheduled.
        let ids: Vec<TimerId> = (0..10).map(|i| q.timer_after(1, i)).collect();
        for i in [3, 7, 0, 9, 1, 5, 2, 8, 4, 6] {
            q.cancel(ids[i]);
        }
        for i in 0..10 {
            q.schedule(SimTime(2), 100 + i);
        }
        let order: Vec<i32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, (100..110).collect::<Vec<_>>());
        assert_eq!(q.seqs.len(), 11, "every new event reused a freed slot (one spare)");
    }

    #[test]
    fn pop_if_takes_only_a_due_event_and_leaves_the_clock() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(5), "a");
        q.schedule(SimTime(9), "b");
        assert_eq!(q.pop_if(|t| t <= SimTime(7)), Some((SimTime(5), "a")));
        assert_eq!(q.pop_if(|t| t <= SimTime(7)), None);
        assert_eq!((q.now(), q.pending(), q.processed()), (SimTime(5), 1, 1));
        assert_eq!(q.pop_if(|t| t <= SimTime(9)), Some((SimTime(9), "b")));
    }

    #[test]
    fn an_event_scheduled_before_a_refused_one_still_pops_first() {
        // `pop_if` looks at the lowest bucket and says no: events scheduled afterwards between
        // now and that time (a run ending at `t`, then resumed) must come first.
        let mut q = EventQueue::default();
        q.schedule(SimTime(1_000_000), "far");
        q.schedule(SimTime(1_000_001), "farther");
        assert_eq!(q.pop_if(|t| t <= SimTime(10)), None);
        assert_eq!(q.peek_time(), Some(SimTime(1_000_000)));
        q.schedule(SimTime(7), "near");
        q.schedule(SimTime(1_000_000), "tie, later");
        q.schedule(SimTime(0), "now");
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["now", "near", "far", "tie, later", "farther"]);
    }

    #[test]
    fn far_and_near_keys_pop_in_time_then_sequence_order() {
        // Keys spread over many buckets, with ties in each: a key moved from a high bucket to
        // bucket 0 is ordered by sequence among those already there and those pushed after.
        let mut q = EventQueue::default();
        let times = [1u64 << 40, 3, 1 << 20, 3, (1 << 40) + 1, 1 << 20, 0, 1 << 40, 5_000, 3];
        for (i, &t) in times.iter().enumerate() {
            q.schedule(SimTime(t), i);
        }
        let mut want: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
        want.sort_unstable();
        let mut got = Vec::new();
        while let Some((at, i)) = q.pop() {
            got.push((at.0, i));
            if i == 1 {
                q.schedule(SimTime(3), 100); // at `now`, behind the other keys at 3
                q.schedule(SimTime(1 << 20), 101);
            }
        }
        // Scheduled last, so last among their ties.
        want.insert(4, (3, 100));
        want.insert(8, (1 << 20, 101));
        assert_eq!(got, want);
    }

    /// One operation of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Schedule(u64),
        Timer(u64),
        /// Cancel the n-th timer issued (modulo their number) if it is still live.
        Cancel(usize),
        Pop,
        PopIf(u64),
        Peek,
    }

    /// Delays: many ties (0–20 ns), and spans that reach every bucket of the radix heap (up to
    /// 2^44 ns), so keys move down through several buckets before they pop.
    fn delay() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..20, 0u64..5_000, (0u32..45).prop_flat_map(|b| 0u64..=(1u64 << b))]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            delay().prop_map(Op::Schedule),
            delay().prop_map(Op::Timer),
            any::<usize>().prop_map(Op::Cancel),
            Just(Op::Pop),
            delay().prop_map(Op::PopIf),
            Just(Op::Peek),
        ]
    }

    /// The reference: every event ever scheduled, (time, seq, timer, live), the next one found
    /// by a linear scan.
    #[derive(Default)]
    struct Model {
        events: Vec<(SimTime, u64, bool, bool)>,
        now: SimTime,
    }

    impl Model {
        fn next(&self) -> Option<usize> {
            (0..self.events.len())
                .filter(|&i| self.events[i].3)
                .min_by_key(|&i| (self.events[i].0, self.events[i].1))
        }
    }

    proptest! {
        #[test]
        fn the_slab_queue_behaves_as_a_sorted_list(ops in prop::collection::vec(op(), 1..400)) {
            let mut q = EventQueue::default();
            let mut m = Model::default();
            let mut timers: Vec<(TimerId, u64)> = Vec::new();
            for op in ops {
                match op {
                    Op::Schedule(d) | Op::Timer(d) => {
                        let timer = matches!(op, Op::Timer(_));
                        let seq = m.events.len() as u64;
                        // Timers armed both ways: the event given, or built in its slot.
                        let id = match (timer, seq % 2) {
                            (false, _) => q.after(d, seq),
                            (true, 0) => q.timer_after(d, seq),
                            (true, _) => q.timer_after_with(d, || seq),
                        };
                        m.events.push((m.now + d, seq, timer, true));
                        if timer { timers.push((id, seq)); }
                    }
                    Op::Cancel(n) if !timers.is_empty() => {
                        let (id, seq) = timers[n % timers.len()];
                        let live = m.events[seq as usize].3;
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.cancel(id)));
                        prop_assert_eq!(r.is_ok(), live, "cancel of a live timer only");
                        m.events[seq as usize].3 = false;
                    }
                    Op::Cancel(_) => {}
                    Op::Pop | Op::PopIf(_) => {
                        let limit = match op { Op::PopIf(d) => m.now + d, _ => SimTime(u64::MAX) };
                        let want = m.next().filter(|&i| m.events[i].0 <= limit);
                        let got = q.pop_if(|t| t <= limit);
                        prop_assert_eq!(got, want.map(|i| (m.events[i].0, m.events[i].1)));
                        if let Some(i) = want {
                            m.events[i].3 = false;
                            m.now = m.events[i].0;
                        }
                    }
                    Op::Peek => prop_assert_eq!(q.peek_time(), m.next().map(|i| m.events[i].0)),
                }
                let live = m.events.iter().filter(|e| e.3).count();
                let live_timers = m.events.iter().filter(|e| e.3 && e.2).count();
                prop_assert_eq!(q.now(), m.now);
                prop_assert_eq!(q.live_timers(), live_timers);
                prop_assert_eq!(q.pending() - q.cancelled_pending(), live);
                prop_assert!(q.seqs.len() <= m.events.len() + 1, "one spare slot at most");
                prop_assert_eq!((q.timer.len(), q.events.len()), (q.seqs.len(), q.seqs.len()));
            }
        }
    }

    proptest! {
        /// A queue with a horizon pops what one without pops, at every time up to it.
        #[test]
        fn a_horizon_changes_nothing_up_to_it(
            ops in prop::collection::vec(op(), 1..400),
            horizon in prop_oneof![0u64..40, 0u64..10_000, any::<u64>()],
        ) {
            let horizon = SimTime(horizon);
            let mut with = EventQueue::default();
            with.never_after(horizon);
            let mut without = EventQueue::default();
            let mut timers: Vec<(TimerId, TimerId)> = Vec::new();
            let mut cancelled = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Schedule(d) => {
                        with.after(d, n);
                        without.after(d, n);
                    }
                    Op::Timer(d) => {
                        // With the horizon, armed both ways (past it, `_with` builds nothing).
                        let a = if n % 2 == 0 {
                            with.timer_after(d, n)
                        } else {
                            with.timer_after_with(d, || n)
                        };
                        timers.push((a, without.timer_after(d, n)));
                        cancelled.push(false);
                    }
                    Op::Cancel(k) if !timers.is_empty() => {
                        let k = k % timers.len();
                        let (a, b) = timers[k];
                        // A timer that fired is not cancelled (that is a bug, tested above).
                        let fired = without.slot_of(b).is_none();
                        if !cancelled[k] && !fired {
                            with.cancel(a);
                            without.cancel(b);
                            cancelled[k] = true;
                        }
                    }
                    Op::Cancel(_) => {}
                    Op::Pop | Op::PopIf(_) | Op::Peek => {
                        let limit = match op {
                            Op::PopIf(d) => (without.now() + d).min(horizon),
                            _ => horizon,
                        };
                        if matches!(op, Op::Peek) {
                            let want = without.peek_time().filter(|&t| t <= horizon);
                            prop_assert_eq!(with.peek_time().filter(|&t| t <= horizon), want);
                        } else {
                            prop_assert_eq!(
                                with.pop_if(|t| t <= limit),
                                without.pop_if(|t| t <= limit)
                            );
                        }
                    }
                }
                prop_assert_eq!(with.now(), without.now());
                prop_assert_eq!(with.live_timers(), without.live_timers());
                prop_assert!(with.pending() <= without.pending());
            }
        }

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
