//! Cache staleness (seed §2.3): a cache that declares the store it fronts (`of`) and a bound
//! (`staleness_ms`) may return a value the store has replaced (replica 0 holds a newer,
//! different one) only for that long. A hit traced as `cache_read` carries how long replica 0
//! had held a newer value, measured by the simulator at the read from the version the cached
//! value is (`system/kv.rs`, `Sim::standing`): a value written through ahead of replica 0 is
//! not stale; one of unknown origin counts from replica 0's next change (a lower bound), so a
//! finding is never a false alarm.

use std::collections::BTreeMap;

use fusebench_model::Scenario;

use super::{Judged, Link, Verdict, each_event, unreadable};
use crate::time::{SimTime, millis_to_nanos};
use crate::trace::TraceEvent;

pub(super) const ID: &str = "cache-staleness";

/// Findings listed one by one; beyond, only counted.
const SHOWN_MAX: usize = 10;

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    // cache → (fronted store, bound in ns)
    let bounds: BTreeMap<&str, (&str, u64)> = s
        .stores
        .iter()
        .filter_map(|c| {
            let (of, ms) = (c.of.as_ref()?, c.staleness_ms?);
            Some((c.name.as_str(), (of.name.as_str(), millis_to_nanos(ms))))
        })
        .collect();
    if bounds.is_empty() {
        return Verdict::not_exercised(ID, "no cache declares a staleness bound (`staleness_ms`)");
    }
    let mut who: BTreeMap<u64, String> = BTreeMap::new();
    let (mut reads, mut stale, mut worst) = (0u64, 0u64, 0u64);
    let mut findings = Vec::new();
    let mut subjects = Vec::new();
    // The first read beyond the bound: when the violation shows.
    let mut first: Option<SimTime> = None;
    let walked = each_event(run, |line| match &line.event {
        TraceEvent::InvocationStart { inv, service, endpoint, .. } => {
            who.insert(*inv, format!("{service}.{endpoint}"));
        }
        TraceEvent::CacheRead { inv, cache, key, store_version, differs_ns } => {
            let Some(&(store, bound)) = bounds.get(&**cache) else { return };
            reads += 1;
            worst = worst.max(*differs_ns);
            if *differs_ns > bound {
                stale += 1;
                first.get_or_insert(line.t);
                if findings.len() < SHOWN_MAX {
                    let reader =
                        who.get(inv).map_or_else(|| "(no invocation)".to_owned(), Clone::clone);
                    subjects.extend([cache.to_string(), store.to_owned(), key.to_string()]);
                    subjects.extend(who.get(inv).cloned());
                    subjects.push(Link::Inv(*inv).to_string());
                    findings.push(format!(
                        "cache `{cache}` key `{key}`: `{reader}` (invocation {inv}) read at {:.3} s a value store `{store}` had replaced {:.1} ms before (replica 0 holds version {store_version}), over the bound of {:.1} ms",
                        line.t.as_secs_f64(),
                        *differs_ns as f64 / 1e6,
                        bound as f64 / 1e6,
                    ));
                }
            }
        }
        _ => {}
    });
    if let Err(e) = walked {
        return Verdict::unjudged(ID, unreadable(&e));
    }
    if reads == 0 {
        let names: Vec<&str> = bounds.keys().copied().collect();
        return Verdict::not_exercised(
            ID,
            format!("no read hit a cache with a staleness bound ({})", names.join(", ")),
        );
    }
    if stale > findings.len() as u64 {
        findings.push(format!("{stale} stale read(s) in all"));
    }
    let notes = vec![format!(
        "{reads} hit(s) on bounded caches judged; the longest a returned value had been replaced in its store: {:.1} ms",
        worst as f64 / 1e6
    )];
    let v = Verdict::new(ID, findings, notes);
    if v.passed() { v } else { v.about(subjects).at_opt(first) }
}

#[cfg(test)]
mod tests {
    use fusebench_model::Scenario;

    use super::super::tests::{TWO, run_with, verdict_of};
    use super::ID;
    use crate::properties::Status;
    use crate::trace::TraceEvent;

    /// [`TWO`] with a store and a cache fronting it, bounded to 500 ms when `bounded`.
    fn scenario(bounded: bool) -> Scenario {
        let bound = if bounded { "staleness_ms = 500" } else { "" };
        let text = format!(
            "{TWO}\n[[store]]\nname = \"db\"\nkind = \"kv\"\nnodes = [\"n\"]\n\
             [[store]]\nname = \"c\"\nkind = \"cache\"\nnodes = [\"n\"]\nof = \"db\"\n{bound}\n"
        );
        let parsed = fusebench_model::parse("two.toml", &text);
        parsed.scenario.unwrap_or_else(|| panic!("{:#?}", parsed.diagnostics))
    }

    fn hit(differs_ms: u64) -> TraceEvent<&'static str> {
        TraceEvent::CacheRead {
            inv: 4,
            cache: "c",
            key: "p1",
            store_version: 9,
            differs_ns: differs_ms * 1_000_000,
        }
    }

    #[test]
    fn a_read_stale_beyond_the_bound_fails_and_within_it_holds() {
        let (_, run) = run_with(&[hit(0), hit(499), hit(501)]);
        let v = verdict_of(&scenario(true), &run, ID);
        assert_eq!(v.status, Status::Failed, "{v:#?}");
        assert_eq!(v.findings.len(), 1, "{v:#?}");
        assert!(
            v.findings[0].contains("cache `c` key `p1`")
                && v.findings[0].contains(
                    "store `db` had replaced 501.0 ms before (replica 0 holds version 9)"
                )
                && v.findings[0].contains("bound of 500.0 ms"),
            "{v:#?}"
        );
        // Dated by the stale read (the 3rd event), naming its invocation.
        assert_eq!(v.at, Some(crate::time::SimTime(2_000_000)), "{v:#?}");
        assert!(v.subjects.contains(&"inv:4".to_owned()), "{v:#?}");
        let (_, run) = run_with(&[hit(0), hit(499)]);
        assert_eq!(verdict_of(&scenario(true), &run, ID).status, Status::Held);
    }

    #[test]
    fn without_a_bound_or_a_hit_it_is_not_exercised() {
        let (_, run) = run_with(&[hit(10_000)]);
        assert_eq!(verdict_of(&scenario(false), &run, ID).status, Status::NotExercised);
        let (_, run) = run_with(&[]);
        let v = verdict_of(&scenario(true), &run, ID);
        assert_eq!(v.status, Status::NotExercised);
        assert!(v.notes[0].contains("no read hit a cache with a staleness bound (c)"), "{v:#?}");
    }

    #[test]
    fn a_bound_without_the_store_it_fronts_is_a_diagnostic() {
        let text = format!(
            "{TWO}\n[[store]]\nname = \"c\"\nkind = \"cache\"\nnodes = [\"n\"]\nstaleness_ms = 5\n"
        );
        let parsed = fusebench_model::parse("two.toml", &text);
        assert!(
            parsed.diagnostics.iter().any(|d| d
                .field
                .as_deref()
                .is_some_and(|f| f.ends_with(".of"))
                && d.message.contains("needs `of`")
                && d.location.is_some()),
            "{:#?}",
            parsed.diagnostics
        );
        let text = format!(
            "{TWO}\n[[store]]\nname = \"c\"\nkind = \"cache\"\nnodes = [\"n\"]\nof = \"c\"\n"
        );
        let parsed = fusebench_model::parse("two.toml", &text);
        assert!(
            parsed.diagnostics.iter().any(|d| d.message.contains("is not a key-value store")),
            "{:#?}",
            parsed.diagnostics
        );
    }
}
