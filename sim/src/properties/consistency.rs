//! Eventual consistency (seed §2.3, lim State(s_i) = State(s_j)): once faults heal and traffic
//! stops, every replica of each key-value store holds the same value for every key.
//!
//! Judged at the end of the run, which exploration places past the last fault's end plus the
//! convergence bound (`quality.convergence_ms`). A key with a replicated copy sent but not yet
//! applied at the cutoff is left out (and counted in the notes) — unless that copy is
//! *overdue*: its write came after the last fault healed and at least the bound before the
//! cutoff, so no fault delayed it and the design's own replication outlasted its bound (a
//! replication lag longer than `convergence_ms`); such a key is judged as it stands. A copy
//! written under a fault (a replica-lag fault's extra delay, a partition's resends) is the
//! fault's. What is judged must agree.
//!
//! What can make it fail (the simulator's replication, see `system/kv.rs`): under arrival order
//! replicas keep whatever arrived last and may disagree for good; under last-writer-wins every
//! delivered copy converges, so an LWW store diverges only where a replica missed a write for
//! good — a copy dropped by a partition or loss on a store with `anti_entropy = false`, never
//! repaired by a later write of the key.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;
use fusebench_model::scenario::ConflictPolicy;

use super::{Judged, Link, Verdict, show, unreadable};
use crate::system::Versioned;
use crate::time::{SimTime, millis_to_nanos};
use crate::trace::TraceEvent;

pub(super) const ID: &str = "eventual-consistency";

/// Diverging keys listed one by one per store; beyond, only counted.
const SHOWN_MAX: usize = 5;

/// What the trace tells about replication, per (store, key) pair: indexed by the pair's id
/// ([`Judged::store_keys`]).
#[derive(Debug, Default)]
struct Replication<'a> {
    /// Per pair: (replica, version) copies sent and not yet applied (a set: no duplicates,
    /// order unused — only whether it is empty at the end counts).
    in_flight: Vec<Vec<(u32, u64)>>,
    /// Pair → (replica, version) copies dropped for good (no anti-entropy).
    missed: BTreeMap<usize, Vec<(u32, u64)>>,
    /// Pair → when a replica first missed a copy for good.
    missed_at: BTreeMap<usize, SimTime>,
    /// Per pair: the last write or applied copy: when a divergence without a missed copy
    /// (arrival order) became final.
    last_touch: Vec<Option<SimTime>>,
    /// (pair, version) → the invocation that wrote it, and when.
    writers: BTreeMap<(usize, u64), (u64, SimTime)>,
    /// Stores with at least one write.
    written: BTreeSet<&'a str>,
    last_write: SimTime,
    last_fault_end: SimTime,
}

/// Read from the lines read back, keyed by the ids of their (store, key) pairs (nothing
/// allocated per event, no name compared).
fn replication<'a>(run: &'a Judged<'_>) -> Result<Replication<'a>, crate::trace::TraceError> {
    let (lines, error) = run.lines();
    let keys = run.store_keys();
    let mut r = Replication {
        in_flight: vec![Vec::new(); keys.len()],
        last_touch: vec![None; keys.len()],
        ..Replication::default()
    };
    // Per pair: its store's replica count, once it was written (`u32::MAX` before).
    let mut replicas = vec![u32::MAX; keys.len()];
    for (i, line) in lines.iter().enumerate() {
        let Some(id) = keys.of_line(i) else {
            if let TraceEvent::FaultEnd { .. } = &line.event {
                r.last_fault_end = line.t;
            }
            continue;
        };
        match &line.event {
            TraceEvent::StoreWrite { store, replica, version, inv, .. } => {
                r.last_touch[id] = Some(line.t);
                r.writers.insert((id, *version), (*inv, line.t));
                if replicas[id] == u32::MAX {
                    replicas[id] = run.stores.get(&**store).map_or(0, Vec::len) as u32;
                    r.written.insert(store);
                }
                let copies = &mut r.in_flight[id];
                for o in (0..replicas[id]).filter(|o| o != replica) {
                    if !copies.contains(&(o, *version)) {
                        copies.push((o, *version));
                    }
                }
                r.last_write = line.t;
            }
            TraceEvent::StoreApply { replica, version, applied, .. } => {
                if *applied {
                    r.last_touch[id] = Some(line.t);
                }
                let copies = &mut r.in_flight[id];
                if let Some(at) = copies.iter().position(|c| *c == (*replica, *version)) {
                    copies.swap_remove(at);
                }
            }
            TraceEvent::ReplicaMissed { replica, version, .. } => {
                let copies = &mut r.in_flight[id];
                if let Some(at) = copies.iter().position(|c| *c == (*replica, *version)) {
                    copies.swap_remove(at);
                }
                r.missed_at.entry(id).or_insert(line.t);
                r.missed.entry(id).or_default().push((*replica, *version));
            }
            _ => {}
        }
    }
    if let Some(e) = error {
        return Err(e.clone());
    }
    Ok(r)
}

/// Every key some replica holds, in key order (as a `BTreeSet` of them all would list them),
/// each with every replica's entry for it: the replicas' ordered maps walked together, one
/// step per key, instead of a set of all keys and a search of every replica per key.
fn merged(
    replicas: &[BTreeMap<Vec<u8>, Versioned>],
) -> impl Iterator<Item = (&Vec<u8>, Vec<Option<&Versioned>>)> {
    let mut walks: Vec<_> = replicas.iter().map(|r| r.iter().peekable()).collect();
    std::iter::from_fn(move || {
        let next = walks.iter_mut().filter_map(|w| w.peek().map(|(k, _)| *k)).min()?;
        let entries =
            walks.iter_mut().map(|w| w.next_if(|(k, _)| *k == next).map(|(_, v)| v)).collect();
        Some((next, entries))
    })
}

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let rep = match replication(run) {
        Ok(r) => r,
        Err(e) => return Verdict::unjudged(ID, unreadable(&e)),
    };
    let (lines, pairs) = (run.lines().0, run.store_keys());
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let mut subjects = Vec::new();
    // When the first shown divergence began: a copy missed for good, or (arrival order) the
    // last write or apply of the key, after which the replicas never agreed again.
    let mut first: Option<SimTime> = None;
    let (mut judged_keys, mut skipped_keys, mut overdue_keys) = (0usize, 0usize, 0usize);
    let bound = SimTime(millis_to_nanos(s.quality.convergence_ms));
    // A copy in flight at the cutoff that no fault can explain (the module's doc): the oldest
    // such, as (written at, replica, version).
    let overdue = |id: usize| -> Option<(SimTime, u32, u64)> {
        rep.in_flight[id]
            .iter()
            .filter_map(|&(replica, version)| {
                let &(_, at) = rep.writers.get(&(id, version))?;
                (at >= rep.last_fault_end && run.end.0.saturating_sub(at.0) >= bound.0)
                    .then_some((at, replica, version))
            })
            .min()
    };
    for (store, replicas) in &run.stores {
        if replicas.len() < 2 || !rep.written.contains(store.as_str()) {
            continue;
        }
        let arrival = s
            .stores
            .iter()
            .find(|x| &x.name == store)
            .is_some_and(|x| x.conflict == ConflictPolicy::ArrivalOrder);
        let mut diverging = 0;
        for (k, entries) in merged(replicas) {
            // The key as the trace writes it, the text `pairs` knows it by.
            let key = crate::trace::bytes_text(k);
            let id = pairs.id(lines, store, &key);
            let late = id.and_then(overdue);
            if late.is_none() && id.is_some_and(|id| !rep.in_flight[id].is_empty()) {
                skipped_keys += 1;
                continue;
            }
            judged_keys += 1;
            overdue_keys += usize::from(late.is_some());
            let values: Vec<Option<&Vec<u8>>> =
                entries.iter().map(|e| e.and_then(|v| v.value.as_ref())).collect();
            if values.iter().all(|v| *v == values[0]) {
                continue;
            }
            diverging += 1;
            if diverging > SHOWN_MAX {
                continue;
            }
            subjects.extend([store.clone(), key.to_string()]);
            let missed = id.and_then(|id| rep.missed.get(&id));
            let touched = id.and_then(|id| rep.missed_at.get(&id).copied().or(rep.last_touch[id]));
            // An overdue copy shows when the bound after its write passed.
            let shows = late.map(|(at, _, _)| SimTime(at.0 + bound.0));
            if let Some(t) = if missed.is_none() && shows.is_some() { shows } else { touched } {
                first = Some(first.map_or(t, |f| f.min(t)));
            }
            // The writes some replica never got: their invocations start the chain.
            for (_, version) in missed.into_iter().flatten() {
                if let Some((inv, _)) = id.and_then(|id| rep.writers.get(&(id, *version))) {
                    subjects.push(Link::Inv(*inv).to_string());
                }
            }
            let shown: Vec<String> = values
                .iter()
                .zip(&entries)
                .enumerate()
                .map(|(i, (v, e))| {
                    let version = e.map_or(0, |x| x.version);
                    format!("replica {i} = {} (version {version})", show(*v))
                })
                .collect();
            let why = match (missed, late) {
                (Some(m), _) => {
                    let m: Vec<String> =
                        m.iter().map(|(r, v)| format!("replica {r} missed version {v}")).collect();
                    format!(
                        "; never repaired: {} (dropped, and the store has no anti-entropy)",
                        m.join(", ")
                    )
                }
                (None, Some((at, replica, version))) => {
                    format!(
                        "; replica {replica} had not received version {version}, written at {:.3} s, {:.1} ms before the cutoff, after the last fault healed: replication outlasted the convergence bound ({:.1} ms)",
                        at.as_secs_f64(),
                        (run.end - at) as f64 / 1e6,
                        bound.0 as f64 / 1e6
                    )
                }
                (None, None) if arrival => {
                    "; the replicas applied the writes in different orders (arrival-order)".into()
                }
                (None, None) => String::new(),
            };
            findings.push(format!(
                "store `{store}` key `{key}` diverges after quiescence: {}{why}",
                shown.join(", ")
            ));
        }
        if diverging > SHOWN_MAX {
            findings.push(format!("store `{store}`: {diverging} keys diverge in all"));
        }
        if let Some(h) = run.metrics.replication_lag.get(store) {
            let q = |p: f64| h.value_at_quantile(p) as f64 / 1e3;
            notes.push(format!(
                "store `{store}`: time to converge over {} replicated writes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                h.len(),
                q(0.5),
                q(0.99),
                h.max() as f64 / 1e3
            ));
        }
    }
    if judged_keys == 0 {
        let why = if skipped_keys > 0 {
            format!("every written key ({skipped_keys}) was still replicating at the cutoff")
        } else {
            "no store with two or more replicas was written".to_owned()
        };
        return Verdict::not_exercised(ID, why);
    }
    notes.insert(
        0,
        format!(
            "judged at {:.3} s (last write {:.3} s, last fault healed {:.3} s): {judged_keys} key(s); {skipped_keys} key(s) still replicating at the cutoff not judged",
            run.end.as_secs_f64(),
            rep.last_write.as_secs_f64(),
            rep.last_fault_end.as_secs_f64(),
        ),
    );
    if overdue_keys > 0 {
        notes.insert(
            1,
            format!(
                "{overdue_keys} key(s) judged with a replicated copy still in flight past the convergence bound ({:.1} ms) after a write no fault delayed",
                bound.0 as f64 / 1e6
            ),
        );
    }
    let v = Verdict::new(ID, findings, notes).about(subjects);
    if v.passed() { v } else { v.at_opt(first) }
}

#[cfg(test)]
mod tests {
    use crate::system::Versioned;
    use crate::trace::TraceEvent;

    use super::super::tests::{run_with, verdict_of};
    use super::ID;
    use crate::properties::Status;

    fn write(replica: u32, version: u64) -> TraceEvent<&'static str> {
        TraceEvent::StoreWrite {
            store: "db",
            replica,
            key: "k",
            version,
            inv: 1,
            prev_version: 0,
            changed: true,
            value: Default::default(),
        }
    }
    fn apply(replica: u32, version: u64) -> TraceEvent<&'static str> {
        TraceEvent::StoreApply { store: "db", replica, key: "k", version, applied: true }
    }

    /// A run whose `db` replicas end with these (value, version)s of `k`.
    fn ending(
        events: &[TraceEvent<&str>],
        finals: &[(&str, u64)],
    ) -> (fusebench_model::Scenario, crate::system::RunResult) {
        let (s, mut run) = run_with(events);
        let replicas = finals
            .iter()
            .map(|(v, version)| {
                [(
                    b"k".to_vec(),
                    Versioned { value: Some(v.as_bytes().to_vec()), version: *version },
                )]
                .into_iter()
                .collect()
            })
            .collect();
        run.stores.insert("db".into(), replicas);
        (s, run)
    }

    /// The replicas' maps walked together list what a set of every key, then a search of
    /// each replica per key, listed: same keys, same order, same entries (a key some replicas
    /// lack, a replica with no key, keys only one replica holds, first and last).
    #[test]
    fn merged_replicas_list_the_keys_and_entries_a_set_of_all_keys_did() {
        use std::collections::{BTreeMap, BTreeSet};
        let replica = |keys: &[(&str, u64)]| -> BTreeMap<Vec<u8>, Versioned> {
            let entry = |(k, v): &(&str, u64)| {
                (k.as_bytes().to_vec(), Versioned { value: Some(vec![*v as u8]), version: *v })
            };
            keys.iter().map(entry).collect()
        };
        let replicas = [
            replica(&[("b", 1), ("d", 2), ("dd", 9)]),
            replica(&[]),
            replica(&[("a", 3), ("b", 4), ("e", 5)]),
            replica(&[("d", 6), ("c", 7), ("f", 8), ("", 10)]),
        ];
        let keys: BTreeSet<&Vec<u8>> = replicas.iter().flat_map(|r| r.keys()).collect();
        let by_set: Vec<(&Vec<u8>, Vec<Option<&Versioned>>)> =
            keys.into_iter().map(|k| (k, replicas.iter().map(|r| r.get(k)).collect())).collect();
        let walked: Vec<_> = super::merged(&replicas).collect();
        assert_eq!(walked, by_set);
        assert_eq!(walked.len(), 8);
    }

    #[test]
    fn a_replica_that_missed_a_write_for_good_fails_naming_it() {
        let missed = TraceEvent::ReplicaMissed { store: "db", replica: 1, key: "k", version: 2 };
        let (s, run) =
            ending(&[write(0, 1), apply(1, 1), write(0, 2), missed], &[("b", 2), ("a", 1)]);
        let v = verdict_of(&s, &run, ID);
        assert_eq!(v.status, Status::Failed, "{v:#?}");
        assert!(
            v.findings[0].contains("store `db` key `k` diverges after quiescence")
                && v.findings[0].contains("replica 1 missed version 2"),
            "{v:#?}"
        );
        // Dated by the copy missed for good (the 4th event), naming the write it lost.
        assert_eq!(v.at, Some(crate::time::SimTime(3_000_000)), "{v:#?}");
        assert!(v.subjects.contains(&"inv:1".to_owned()), "{v:#?}");
    }

    #[test]
    fn a_write_still_replicating_at_the_cutoff_is_not_judged() {
        // Judged 998 ms after the last write, within the bound (5,000 ms by default).
        let (s, run) = ending(&[write(0, 1), apply(1, 1), write(0, 2)], &[("b", 2), ("a", 1)]);
        let v = verdict_of(&s, &ended_at(run, 1_000), ID);
        assert_eq!(v.status, Status::NotExercised, "{v:#?}");
        assert!(v.notes[0].contains("still replicating at the cutoff"), "{v:#?}");
    }

    /// The cutoff moved to `ms` after the first event.
    fn ended_at(mut run: crate::system::RunResult, ms: u64) -> crate::system::RunResult {
        run.end = crate::time::SimTime(ms * 1_000_000);
        run
    }

    #[test]
    fn a_copy_in_flight_past_the_bound_after_the_last_fault_is_judged() {
        // Version 2 (written at 2 ms) has not reached replica 1 by the cutoff, 5,002 ms later:
        // past the default bound of 5,000 ms, with no fault to delay it.
        let (s, run) = ending(&[write(0, 1), apply(1, 1), write(0, 2)], &[("b", 2), ("a", 1)]);
        let v = verdict_of(&s, &ended_at(run, 5_004), ID);
        assert_eq!(v.status, Status::Failed, "{v:#?}");
        assert!(
            v.findings[0].contains("replica 1 had not received version 2, written at 0.002 s")
                && v.findings[0].contains("convergence bound (5000.0 ms)"),
            "{v:#?}"
        );
        assert_eq!(v.at, Some(crate::time::SimTime(5_002_000_000)), "{v:#?}");
        // 1 ms short of the bound: still replicating, not judged.
        let (s, run) = ending(&[write(0, 1), apply(1, 1), write(0, 2)], &[("b", 2), ("a", 1)]);
        assert_eq!(verdict_of(&s, &ended_at(run, 5_001), ID).status, Status::NotExercised);
        // A fault healed after the write (at 3 ms): the copy may be the fault's, not judged.
        let healed = TraceEvent::FaultEnd { index: 0, kind: "replica-lag" };
        let events = [write(0, 1), apply(1, 1), write(0, 2), healed];
        let (s, run) = ending(&events, &[("b", 2), ("a", 1)]);
        assert_eq!(verdict_of(&s, &ended_at(run, 9_000), ID).status, Status::NotExercised);
        // An overdue copy the replica no longer needs (it holds a newer version): agreement.
        let events = [write(0, 1), write(0, 2), apply(1, 2)];
        let (s, run) = ending(&events, &[("b", 2), ("b", 2)]);
        let v = verdict_of(&s, &ended_at(run, 9_000), ID);
        assert_eq!(v.status, Status::Held, "{v:#?}");
        assert!(
            v.notes[1].contains("1 key(s) judged with a replicated copy still in flight"),
            "{v:#?}"
        );
    }

    #[test]
    fn replicas_that_agree_hold() {
        let (s, run) = ending(&[write(0, 1), apply(1, 1)], &[("a", 1), ("a", 1)]);
        let v = verdict_of(&s, &run, ID);
        assert_eq!(v.status, Status::Held, "{v:#?}");
        assert!(v.notes[0].contains("1 key(s); 0 key(s) still replicating"), "{v:#?}");
        // No replicated store was written.
        let (s, run) = ending(&[], &[("a", 1), ("a", 1)]);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::NotExercised);
    }
}
