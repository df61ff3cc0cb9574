//! Idempotence (seed §2.2, f(f(r)) = f(r)): a request delivered again must not do again what
//! its first delivery did. Judged from the run's own trace, with no second run to compare with.
//!
//! **Duplicates.** Every `invocation_start` says what delivered it (`cause`, `source`,
//! `attempt`, `copy`, `idem_key`). Invocations are grouped by the logical request they serve:
//! the value of the endpoint's `idempotency_key` when it declares one (so retries, redeliveries
//! and client requests repeating a key all fall together), otherwise the call (every attempt,
//! and the second copy a `duplication` fault sends on a sync channel), or the message and
//! consumer group (every redelivery, and the broker's duplicated copies). A client request
//! without a key is its own group. In a group of two or more the earliest start is the *first
//! delivery* and every other member a *duplicate*.
//!
//! **Effects.** An invocation's effects are its own store writes (`store_write`), cache puts
//! (`cache_write`), publishes (`publish`) and calls (`call_start`) — and, transitively, those of
//! the invocations serving its calls to endpoints declared idempotent. A call to an endpoint
//! that is *not* declared idempotent is itself the effect (what the callee then does is judged
//! in the callee's own group, not again here).
//!
//! **Judgement, at the moment each effect happens.** For each group and each target (a store
//! key, a cache key, a channel, a non-idempotent callee) the first member to touch the target
//! makes the one delivery's effect: a redelivery that completes what a crashed first delivery
//! never did is correct. Another member touching the same target afterwards is a violation when
//! it changes something: a store or cache write whose value differs from the one held (one that
//! re-sets the held value is not), any publish, any call to a non-idempotent endpoint. A
//! changing write over a value that someone outside the group wrote after the group's own write
//! is reported as "stale <kind> reverted a later write" (`redelivery`, `call retry`…), unless
//! the duplicate had read that later value and built on it (a read-modify-write: it changed the
//! value again, and is reported so). A member
//! that starts after another had completed (answered `ok`) and then changes a target that one
//! never touched — a second order under a fresh id — is a violation too: the completed delivery
//! was the request's one effect.
//!
//! **Not judged.** A duplicate's write accepted by an eventual store's replica that had not yet
//! received the group's earlier write: the trace says the value changed *there*, not whether it
//! differs from the first delivery's; such writes are counted in the notes.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_model::Scenario;

use super::{Judged, Link, Verdict, each_event, unreadable};
use crate::time::SimTime;
use crate::trace::TraceEvent;

pub(super) const ID: &str = "idempotence";

/// The sources of duplicates this property looks at (said when none was delivered).
const SOURCES: &str = "message redeliveries and broker-duplicated deliveries, call retries, \
                       requests sent twice on a sync channel by a duplication fault, and requests \
                       repeating an endpoint's idempotency key";

/// Findings listed in full; the rest are counted.
const FINDINGS_MAX: usize = 20;

/// One invocation as its `invocation_start` told it.
///
/// Names borrow from the lines read back (`Judged::lines`): a run has an invocation per request
/// and most have no duplicate, so nothing is copied for them.
#[derive(Debug, Clone)]
struct Inv<'a> {
    t: SimTime,
    service: &'a str,
    endpoint: &'a str,
    cause: &'a str,
    source: u64,
    group: &'a str,
    attempt: u32,
    copy: u32,
    idem_key: &'a str,
}

/// The logical request an invocation serves: invocations with the same identity are one
/// request delivered several times.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Identity<'a> {
    /// Same endpoint, same value of its idempotency key.
    Key {
        service: &'a str,
        endpoint: &'a str,
        value: &'a str,
    },
    Client(u64),
    Call(u64),
    Message {
        msg: u64,
        group: &'a str,
    },
}

impl<'a> Identity<'a> {
    fn of(inv: &Inv<'a>) -> Self {
        if !inv.idem_key.is_empty() {
            return Identity::Key {
                service: inv.service,
                endpoint: inv.endpoint,
                value: inv.idem_key,
            };
        }
        match inv.cause {
            "call" => Identity::Call(inv.source),
            "message" => Identity::Message { msg: inv.source, group: inv.group },
            _ => Identity::Client(inv.source),
        }
    }

    fn describe(&self, s: &Scenario) -> String {
        match self {
            Identity::Key { service, endpoint, value } => {
                let field = s
                    .service(service)
                    .and_then(|x| x.endpoint(endpoint))
                    .and_then(|e| e.idempotency_key.as_deref())
                    .unwrap_or("key");
                format!("idempotency key {field} = {value}")
            }
            Identity::Client(req) => format!("client request {req}"),
            Identity::Call(call) => format!("call {call}"),
            Identity::Message { msg, group } => format!("message {msg} to group `{group}`"),
        }
    }
}

/// How a duplicate came about, relative to its group's first delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DupKind {
    Redelivery,
    BrokerDuplicate,
    CallRetry,
    WireDuplicate,
    SameKey,
}

impl DupKind {
    fn of(first: &Inv<'_>, dup: &Inv<'_>) -> Self {
        let same_delivery = first.cause == dup.cause && first.source == dup.source;
        let copies = first.copy > 0 || dup.copy > 0;
        match dup.cause {
            // A copy pair: the same attempt twice, whichever copy ran first (a broker or wire
            // copy may overtake the original).
            "message" if same_delivery && copies && first.attempt == dup.attempt => {
                DupKind::BrokerDuplicate
            }
            "message" if same_delivery && first.group == dup.group => DupKind::Redelivery,
            "call" if same_delivery && copies && first.attempt == dup.attempt => {
                DupKind::WireDuplicate
            }
            "call" if same_delivery => DupKind::CallRetry,
            _ => DupKind::SameKey,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DupKind::Redelivery => "redelivery",
            DupKind::BrokerDuplicate => "broker duplicate",
            DupKind::CallRetry => "call retry",
            DupKind::WireDuplicate => "wire duplicate",
            DupKind::SameKey => "repeated idempotency key",
        }
    }
}

/// Something an invocation did that a duplicate must not do again.
#[derive(Debug, Clone)]
enum Effect<'a> {
    Store {
        store: &'a str,
        key: &'a str,
        version: u64,
        prev_version: u64,
        changed: bool,
    },
    Cache {
        cache: &'a str,
        key: &'a str,
        changed: bool,
    },
    Publish {
        channel: &'a str,
        msg: u64,
    },
    /// A call to an endpoint not declared idempotent.
    Call {
        call: u64,
        service: &'a str,
        endpoint: &'a str,
    },
}

impl<'a> Effect<'a> {
    /// What the effect acts on: effects of one group on the same target are compared.
    fn target(&self) -> (u8, &'a str, &'a str) {
        match *self {
            Effect::Store { store, key, .. } => (0, store, key),
            Effect::Cache { cache, key, .. } => (1, cache, key),
            Effect::Publish { channel, .. } => (2, channel, ""),
            Effect::Call { service, endpoint, .. } => (3, service, endpoint),
        }
    }
}

/// The run's invocations, calls and effects, as read from its trace.
#[derive(Debug, Default)]
struct Story<'a> {
    invs: BTreeMap<u64, Inv<'a>>,
    /// call id → the calling invocation and whether the callee is declared idempotent.
    calls: BTreeMap<u64, (u64, bool)>,
    /// (time, invocation, effect) in trace order.
    effects: Vec<(SimTime, u64, Effect<'a>)>,
    /// version → (writing invocation, time): who held a key before a write.
    versions: BTreeMap<u64, (u64, SimTime)>,
    /// Invocations that answered `ok`, and when.
    done: BTreeMap<u64, SimTime>,
    /// (invocation, store, key) → the latest version it read there.
    read: BTreeMap<(u64, &'a str, &'a str), u64>,
}

fn idempotent(s: &Scenario, service: &str, endpoint: &str) -> bool {
    s.service(service).and_then(|x| x.endpoint(endpoint)).is_some_and(|e| e.idempotent)
}

impl<'a> Story<'a> {
    fn read(s: &Scenario, run: &'a Judged<'_>) -> Result<Story<'a>, crate::trace::TraceError> {
        let mut story = Story::default();
        each_event(run, |line| {
            let t = line.t;
            match &line.event {
                TraceEvent::InvocationStart {
                    inv,
                    service,
                    endpoint,
                    cause,
                    source,
                    group,
                    attempt,
                    copy,
                    idem_key,
                    ..
                } => {
                    story.invs.insert(
                        *inv,
                        Inv {
                            t,
                            service,
                            endpoint,
                            cause,
                            source: *source,
                            group,
                            attempt: *attempt,
                            copy: *copy,
                            idem_key,
                        },
                    );
                }
                TraceEvent::CallStart { call, inv, service, endpoint } => {
                    let idem = idempotent(s, service, endpoint);
                    story.calls.insert(*call, (*inv, idem));
                    if !idem {
                        let effect = Effect::Call { call: *call, service, endpoint };
                        story.effects.push((t, *inv, effect));
                    }
                }
                TraceEvent::StoreWrite {
                    store, key, version, inv, prev_version, changed, ..
                } => {
                    story.versions.insert(*version, (*inv, t));
                    let effect = Effect::Store {
                        store,
                        key,
                        version: *version,
                        prev_version: *prev_version,
                        changed: *changed,
                    };
                    story.effects.push((t, *inv, effect));
                }
                TraceEvent::StoreRead { inv, store, key, version, .. } => {
                    let seen = story.read.entry((*inv, &**store, &**key)).or_default();
                    *seen = (*seen).max(*version);
                }
                TraceEvent::CacheWrite { inv, cache, key, changed } => {
                    let effect = Effect::Cache { cache, key, changed: *changed };
                    story.effects.push((t, *inv, effect));
                }
                TraceEvent::Publish { channel, msg, inv, .. } => {
                    let effect = Effect::Publish { channel, msg: *msg };
                    story.effects.push((t, *inv, effect));
                }
                TraceEvent::InvocationEnd { inv, outcome, .. } if &**outcome == "ok" => {
                    story.done.insert(*inv, t);
                }
                _ => {}
            }
        })?;
        Ok(story)
    }

    /// The invocation that called `inv`, when the callee is declared idempotent (then `inv`'s
    /// effects are also its caller's).
    fn idempotent_caller(&self, inv: u64) -> Option<u64> {
        let i = self.invs.get(&inv)?;
        if i.cause != "call" {
            return None;
        }
        let (caller, idem) = self.calls.get(&i.source)?;
        idem.then_some(*caller)
    }
}

/// The duplicate groups of a run: groups of at least two invocations of one logical request.
struct Groups<'a> {
    /// (identity, members by start time).
    groups: Vec<(Identity<'a>, Vec<u64>)>,
    /// invocation → its group's index.
    member_of: BTreeMap<u64, usize>,
}

impl<'a> Groups<'a> {
    fn of(story: &Story<'a>) -> Groups<'a> {
        let mut by_identity: BTreeMap<Identity, Vec<u64>> = BTreeMap::new();
        for (id, inv) in &story.invs {
            by_identity.entry(Identity::of(inv)).or_default().push(*id);
        }
        let mut groups = Vec::new();
        let mut member_of = BTreeMap::new();
        for (identity, mut members) in by_identity {
            if members.len() < 2 {
                continue;
            }
            members.sort_by_key(|m| (story.invs[m].t, *m));
            for m in &members {
                member_of.insert(*m, groups.len());
            }
            groups.push((identity, members));
        }
        Groups { groups, member_of }
    }

    /// The (group, member) pairs an effect of `inv` counts for: `inv`'s own group and those of
    /// the callers whose idempotent callees it served, transitively.
    fn attributions(&self, story: &Story<'_>, inv: u64) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        let mut at = Some(inv);
        // A call chain is finite (each caller started before its callee), but a trace is input:
        // stop after as many steps as there are invocations.
        let mut steps = story.invs.len() + 1;
        while let Some(a) = at {
            if let Some(&g) = self.member_of.get(&a) {
                out.push((g, a));
            }
            steps -= 1;
            at = if steps == 0 { None } else { story.idempotent_caller(a) };
        }
        out
    }
}

/// What a group has done to one target so far.
#[derive(Debug, Clone, Copy)]
struct Touch {
    /// The member whose effect it was first.
    member: u64,
    t: SimTime,
    /// The group's latest store write to the target (its version).
    version: u64,
}

pub(super) fn check(s: &Scenario, run: &Judged<'_>) -> Verdict {
    let story = match Story::read(s, run) {
        Ok(story) => story,
        Err(e) => return Verdict::unjudged(ID, unreadable(&e)),
    };
    let groups = Groups::of(&story);
    if groups.groups.is_empty() {
        return Verdict::not_exercised(
            ID,
            format!("no duplicate was delivered (looked at {SOURCES})"),
        );
    }
    let mut kinds: BTreeMap<DupKind, usize> = BTreeMap::new();
    for (_, members) in &groups.groups {
        let first = &story.invs[&members[0]];
        for m in &members[1..] {
            *kinds.entry(DupKind::of(first, &story.invs[m])).or_default() += 1;
        }
    }
    let judged: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {}", k.name())).collect();
    let mut notes = vec![format!(
        "judged {} duplicate(s) of {} request(s) by their own effects: {}",
        kinds.values().sum::<usize>(),
        groups.groups.len(),
        judged.join(", ")
    )];

    let mut touched: BTreeMap<(usize, (u8, &str, &str)), Touch> = BTreeMap::new();
    // Last writer of each cache key (caches have one replica: trace order is their order).
    let mut cache_writer: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut judge = Judge {
        s,
        story: &story,
        groups: &groups,
        findings: Vec::new(),
        subjects: Vec::new(),
        first: None,
    };
    let mut behind = 0usize;
    // (group, member) pairs that made a changing effect so far.
    let mut acted: BTreeSet<(usize, u64)> = BTreeSet::new();
    for (t, inv, effect) in &story.effects {
        let attributed = groups.attributions(&story, *inv);
        for &(g, member) in &attributed {
            let target = effect.target();
            let version = match effect {
                Effect::Store { version, .. } => *version,
                _ => 0,
            };
            // Caches aside: refilling one is no effect of the request.
            let changes = match effect {
                Effect::Store { changed, .. } => *changed,
                Effect::Cache { .. } => false,
                Effect::Publish { .. } | Effect::Call { .. } => true,
            };
            if changes {
                acted.insert((g, member));
            }
            let Some(touch) = touched.get_mut(&(g, target)) else {
                touched.insert((g, target), Touch { member, t: *t, version });
                // A target no member touched before: a duplicate that started after another
                // delivery had acted and completed (answered `ok`) acts where that one did
                // not — a second order under a new id — one delivery too many. Not judged: a
                // retry completing what a failed or crashed delivery left undone (that one
                // never answered `ok`), nor one acting after a delivery that changed nothing
                // (an "out of stock" whose answer was lost: the caller saw one answer, and
                // the state matches it).
                let start = story.invs.get(&member).map_or(SimTime::ZERO, |i| i.t);
                let completed = groups.groups[g].1.iter().copied().find(|m| {
                    *m != member
                        && acted.contains(&(g, *m))
                        && story.done.get(m).is_some_and(|end| *end <= start)
                });
                if let (true, Some(done)) = (changes, completed) {
                    judge.beyond(g, member, *t, effect, done);
                }
                continue;
            };
            if touch.member == member {
                touch.version = touch.version.max(version);
                continue;
            }
            let earlier = *touch;
            touch.version = touch.version.max(version);
            match effect {
                Effect::Store { store, key, prev_version, changed, .. } => {
                    if !changed {
                        continue;
                    }
                    if *prev_version < earlier.version {
                        behind += 1;
                        continue;
                    }
                    // A duplicate that read the later write and built on it (a read-modify-
                    // write) changed the value again; only one that did not reverted it.
                    let built_on = story
                        .read
                        .get(&(*inv, *store, *key))
                        .is_some_and(|seen| seen >= prev_version);
                    let foreign = (*prev_version > earlier.version && !built_on)
                        .then(|| story.versions.get(prev_version))
                        .flatten()
                        .filter(|(w, _)| {
                            !groups.attributions(&story, *w).iter().any(|(wg, _)| *wg == g)
                        });
                    judge.write(g, member, *t, effect, earlier, foreign.copied());
                }
                Effect::Cache { cache, key, changed } => {
                    if !changed {
                        continue;
                    }
                    let foreign = cache_writer
                        .get(&(*cache, *key))
                        .filter(|w| {
                            !groups.attributions(&story, **w).iter().any(|(wg, _)| *wg == g)
                        })
                        .map(|w| (*w, story.invs.get(w).map_or(SimTime::ZERO, |i| i.t)));
                    judge.write(g, member, *t, effect, earlier, foreign);
                }
                Effect::Publish { .. } | Effect::Call { .. } => {
                    judge.write(g, member, *t, effect, earlier, None);
                }
            }
        }
        if let Effect::Cache { cache, key, .. } = *effect {
            cache_writer.insert((cache, key), *inv);
        }
    }
    if behind > 0 {
        notes.push(format!(
            "{behind} duplicate write(s) landed on a store replica that had not yet received the \
             first delivery's write: not judged (the trace cannot tell whether the values differ)"
        ));
    }
    let Judge { mut findings, subjects, first, .. } = judge;
    if findings.len() > FINDINGS_MAX {
        let more = findings.len() - FINDINGS_MAX;
        findings.truncate(FINDINGS_MAX);
        findings.push(format!("… and {more} more duplicate effect(s)"));
    }
    if findings.is_empty() {
        notes.push("no duplicate changed a store or cache value, published or called a non-idempotent endpoint again".into());
    }
    let v = Verdict::new(ID, findings, notes);
    if v.passed() { v } else { v.about(subjects).at_opt(first) }
}

impl Judge<'_, '_> {
    /// A publish or a call to a non-idempotent endpoint in a finding's words, its channel or
    /// callee a subject; `again` (" again" or "") says whether it repeats an earlier one.
    fn sent(&mut self, effect: &Effect<'_>, t: SimTime, again: &str) -> String {
        match *effect {
            Effect::Publish { channel, msg } => {
                self.subjects.push(channel.to_owned());
                format!("published{again} on channel `{channel}` (message {msg}) at {}", secs(t))
            }
            Effect::Call { call, service, endpoint } => {
                self.subjects.push(service.to_owned());
                let again = if again.is_empty() { String::new() } else { format!(",{again}") };
                format!(
                    "called `{service}.{endpoint}`, which is not declared idempotent{again} (call \
                     {call}) at {}",
                    secs(t)
                )
            }
            Effect::Store { .. } | Effect::Cache { .. } => String::new(),
        }
    }

    /// A member of group `g` made `effect` on a target the delivery `done`, which had
    /// completed before it started, never touched.
    fn beyond(&mut self, g: usize, member: u64, t: SimTime, effect: &Effect<'_>, done: u64) {
        let (identity, members) = &self.groups.groups[g];
        let (first, dup, other) =
            (&self.story.invs[&members[0]], &self.story.invs[&member], &self.story.invs[&done]);
        let what = match *effect {
            Effect::Store { store, key, .. } | Effect::Cache { cache: store, key, .. } => {
                self.subjects.extend([store.to_owned(), key.to_owned()]);
                format!("changed store `{store}` key `{key}` at {}", secs(t))
            }
            Effect::Publish { .. } | Effect::Call { .. } => self.sent(effect, t, ""),
        };
        self.findings.push(format!(
            "`{}.{}` ({}; {} invocation {member} started at {}, after invocation {done} started at \
             {} had answered `ok` at {}) {what}, which that delivery had not done",
            dup.service,
            dup.endpoint,
            identity.describe(self.s),
            DupKind::of(first, dup).name(),
            secs(dup.t),
            secs(other.t),
            secs(self.story.done[&done]),
        ));
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.subjects.push(dup.service.to_owned());
        self.subjects.extend([Link::Inv(done), Link::Inv(member)].map(|l| l.to_string()));
    }
}

/// Collects findings, naming the endpoint, the request, the first delivery and the duplicate.
struct Judge<'a, 'b> {
    s: &'a Scenario,
    story: &'a Story<'b>,
    groups: &'a Groups<'b>,
    findings: Vec<String>,
    subjects: Vec<String>,
    /// The earliest repeated effect: when the violation shows.
    first: Option<SimTime>,
}

fn secs(t: SimTime) -> String {
    format!("{:.6} s", t.as_secs_f64())
}

impl Judge<'_, '_> {
    /// A member of group `g` repeated `effect` (first made by `earlier.member`); `foreign` is the
    /// outside writer (and its time) of the value it overwrote, if one came in between.
    fn write(
        &mut self,
        g: usize,
        member: u64,
        t: SimTime,
        effect: &Effect<'_>,
        earlier: Touch,
        foreign: Option<(u64, SimTime)>,
    ) {
        let (identity, members) = &self.groups.groups[g];
        let first = &self.story.invs[&members[0]];
        let dup = &self.story.invs[&member];
        // How the two deliveries came about (for the first delivery acting after its
        // duplicate, that duplicate's kind).
        let kind = if member == members[0] {
            DupKind::of(first, &self.story.invs[&earlier.member])
        } else {
            DupKind::of(first, dup)
        };
        let who = if member == members[0] {
            // The first delivery acting after a duplicate touched the target first (they ran
            // concurrently): still one delivery too many.
            let other = &self.story.invs[&earlier.member];
            format!(
                "`{}.{}` ({}; first delivery invocation {member} started at {}, after its {} \
                 invocation {} started at {} had acted)",
                dup.service,
                dup.endpoint,
                identity.describe(self.s),
                secs(first.t),
                DupKind::of(first, other).name(),
                earlier.member,
                secs(other.t),
            )
        } else {
            format!(
                "`{}.{}` ({}; first delivery invocation {} started at {}, {} invocation {member} \
                 started at {})",
                dup.service,
                dup.endpoint,
                identity.describe(self.s),
                members[0],
                secs(first.t),
                DupKind::of(first, dup).name(),
                secs(dup.t),
            )
        };
        let before = format!("invocation {} did so at {}", earlier.member, secs(earlier.t));
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.subjects.push(dup.service.to_owned());
        // The chain a replay follows: both deliveries (and through them what delivered them).
        self.subjects.extend(
            [Link::Inv(members[0]), Link::Inv(earlier.member), Link::Inv(member)]
                .map(|l| l.to_string()),
        );
        let what = match *effect {
            Effect::Store { store, key, .. } | Effect::Cache { cache: store, key, .. } => {
                self.subjects.push(store.to_owned());
                self.subjects.push(key.to_owned());
                let noun = if matches!(effect, Effect::Store { .. }) { "store" } else { "cache" };
                if let Some((w, wt)) = foreign {
                    let writer = self.story.invs.get(&w).map_or("?", |i| i.service);
                    self.findings.push(format!(
                        "stale {} reverted a later write: {who} overwrote {noun} `{store}` \
                         key `{key}` at {}, which `{writer}` (invocation {w}) had written at {} \
                         after the request's own write ({before})",
                        kind.name(),
                        secs(t),
                        secs(wt),
                    ));
                    return;
                }
                format!("changed {noun} `{store}` key `{key}` again at {}", secs(t))
            }
            Effect::Publish { .. } | Effect::Call { .. } => self.sent(effect, t, " again"),
        };
        self.findings.push(format!("{who} {what} ({before})"));
    }
}

#[cfg(test)]
mod tests;
