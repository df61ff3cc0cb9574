//! Acknowledged writes survive (seed §2.3): once a writer got success from `kv_put`,
//! `kv_delete` or `kv_cas`, no replica that reflected that write (held it or a newer version)
//! may go back to an older version. A write overwritten by a newer one is not lost.
//!
//! What the simulator can lose: store replicas never crash, and under last-writer-wins a
//! replica only ever moves to higher versions, so only an `arrival-order` store — applying a
//! delayed older copy over a newer write — loses acknowledged data (see `system/kv.rs`). The
//! check reads the trace: `store_write` and applied `store_apply` move a replica's version,
//! `store_acked` marks the writes the writer relies on.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::{Judged, Link, Verdict, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "acked-writes-survive";

/// A key's acknowledged versions: version → (the writing invocation, when acknowledged).
type Acks = BTreeMap<u64, (u64, SimTime)>;

/// Findings listed one by one; beyond, only counted.
const SHOWN_MAX: usize = 10;

/// A replica of a key going back from `from` to the older `to`.
#[derive(Debug)]
struct Regress {
    /// The id of its (store, key) pair ([`Judged::store_keys`]).
    pair: usize,
    replica: u32,
    from: u64,
    to: u64,
    t: SimTime,
    /// The invocation whose write put the older version back (0: a replication apply).
    by: u64,
}

pub(super) fn check(_s: &Scenario, run: &Judged<'_>) -> Verdict {
    // Keyed by the ids of the lines' (store, key) pairs: no name compared per event.
    let (lines, error) = run.lines();
    let pairs = run.store_keys();
    // Per pair: (replica, version held) for each replica it moved at.
    let mut held: Vec<Vec<(u32, u64)>> = vec![Vec::new(); pairs.len()];
    // Per pair: its acknowledged writes.
    let mut acked: Vec<Acks> = vec![Acks::new(); pairs.len()];
    let mut who: BTreeMap<u64, (&str, &str)> = BTreeMap::new();
    let mut regressions = Vec::new();
    let mut moved = |pair: usize, replica: u32, version: u64, t: SimTime, by| {
        let at = &mut held[pair];
        let i = at.iter().position(|(r, _)| *r == replica).unwrap_or_else(|| {
            at.push((replica, 0));
            at.len() - 1
        });
        let cur = &mut at[i].1;
        if version < *cur {
            regressions.push(Regress { pair, replica, from: *cur, to: version, t, by });
        }
        *cur = version;
    };
    for (i, line) in lines.iter().enumerate() {
        match &line.event {
            TraceEvent::InvocationStart { inv, service, endpoint, .. } => {
                who.insert(*inv, (service, endpoint));
            }
            TraceEvent::StoreWrite { replica, version, inv, .. } => {
                if let Some(pair) = pairs.of_line(i) {
                    moved(pair, *replica, *version, line.t, *inv);
                }
            }
            TraceEvent::StoreApply { replica, version, applied: true, .. } => {
                if let Some(pair) = pairs.of_line(i) {
                    moved(pair, *replica, *version, line.t, 0);
                }
            }
            TraceEvent::StoreAcked { inv, version, .. } => {
                if let Some(pair) = pairs.of_line(i) {
                    acked[pair].insert(*version, (*inv, line.t));
                }
            }
            _ => {}
        }
    }
    if let Some(e) = error {
        return Verdict::unjudged(ID, unreadable(e));
    }
    let who = |inv: &u64| who.get(inv).map(|(service, endpoint)| format!("{service}.{endpoint}"));
    let total: usize = acked.iter().map(BTreeMap::len).sum();
    if total == 0 {
        return Verdict::not_exercised(ID, "no key-value write was acknowledged");
    }
    let (mut findings, mut subjects, mut lost) = (Vec::new(), Vec::new(), 0u64);
    // The first regression that lost an acknowledged write: when the violation shows.
    let mut first: Option<SimTime> = None;
    for r in &regressions {
        let acks = &acked[r.pair];
        // The newest acknowledged write the replica reflected and no longer does.
        let Some((version, (inv, t_ack))) = acks.range(r.to + 1..=r.from).next_back() else {
            continue;
        };
        lost += 1;
        first = Some(first.map_or(r.t, |f| f.min(r.t)));
        if findings.len() < SHOWN_MAX {
            let writer = who(inv);
            let (store, key) = pairs.names(lines, r.pair);
            subjects.extend([store.to_owned(), key.to_owned()]);
            subjects.extend(writer.clone());
            let writer = writer.unwrap_or_else(|| "(no invocation)".to_owned());
            subjects.push(Link::Inv(*inv).to_string());
            if r.by != 0 {
                subjects.push(Link::Inv(r.by).to_string());
            }
            findings.push(format!(
                "store `{}` key `{}`: the write of version {version} by `{writer}` (invocation {inv}, acknowledged at {:.3} s) was lost at replica {}: at {:.3} s it went back from version {} to the older version {}",
                store,
                key,
                t_ack.as_secs_f64(),
                r.replica,
                r.t.as_secs_f64(),
                r.from,
                r.to,
            ));
        }
    }
    if lost > findings.len() as u64 {
        findings.push(format!("{lost} loss(es) of acknowledged writes in all"));
    }
    let notes = vec![format!(
        "{total} acknowledged write(s) judged; {} time(s) a replica went back to an older version",
        regressions.len()
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

    fn write(replica: u32, version: u64, inv: u64) -> TraceEvent<&'static str> {
        TraceEvent::StoreWrite {
            store: "db",
            replica,
            key: "k",
            version,
            inv,
            prev_version: 0,
            changed: true,
            value: Default::default(),
        }
    }
    fn apply(replica: u32, version: u64, applied: bool) -> TraceEvent<&'static str> {
        TraceEvent::StoreApply { store: "db", replica, key: "k", version, applied }
    }
    fn ack(inv: u64, version: u64) -> TraceEvent<&'static str> {
        TraceEvent::StoreAcked { inv, store: "db", key: "k", version }
    }

    #[test]
    fn an_older_copy_applied_over_an_acknowledged_write_fails() {
        // Version 1 accepted at replica 1, version 2 at replica 0 and acknowledged; replica 0
        // then applies the delayed copy of version 1 (arrival order).
        let events =
            [write(1, 1, 7), write(0, 2, 8), ack(8, 2), apply(1, 2, true), apply(0, 1, true)];
        let (s, run) = run_with(&events);
        let v = verdict_of(&s, &run, ID);
        assert_eq!(v.status, Status::Failed, "{v:#?}");
        assert!(
            v.findings[0].contains("the write of version 2")
                && v.findings[0].contains("(invocation 8")
                && v.findings[0].contains("lost at replica 0")
                && v.findings[0].contains("from version 2 to the older version 1"),
            "{v:#?}"
        );
        // Dated by the apply that went back (the 5th event), naming the acknowledged writer.
        assert_eq!(v.at, Some(SimTime(4_000_000)), "{v:#?}");
        assert!(v.subjects.contains(&"inv:8".to_owned()), "{v:#?}");
    }

    #[test]
    fn last_writer_wins_ignoring_the_older_copy_holds() {
        let events =
            [write(1, 1, 7), write(0, 2, 8), ack(8, 2), apply(1, 2, true), apply(0, 1, false)];
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
        // Going back over a write nobody was told succeeded loses nothing acknowledged.
        let events = [write(1, 1, 7), write(0, 2, 8), ack(7, 1), apply(0, 1, true)];
        let (s, run) = run_with(&events);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::Held);
    }

    #[test]
    fn without_acknowledged_writes_it_is_not_exercised() {
        let (s, run) = run_with(&[write(0, 1, 7), apply(1, 1, true)]);
        assert_eq!(verdict_of(&s, &run, ID).status, Status::NotExercised);
    }
}
