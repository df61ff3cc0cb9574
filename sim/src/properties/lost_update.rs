//! No lost update (seed §2.3): an invocation that read a key and later writes it must not
//! overwrite a change another invocation made in between — the read-modify-write race that
//! makes two concurrent increments count once. Reported apart from idempotence: the two
//! invocations here are different pieces of work racing, not one delivered twice.
//!
//! Judged from the trace: `store_read` gives the version an invocation saw, `store_write` the
//! version it wrote and who wrote what in between (versions come from one global counter in
//! acceptance order, so "in between" is a version interval, stale reads at an eventual replica
//! included). A write made with `kv_cas` (or `kv_cas_version`) is applied only over the value
//! (version) it expected, so what it "read" is the version the deciding replica held
//! (`prev_version`): it loses an update only when a write that replica had not yet received came
//! in between (two eventual replicas each accepting a compare-and-set; never on a strong store,
//! whose primary decides every write). A failed compare-and-set writes nothing and is no write
//! here. An invocation never races with itself nor with another delivery of the same message or
//! attempt of the same call (`work_of` in the trace): duplicates are idempotence's business.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::{Judged, Link, Verdict, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "no-lost-update";

/// Findings listed one by one; beyond, only counted.
const SHOWN_MAX: usize = 10;

/// A write accepted by a store, in version order per (store, key).
#[derive(Debug, Clone, Copy)]
struct Write {
    version: u64,
    inv: u64,
    changed: bool,
    t: SimTime,
}

pub(super) fn check(_s: &Scenario, run: &Judged<'_>) -> Verdict {
    // Keyed by names borrowed from the lines read back, and stores and keys by the ids of
    // their pairs (`Judged::store_keys`): nothing allocated per event, no name compared.
    let (lines, error) = run.lines();
    let pairs = run.store_keys();
    // inv → (service, endpoint)
    let mut who: BTreeMap<u64, (&str, &str)> = BTreeMap::new();
    // inv → the message delivery or call attempt it serves (none for client requests)
    let mut work: BTreeMap<u64, &str> = BTreeMap::new();
    // inv → the import of its operation in progress (an invocation has one at a time)
    let mut op_of: BTreeMap<u64, &str> = BTreeMap::new();
    // (inv, pair) → (version read, when)
    let mut read: BTreeMap<(u64, usize), (u64, SimTime)> = BTreeMap::new();
    // Per pair: writes in version order
    let mut writes: Vec<Vec<Write>> = vec![Vec::new(); pairs.len()];
    let (mut judged, mut with_cas, mut lost) = (0u64, 0u64, 0u64);
    let mut findings = Vec::new();
    let mut subjects = Vec::new();
    // The first overwriting write: when the lost update shows.
    let mut first: Option<SimTime> = None;
    for (i, line) in lines.iter().enumerate() {
        match &line.event {
            TraceEvent::InvocationStart { inv, service, endpoint, .. } => {
                who.insert(*inv, (service, endpoint));
            }
            TraceEvent::WorkOf { inv, work: w } => {
                work.insert(*inv, w);
            }
            TraceEvent::HostOp { inv, op, .. } => {
                op_of.insert(*inv, op);
            }
            TraceEvent::StoreRead { inv, version, .. } => {
                if let Some(pair) = pairs.of_line(i) {
                    read.insert((*inv, pair), (*version, line.t));
                }
            }
            TraceEvent::StoreWrite {
                store,
                key,
                version,
                inv,
                changed,
                prev_version,
                replica,
                ..
            } => {
                let Some(pair) = pairs.of_line(i) else { continue };
                let list = &mut writes[pair];
                let cas =
                    op_of.get(inv).is_some_and(|op| *op == "kv_cas" || *op == "kv_cas_version");
                // A compare-and-set "read" what the replica deciding it held when it wrote
                // (`prev_version`): it loses an update only if a write that replica had not yet
                // received came in between — two eventual replicas each accepting one.
                let basis = if cas {
                    Some((*prev_version, line.t))
                } else {
                    read.get(&(*inv, pair)).copied()
                };
                // Invocation ids start at 0: the first invocation is judged like any other.
                if let Some((v_read, t_read)) = basis {
                    judged += 1;
                    with_cas += u64::from(cas);
                    // Writes after the version read, by other work, that changed the value (another
                    // delivery of the same message or attempt of the same call is not a race
                    // here: idempotence judges duplicates).
                    let mine = work.get(inv);
                    let same_work = |other: u64| mine.is_some() && work.get(&other) == mine;
                    let from = list.partition_point(|w| w.version <= v_read);
                    if let Some(other) = list[from..]
                        .iter()
                        .rev()
                        .find(|w| w.inv != *inv && w.changed && !same_work(w.inv))
                    {
                        lost += 1;
                        first.get_or_insert(line.t);
                        if findings.len() < SHOWN_MAX {
                            let who_is = |i: &u64| who.get(i).map(|(s, e)| format!("{s}.{e}"));
                            let name =
                                |i: u64| who_is(&i).unwrap_or_else(|| "(no invocation)".to_owned());
                            subjects.extend([store.to_string(), key.to_string()]);
                            subjects.extend(who_is(inv));
                            subjects.extend(who_is(&other.inv));
                            subjects.extend(
                                [Link::Inv(*inv), Link::Inv(other.inv)].map(|l| l.to_string()),
                            );
                            let (how, what) = if cas {
                                (
                                    format!(
                                        "compare-and-set over version {v_read} at replica {replica}"
                                    ),
                                    "the replica deciding the compare-and-set had not received that update",
                                )
                            } else {
                                (
                                    format!(
                                        "read version {v_read} at {:.3} s",
                                        t_read.as_secs_f64()
                                    ),
                                    "a read-modify-write race lost that update",
                                )
                            };
                            findings.push(format!(
                            "store `{store}` key `{key}`: `{}` (invocation {inv}) {how} and wrote version {version} at {:.3} s, overwriting version {} written in between by `{}` (invocation {}) at {:.3} s: {what}",
                            name(*inv),
                            line.t.as_secs_f64(),
                            other.version,
                            name(other.inv),
                            other.inv,
                            other.t.as_secs_f64(),
                        ));
                        }
                    }
                }
                list.push(Write { version: *version, inv: *inv, changed: *changed, t: line.t });
            }
            _ => {}
        }
    }
    if let Some(e) = error {
        return Verdict::unjudged(ID, unreadable(e));
    }
    if judged == 0 {
        let why = "no invocation wrote a key it had read (no read-modify-write) nor made a compare-and-set";
        return Verdict::not_exercised(ID, why);
    }
    if lost > findings.len() as u64 {
        findings.push(format!("{lost} lost update(s) in all"));
    }
    let notes = vec![format!(
        "{judged} read-modify-write(s) judged; {with_cas} made with compare-and-set (judged against the version the deciding replica held)"
    )];
    let v = Verdict::new(ID, findings, notes);
    if v.passed() { v } else { v.about(subjects).at_opt(first) }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run_with, verdict_of};
    use super::ID;
    use crate::properties::Status;
    use crate::time::SimTime;
    use crate::trace::TraceEvent;

    fn start(inv: u64, endpoint: &'static str) -> TraceEvent<&'static str> {
        TraceEvent::InvocationStart {
            inv,
            req: inv,
            service: "counter",
            endpoint,
            replica: 0,
            instance: inv,
            fresh: false,
            cause: "client",
            source: inv,
            group: "",
            attempt: 0,
            copy: 0,
            idem_key: "",
            input: Default::default(),
        }
    }
    fn op(inv: u64, op: &'static str) -> TraceEvent<&'static str> {
        TraceEvent::HostOp { inv, op, target: "db" }
    }
    fn read(inv: u64, version: u64) -> TraceEvent<&'static str> {
        TraceEvent::StoreRead { inv, store: "db", replica: 0, key: "n", version }
    }
    fn write(inv: u64, version: u64, prev_version: u64) -> TraceEvent<&'static str> {
        TraceEvent::StoreWrite {
            store: "db",
            replica: 0,
            key: "n",
            version,
            inv,
            prev_version,
            changed: true,
            value: Default::default(),
        }
    }

    /// Two increments read version 3; the second overwrites the first's version 4.
    fn race(second_op: &'static str) -> Vec<TraceEvent<&'static str>> {
        vec![
            start(1, "inc"),
            start(2, "inc"),
            op(1, "kv_get"),
            read(1, 3),
            op(2, "kv_get"),
            read(2, 3),
            op(1, "kv_put"),
            write(1, 4, 3),
            op(2, second_op),
            write(2, 5, 4),
        ]
    }

    #[test]
    fn a_read_modify_write_race_fails_naming_both_invocations_and_versions() {
        let (s, run) = run_with(&race("kv_put"));
        let v = verdict_of(&s, &run, ID);
        assert_eq!(v.status, Status::Failed, "{v:#?}");
        assert!(
            v.findings[0].contains("`counter.inc` (invocation 2) read version 3")
                && v.findings[0].contains("wrote version 5")
                && v.findings[0].contains(
                    "overwriting version 4 written in between by `counter.inc` (invocation 1)"
                ),
            "{v:#?}"
        );
        assert!(v.subjects.contains(&"db".to_owned()) && v.subjects.contains(&"n".to_owned()));
        // Dated by the overwriting write (the 10th event); both racing invocations named.
        assert_eq!(v.at, Some(SimTime(9_000_000)), "{v:#?}");
        assert!(
            v.subjects.contains(&"inv:1".to_owned()) && v.subjects.contains(&"inv:2".to_owned())
        );
    }

    #[test]
    fn sequential_updates_and_compare_and_set_hold() {
        // Each reads the version the other wrote: no race.
        let events = [
            start(1, "inc"),
            read(1, 3),
            op(1, "kv_put"),
            write(1, 4, 3),
            start(2, "inc"),
            read(2, 4),
            op(2, "kv_put"),
            write(2, 5, 4),
        ];
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
        // The racing write made with compare-and-set over the version its replica held (4):
        // nothing came in between, it lost no update.
        let (s, run) = run_with(&race("kv_cas"));
        let v = verdict_of(&s, &run, ID);
        assert_eq!(v.status, Status::Held, "{v:#?}");
        assert!(v.notes[0].contains("1 made with compare-and-set"), "{v:#?}");
    }

    #[test]
    fn an_invocation_never_races_with_itself_and_unchanged_writes_lose_nothing() {
        let events = [start(1, "inc"), read(1, 3), write(1, 4, 3), write(1, 5, 4)];
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
        let same = TraceEvent::StoreWrite {
            store: "db",
            replica: 0,
            key: "n",
            version: 4,
            inv: 2,
            prev_version: 3,
            changed: false,
            value: Default::default(),
        };
        let events = [start(1, "inc"), read(1, 3), same, write(1, 5, 4)];
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
    }

    #[test]
    fn two_deliveries_of_one_message_are_left_to_idempotence() {
        let work = |inv, work| TraceEvent::WorkOf { inv, work };
        let mut events = race("kv_put");
        events.insert(2, work(1, "msg:7/0"));
        events.insert(3, work(2, "msg:7/0"));
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
        // Different messages racing are a lost update.
        events[3] = work(2, "msg:8/0");
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Failed);
    }

    #[test]
    fn blind_writes_are_not_exercised_a_compare_and_set_is_judged() {
        let (s, run) = run_with(&[start(1, "set"), write(1, 4, 3)]);
        let v = verdict_of(&s, &run, ID);
        assert_eq!(v.status, Status::NotExercised);
        assert!(v.notes[0].contains("compare-and-set"), "{v:#?}");
        let events = [start(1, "inc"), read(1, 3), op(1, "kv_cas"), write(1, 4, 3)];
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
    }

    #[test]
    fn a_compare_and_set_decided_at_a_replica_that_missed_a_write_loses_it() {
        // Invocation 1 wrote version 4 at replica 1; replica 0, still at version 3, accepts
        // invocation 2's compare-and-set as version 5, which last-writer-wins keeps.
        let at = |replica, inv, version, prev_version| TraceEvent::StoreWrite {
            store: "db",
            replica,
            key: "n",
            version,
            inv,
            prev_version,
            changed: true,
            value: Default::default(),
        };
        let events = [
            start(1, "inc"),
            start(2, "inc"),
            op(1, "kv_cas"),
            at(1, 1, 4, 3),
            op(2, "kv_cas"),
            at(0, 2, 5, 3),
        ];
        let (s, run) = run_with(&events);
        let v = verdict_of(&s, &run, ID);
        assert_eq!(v.status, Status::Failed, "{v:#?}");
        assert!(
            v.findings[0].contains("(invocation 2) compare-and-set over version 3 at replica 0")
                && v.findings[0].contains("overwriting version 4"),
            "{v:#?}"
        );
        // A failed compare-and-set writes nothing: no `store_write`, nothing to judge.
        let events =
            [start(1, "inc"), start(2, "inc"), op(1, "kv_cas"), at(1, 1, 4, 3), op(2, "kv_cas")];
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
    }
}
