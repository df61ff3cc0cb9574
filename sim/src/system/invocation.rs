//! Invocations: a replica runs a request's handler — the service's WebAssembly module through
//! the [`ServiceHost`](crate::runtime::ServiceHost), or an abstract service's declared service
//! time — slice by slice. The fuel a slice burns becomes virtual CPU time; when that has
//! elapsed, the engine acts on how the slice ended: done, failed, or suspended on a host
//! operation whose reply resumes it.

use std::borrow::Cow;
use std::collections::VecDeque;

use fusebench_model::contract::application_error;
use fusebench_model::scenario::TimeResource;

use super::Sim;
use super::event::Event;
use super::ids::{Counter, InvId, ReplicaIdx, ReqId, ServiceId, VersionIdx};
use super::idtable::IdTable;
use super::payload::Payload;
use super::requests::{Origin, Requests, Stage};
use super::world::World;
use crate::dist::sample_nanos;
use crate::metrics::Outcome;
use crate::runtime::{
    HostContext, HostOp, HostReply, InstanceMemory, InstanceReuse, InvocationId, InvocationReport,
    LogLine, Slice, SliceOutcome,
};
use crate::time::SimTime;
use crate::trace::{Trace, TraceEvent};

/// What an invocation does while its CPU time elapses.
#[derive(Debug)]
pub(crate) enum Work {
    /// An abstract service: its declared service time, then `{}`.
    Abstract,
    /// A guest slice: how it ended, and the memory its instance held then.
    Guest(SliceOutcome, InstanceMemory),
}

#[derive(Debug)]
pub(crate) enum InvState {
    /// A slice's CPU time is elapsing; a `SliceDone` event follows.
    Computing(Work),
    /// Suspended on a host operation; its reply resumes it.
    Waiting,
}

#[derive(Debug)]
pub(crate) struct Invocation {
    pub(crate) req: ReqId,
    pub(crate) service: ServiceId,
    pub(crate) replica: ReplicaIdx,
    /// The module version it runs: its replica's when it started (an in-place rollout lets
    /// it finish on that one).
    pub(crate) version: VersionIdx,
    pub(crate) runtime: Option<InvocationId>,
    pub(crate) state: InvState,
    pub(crate) fuel: u64,
    /// Time the current slice waits (not on the CPU) once its CPU demand is met: a declared
    /// service time marked `resource = "wait"`.
    wait: u64,
    /// An abstract invocation's declared effects still to perform (`effects.rs`).
    pub(crate) script: VecDeque<HostOp>,
}

/// What [`Sim::finish_invocation`] needs of an invocation once it is over.
struct Ended {
    req: ReqId,
    service: ServiceId,
    replica: ReplicaIdx,
    version: VersionIdx,
    fuel: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Invocations {
    table: IdTable<InvId, Invocation>,
    ids: Counter,
}

impl Invocations {
    pub(crate) fn get(&self, id: InvId) -> Option<&Invocation> {
        self.table.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: InvId) -> Option<&mut Invocation> {
        self.table.get_mut(&id)
    }

    /// Removes an invocation known to be live.
    pub(crate) fn remove(&mut self, id: InvId) -> Invocation {
        self.table.remove(&id).unwrap_or_else(|| panic!("invocation {id} is not running"))
    }

    /// Ends an invocation known to be live: what its end needs of it, the record itself
    /// dropped in its slot. [`Invocations::remove`] moved the whole record (its slice's outcome
    /// included) out of the slot and again out of the `(id, record)` pair, two `memcpy` calls
    /// per invocation, for five fields (benches/README.md, "Ninth round").
    fn end(&mut self, id: InvId) -> Ended {
        let inv = self.table.get(&id).unwrap_or_else(|| panic!("invocation {id} is not running"));
        let ended = Ended {
            req: inv.req,
            service: inv.service,
            replica: inv.replica,
            version: inv.version,
            fuel: inv.fuel,
        };
        self.table.discard(&id);
        ended
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&InvId, &Invocation)> {
        self.table.iter()
    }
}

/// A request body as it appears in a `guest_fault` line: [`crate::trace::bytes_text`], cut to
/// 256 bytes. A character the cut splits reads as one U+FFFD before the `…` (as the lossy
/// text always wrote it): neither a literal U+FFFD (doubled) nor an invalid byte (followed by
/// hex digits) reads so.
fn input_text(body: &[u8]) -> String {
    const SHOWN: usize = 256;
    if body.len() <= SHOWN {
        return crate::trace::bytes_text(body).into_owned();
    }
    // Where the last character before the cut starts, if it is a valid one the cut splits.
    let last = (SHOWN - 3..SHOWN).rev().find(|&at| body[at] & 0xc0 != 0x80);
    let split = last.filter(|&at| {
        let first = body[at..].utf8_chunks().next().and_then(|c| c.valid().chars().next());
        first.is_some_and(|c| c.len_utf8() > SHOWN - at)
    });
    let mut s = crate::trace::bytes_text(&body[..split.unwrap_or(SHOWN)]).into_owned();
    if split.is_some() {
        s.push('\u{FFFD}');
    }
    s.push('…');
    s
}

/// Traces the lines a guest logged during a slice.
pub(super) fn emit_logs(trace: &mut Trace, now: SimTime, logs: &[LogLine]) {
    for l in logs {
        let level = format!("{:?}", l.level).to_lowercase();
        trace.emit(
            now,
            &TraceEvent::Log { service: &l.service, level: &level, message: &l.message },
        );
    }
}

/// Takes a slice's step and fuel into `inv` (and the run's guest fuel); returns its CPU time.
fn absorb(world: &World, guest_fuel: &mut u64, inv: &mut Invocation, slice: Slice) -> u64 {
    inv.runtime = Some(slice.invocation);
    inv.fuel += slice.fuel_used;
    *guest_fuel += slice.fuel_used;
    let ns_per_fuel = world.service(inv.service).ns_per_fuel;
    inv.state = InvState::Computing(Work::Guest(slice.outcome, slice.memory));
    (slice.fuel_used as f64 * ns_per_fuel).round() as u64
}

fn report_of(step: &SliceOutcome) -> Option<&InvocationReport> {
    match step {
        SliceOutcome::Done(r) => Some(&r.report),
        SliceOutcome::Failed(f) => Some(&f.report),
        SliceOutcome::Pending(_) => None,
    }
}

/// What delivered a request, as traced with the invocation serving it.
struct Cause<'a> {
    cause: &'static str,
    source: u64,
    group: &'a str,
    attempt: u32,
    copy: u32,
    idem_key: String,
}

/// The JSON text of field `field` of a JSON object body; empty when absent or not JSON.
///
/// The same text as parsing the whole body into a `serde_json::Value` and printing
/// `value.get(field)`, without building the rest of the body: the other fields are read
/// through `deserialize_any` (so numbers, strings, escapes and nesting are checked exactly as
/// a `Value` would, and a body it would refuse is refused) but not kept. A body that is not
/// UTF-8 is refused first, as a `Value` refuses it (a byte ≥ 0x80 is a syntax error outside a
/// string and invalid UTF-8 inside one).
fn key_value(body: &[u8], field: &str) -> String {
    use serde::de::DeserializeSeed;
    let Ok(text) = std::str::from_utf8(body) else { return String::new() };
    let mut de = serde_json::Deserializer::from_str(text);
    match json_field::Field(field).deserialize(&mut de) {
        Ok(Some(text)) if de.end().is_ok() => text,
        _ => String::new(),
    }
}

/// One field of a JSON object, read without keeping the others ([`key_value`]).
mod json_field {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    /// Reads a JSON value and gives field `.0` of it as [`Text`]: `None` when it is not an
    /// object or has no such field; the last one when the field repeats (as a `Value`'s map
    /// keeps it).
    pub(super) struct Field<'f>(pub(super) &'f str);

    impl<'de> DeserializeSeed<'de> for Field<'_> {
        type Value = Option<String>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Field<'_> {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(wanted) = map.next_key_seed(IsKey(self.0))? {
                if wanted {
                    found = Some(map.next_value_seed(Text)?);
                } else {
                    map.next_value::<Skip>()?;
                }
            }
            Ok(found)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Skip.visit_seq(seq).map(|Skip| None)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    /// A JSON value as a `serde_json::Value` of it prints (`Display`: compact JSON). A string,
    /// number, boolean or null — an idempotency key is a string — is printed by the serializer
    /// calls the `Value` would make (`serialize_str`, `serialize_i64`/`u64`/`f64`, …), without
    /// building the `Value` and going through `fmt` (≈ 1,000 instructions per invocation with a
    /// key; benches/README.md, "The shop's time around the guests, sixth round"). An object or
    /// array is read into a `Value` and printed, as before.
    struct Text;

    impl<'de> DeserializeSeed<'de> for Text {
        type Value = String;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_any(self)
        }
    }

    fn printed<T: serde::Serialize + ?Sized, E: de::Error>(value: &T) -> Result<String, E> {
        serde_json::to_string(value).map_err(E::custom)
    }

    impl<'de> Visitor<'de> for Text {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
            let value: serde_json::Value =
                de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Ok(value.to_string())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<String, A::Error> {
            let value: serde_json::Value =
                de::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
            Ok(value.to_string())
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            printed(&v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            printed(&v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            printed(&v)
        }

        /// A `Value` keeps a finite `f64` as a number and prints it with `serialize_f64`; it
        /// would hold a non-finite one as `null`, which `serialize_f64` prints too.
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            printed(&v)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            printed(v)
        }

        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok("null".to_owned())
        }
    }

    /// Reads an object key and tells whether it is the wanted one.
    struct IsKey<'f>(&'f str);

    impl<'de> DeserializeSeed<'de> for IsKey<'_> {
        type Value = bool;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for IsKey<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
            Ok(key == self.0)
        }
    }

    /// Any JSON value, read as a `Value` would read it (`deserialize_any`) and dropped.
    struct Skip;

    impl<'de> de::Deserialize<'de> for Skip {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Skip)
        }
    }

    impl<'de> Visitor<'de> for Skip {
        type Value = Skip;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
            while map.next_entry::<Skip, Skip>()?.is_some() {}
            Ok(Skip)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
            while seq.next_element::<Skip>()?.is_some() {}
            Ok(Skip)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
            Ok(Skip)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
            Ok(Skip)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
            Ok(Skip)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
            Ok(Skip)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
            Ok(Skip)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
            Ok(Skip)
        }
    }
}

/// What delivered `req`: the client request, call attempt or message delivery (and which copy
/// of it), and its idempotency key's value.
fn cause_of<'a>(world: &'a World, requests: &Requests, req: ReqId) -> Cause<'a> {
    let r = requests.live(req);
    let (cause, source, group, attempt) = match &r.origin {
        Origin::Client { .. } => ("client", req.0, "", 0),
        Origin::Call { call, attempt } => ("call", call.0, "", *attempt),
        Origin::Message { msg, group, attempt } => {
            ("message", msg.0, world.group(*group).name.as_str(), *attempt)
        }
    };
    let endpoint = world.service(r.service).endpoint(r.endpoint);
    let idem_key =
        endpoint.idempotency_key.as_deref().map_or_else(String::new, |k| key_value(&r.body, k));
    Cause { cause, source, group, attempt, copy: r.copy, idem_key }
}

impl Sim {
    /// Starts serving `req` in a free slot of `service`'s `replica`.
    pub(crate) fn start_invocation(&mut self, req: ReqId, service: ServiceId, replica: ReplicaIdx) {
        let id = InvId(self.invocations.ids.next());
        let now = self.q.now();
        self.requests.set_stage(req, Stage::Running(id));
        self.services[service.index()].replicas[replica as usize].running.push(id);
        let mut inv = Invocation {
            req,
            service,
            replica,
            version: self.services[service.index()].version_of(replica),
            runtime: None,
            state: InvState::Computing(Work::Abstract),
            fuel: 0,
            wait: 0,
            script: VecDeque::new(),
        };
        let spec = self.world.service(service);
        let state = &mut self.services[service.index()];
        let declared = spec.distribution.map_or(0, |d| sample_nanos(&d, &mut state.rng));
        let mut cpu = match spec.time_resource {
            TimeResource::Cpu => declared,
            TimeResource::Wait => {
                inv.wait = declared;
                0
            }
        };
        self.rec.service(service).invocations += 1;
        let r = self.requests.live(req);
        let endpoint = &spec.endpoint(r.endpoint).name;
        if spec.has_module {
            let mut logs: Vec<LogLine> = Vec::new();
            let result = {
                let (runtime, rng) = state.runtime_and_rng(replica);
                let mut ctx = HostContext { now_nanos: now.nanos(), random: rng, log: &mut logs };
                self.host.start_in(runtime, replica, endpoint, &r.body, &mut ctx)
            };
            emit_logs(&mut self.trace, now, &logs);
            match result {
                Ok(slice) => {
                    let info =
                        slice.instance.or_else(|| report_of(&slice.outcome).map(|r| r.instance));
                    let (instance, fresh) =
                        info.map_or((0, false), |i| (i.id.0, i.reuse == InstanceReuse::Fresh));
                    // Counted as it starts, as the trace says it: a cold start is paid even
                    // by an invocation a crash or the run's end cuts short.
                    if fresh {
                        self.rec.service(service).fresh_instances += 1;
                    }
                    let c = cause_of(&self.world, &self.requests, req);
                    self.trace.emit(
                        now,
                        &TraceEvent::InvocationStart {
                            inv: id.0,
                            req: req.0,
                            service: &spec.name,
                            endpoint,
                            replica,
                            instance,
                            fresh,
                            cause: c.cause,
                            source: c.source,
                            group: c.group,
                            attempt: c.attempt,
                            copy: c.copy,
                            idem_key: &c.idem_key,
                            input: &r.body.text(),
                        },
                    );
                    cpu += absorb(&self.world, &mut self.guest_fuel, &mut inv, slice);
                }
                Err(e) => {
                    // The engine only invokes declared endpoints of loaded services; an error
                    // here means the host and scenario disagree — answer, and say why.
                    let cause = e.to_string();
                    self.trace.emit(
                        now,
                        &TraceEvent::GuestFault {
                            inv: id.0,
                            service: &spec.name,
                            cause: &cause,
                            input: &input_text(&r.body),
                        },
                    );
                    self.invocations.table.insert(id, inv);
                    self.finish_invocation(id, Outcome::GuestFault, Vec::new());
                    return;
                }
            }
        } else {
            let c = cause_of(&self.world, &self.requests, req);
            self.trace.emit(
                now,
                &TraceEvent::InvocationStart {
                    inv: id.0,
                    req: req.0,
                    service: &spec.name,
                    endpoint,
                    replica,
                    instance: 0,
                    fresh: false,
                    cause: c.cause,
                    source: c.source,
                    group: c.group,
                    attempt: c.attempt,
                    copy: c.copy,
                    idem_key: &c.idem_key,
                    input: &r.body.text(),
                },
            );
        }
        let ep = self.requests.live(req).endpoint;
        if !self.world.service(service).has_module
            && !self.world.service(service).endpoint(ep).effects.is_empty()
        {
            let body = self.requests.live(req).body.clone();
            inv.script = self.effects_of(service, ep, &body, id);
        }
        self.rec.service(service).busy_nanos += cpu;
        self.invocations.table.insert(id, inv);
        self.compute(id, cpu);
    }

    /// The slice of `id` needs `cpu` nanoseconds of its node's CPU, then its wait.
    fn compute(&mut self, id: InvId, cpu: u64) {
        let inv = &self.invocations.table[&id];
        if cpu == 0 {
            self.q.after(inv.wait, Event::SliceDone(id));
        } else {
            let node = self.world.service(inv.service).node;
            self.cpu_start(node, id, cpu);
        }
    }

    /// Per service: the CPU nanoseconds its computing slices have still to receive.
    pub(crate) fn cpu_owed_by_service(&self) -> Vec<u64> {
        let mut owed = vec![0; self.world.services.len()];
        for (inv, nanos) in self.cpu_owed() {
            if let Some(inv) = self.invocations.table.get(&inv) {
                owed[inv.service.index()] += nanos;
            }
        }
        owed
    }

    /// The node's CPU has given the slice of `id` its demand: it is done after its wait.
    pub(crate) fn slice_computed(&mut self, id: InvId) {
        let wait = self.invocations.table.get(&id).expect("a computing invocation is live").wait;
        if wait == 0 {
            self.on_slice_done(id);
        } else {
            self.q.after(wait, Event::SliceDone(id));
        }
    }

    pub(crate) fn on_slice_done(&mut self, id: InvId) {
        let Some(inv) = self.invocations.table.get_mut(&id) else {
            return; // its replica crashed while the slice ran
        };
        if let InvState::Computing(Work::Abstract) = inv.state {
            // As below, without moving the state (sized for a guest's slice) out to match it.
            inv.state = InvState::Waiting;
            self.abstract_step(id);
            return;
        }
        let InvState::Computing(work) = std::mem::replace(&mut inv.state, InvState::Waiting) else {
            unreachable!("a slice ended for {id}, which was not computing")
        };
        let service = inv.service;
        let now = self.q.now();
        if let Work::Guest(outcome, memory) = &work
            && self.out_of_memory(id, outcome, *memory)
        {
            return;
        }
        match work {
            Work::Abstract => self.abstract_step(id),
            Work::Guest(SliceOutcome::Done(resp), _) => {
                self.trace_sandbox(id, service, &resp.report);
                let outcome = self.judge_response(id, &resp.json);
                self.finish_invocation(id, outcome, resp.body);
            }
            Work::Guest(SliceOutcome::Failed(fault), _) => {
                self.trace_sandbox(id, service, &fault.report);
                let cause = fault.to_string();
                let name = &self.world.service(service).name;
                let req = self.invocations.table[&id].req;
                let input = input_text(&self.requests.live(req).body);
                self.trace.emit(
                    now,
                    &TraceEvent::GuestFault {
                        inv: id.0,
                        service: name,
                        cause: &cause,
                        input: &input,
                    },
                );
                let kind = cause.split(':').next().unwrap_or("fault").to_owned();
                *self.rec.service(service).guest_faults.entry(kind).or_default() += 1;
                self.finish_invocation(id, Outcome::GuestFault, Vec::new());
            }
            Work::Guest(SliceOutcome::Pending(op), _) => {
                self.trace_op(id, &op);
                self.perform(id, op);
            }
        }
    }

    /// Charges the memory the slice's instance holds to its node (`memory.rs`); when its growth
    /// took the node past capacity, kills it like an OOM kill: the invocation fails, the
    /// instance is dropped (a suspended one abandoned, a pooled one taken out of the pool).
    /// Returns whether it was killed.
    fn out_of_memory(&mut self, id: InvId, outcome: &SliceOutcome, m: InstanceMemory) -> bool {
        let inv = &self.invocations.table[&id];
        let (service, replica, rt, version) = (inv.service, inv.replica, inv.runtime, inv.version);
        let spec = self.world.service(service);
        let node = spec.node;
        let Some(kill) = self.memory.settle(node, service, replica, m) else { return false };
        let now = self.q.now();
        self.trace.emit(
            now,
            &TraceEvent::OomKilled {
                inv: id.0,
                service: &spec.name,
                replica,
                node: self.world.node_name(node),
                bytes: kill.bytes,
                others: kill.others,
                capacity: kill.capacity,
            },
        );
        let runtime = self.services[service.index()].runtime(version);
        match outcome {
            SliceOutcome::Pending(_) => {
                if let Some(rt) = rt {
                    self.host.abandon(rt);
                }
            }
            SliceOutcome::Done(_) if m.kept => {
                self.host.discard_idle(runtime, replica, m.instance);
            }
            _ => {}
        }
        self.rec.service(service).oom_kills += 1;
        self.finish_invocation(id, Outcome::OomKilled, Vec::new());
        true
    }

    /// Traces a host operation `id` performs.
    pub(crate) fn trace_op(&mut self, id: InvId, op: &HostOp) {
        let target = match op {
            HostOp::KvGet { store, .. }
            | HostOp::KvGetVersioned { store, .. }
            | HostOp::KvPut { store, .. }
            | HostOp::KvDelete { store, .. }
            | HostOp::KvCas { store, .. }
            | HostOp::KvScan { store, .. } => Cow::Borrowed(store.as_str()),
            HostOp::CacheGet { cache, .. }
            | HostOp::CachePut { cache, .. }
            | HostOp::CacheDelete { cache, .. } => Cow::Borrowed(cache.as_str()),
            HostOp::Publish { channel, .. } => Cow::Borrowed(channel.as_str()),
            HostOp::Call { service, endpoint, .. }
            | HostOp::CallTimeout { service, endpoint, .. } => {
                Cow::Owned(format!("{service}.{endpoint}"))
            }
        };
        // A call with its own timeout is traced as the call it is: readers of `host_op`
        // (coupling, replay) count calls by that name. Its `call_failed` lines tell the timeout.
        let name = match op {
            HostOp::CallTimeout { .. } => "call",
            other => other.import(),
        };
        let now = self.q.now();
        self.trace.emit(now, &TraceEvent::HostOp { inv: id.0, op: name, target: &target });
    }

    /// Traces what the sandbox refused or absorbed during a finished invocation (faulted or
    /// not): refused host calls, and every limit the guest hit while it went on.
    fn trace_sandbox(&mut self, id: InvId, service: ServiceId, report: &InvocationReport) {
        let now = self.q.now();
        let name = &self.world.service(service).name;
        for r in &report.refusals {
            let target = format!("{name}:{}", r.target);
            self.trace.emit(
                now,
                &TraceEvent::Refused {
                    inv: id.0,
                    import: r.import,
                    target: &target,
                    code: r.code.code(),
                },
            );
            self.rec.service(service).refusals += 1;
        }
        let l = &report.limits;
        let hits = [
            ("log-line-bytes", l.log_lines_cut),
            ("log-lines-per-invocation", report.log_lines_dropped),
            ("log-budget", l.log_lines_over_budget),
            ("memory", l.grows_refused),
        ];
        for (limit, count) in hits.into_iter().filter(|(_, n)| *n > 0) {
            let count = u64::from(count);
            self.trace.emit(now, &TraceEvent::LimitHit { inv: id.0, service: name, limit, count });
        }
    }

    /// Checks a finished handler's response against the endpoint's contract — for a version a
    /// rollout brought, the contract the rollout states for it where it states one.
    fn judge_response(&self, id: InvId, json: &serde_json::Value) -> Outcome {
        let inv = &self.invocations.table[&id];
        let endpoint = self.requests.live(inv.req).endpoint;
        let service = self.world.service(inv.service);
        let spec = service.endpoint(endpoint);
        if let Some(code) = application_error(json) {
            let expected = spec.expected_errors.iter().any(|e| e == code);
            return if expected { Outcome::ExpectedError } else { Outcome::AppError };
        }
        let stated = service
            .rollout
            .filter(|&i| inv.version != VersionIdx(0) && self.rollouts[i].version == inv.version)
            .and_then(|i| {
                let changed = &self.world.rollouts[i].responses;
                changed.iter().find(|(e, _)| *e == endpoint).map(|(_, shape)| shape)
            });
        let shape = stated.unwrap_or(&spec.response);
        if shape.check(json).is_empty() { Outcome::Ok } else { Outcome::ContractViolation }
    }

    /// Performs a host operation; the guest is resumed when its reply is ready.
    pub(crate) fn perform(&mut self, id: InvId, op: HostOp) {
        match op {
            HostOp::Call { service, endpoint, request } => {
                self.start_call(id, &service, &endpoint, request, None);
            }
            HostOp::CallTimeout { service, endpoint, request, timeout_ms } => {
                let timeout = u64::from(timeout_ms) * 1_000_000;
                self.start_call(id, &service, &endpoint, request, Some(timeout));
            }
            HostOp::Publish { channel, message } => self.publish(id, &channel, message),
            other => self.store_op(id, other),
        }
    }

    /// Resumes a suspended invocation with the reply to its host operation.
    ///
    /// The record stays in its slot: taking it out and putting it back moved it twice per
    /// resume (256 bytes each way, benches/README.md, "The shop's time around the guests,
    /// sixth round").
    pub(crate) fn resume(&mut self, id: InvId, reply: HostReply) {
        let Some(inv) = self.invocations.table.get(&id) else {
            return; // its replica crashed while it waited: nobody to resume
        };
        assert!(matches!(inv.state, InvState::Waiting), "{id} resumed while not waiting");
        let service = inv.service;
        let Some(runtime) = inv.runtime else {
            // An abstract service's effect was answered; it does not look at the reply.
            self.abstract_step(id);
            return;
        };
        let now = self.q.now();
        let mut logs: Vec<LogLine> = Vec::new();
        let result = {
            let random = &mut self.services[service.index()].rng;
            let mut ctx = HostContext { now_nanos: now.nanos(), random, log: &mut logs };
            self.host.resume(runtime, reply, &mut ctx)
        };
        emit_logs(&mut self.trace, now, &logs);
        match result {
            Ok(slice) => {
                let inv =
                    self.invocations.table.get_mut(&id).expect("a resumed invocation is live");
                let cpu = absorb(&self.world, &mut self.guest_fuel, inv, slice);
                inv.wait = 0;
                self.rec.service(service).busy_nanos += cpu;
                self.compute(id, cpu);
            }
            Err(e) => {
                let cause = e.to_string();
                self.trace.emit(
                    now,
                    &TraceEvent::GuestFault {
                        inv: id.0,
                        service: &self.world.service(service).name,
                        cause: &cause,
                        input: "",
                    },
                );
                self.finish_invocation(id, Outcome::GuestFault, Vec::new());
            }
        }
    }

    /// An invocation is over: free its slot, answer, start the next queued request.
    pub(crate) fn finish_invocation(
        &mut self,
        id: InvId,
        outcome: Outcome,
        body: impl Into<Payload>,
    ) {
        let body = body.into();
        let inv = self.invocations.end(id);
        let now = self.q.now();
        self.trace.emit(
            now,
            &TraceEvent::InvocationEnd {
                inv: id.0,
                fuel: inv.fuel,
                outcome: outcome.name(),
                output: &body.text(),
            },
        );
        let spec = self.world.service(inv.service);
        if spec.has_module {
            self.rec.record_fuel(inv.service, inv.fuel);
        }
        let arrived = self.requests.live(inv.req).arrived;
        let stats = self.rec.service(inv.service);
        stats.occupancy_change(now.nanos(), -1);
        stats.completed += 1;
        stats.sojourn_nanos += u128::from(now - arrived);
        let running =
            &mut self.services[inv.service.index()].replicas[inv.replica as usize].running;
        let at =
            running.iter().position(|r| *r == id).expect("a running invocation is in its slot");
        running.remove(at);
        self.drop_superseded(inv.service, inv.replica, inv.version);
        self.respond(inv.req, inv.service, outcome, body);
        self.start_next(inv.service, inv.replica);
    }
}

#[cfg(test)]
mod tests {
    use super::{input_text, key_value};

    /// A body of valid UTF-8 without U+FFFD reads as the lossy text did, a character split by
    /// the cut included; invalid bytes are escaped as `trace::bytes_text` escapes them.
    #[test]
    fn a_fault_input_is_cut_as_before_and_escapes_invalid_bytes() {
        let old = |b: &[u8]| {
            let mut s = String::from_utf8_lossy(&b[..b.len().min(256)]).into_owned();
            if b.len() > 256 {
                s.push('…');
            }
            s
        };
        for pad in 250..=258 {
            for ch in ["a", "é", "€", "😀"] {
                let body = format!("{}{}", "x".repeat(pad), ch.repeat(4));
                assert_eq!(input_text(body.as_bytes()), old(body.as_bytes()), "{pad} {ch}");
            }
        }
        assert_eq!(input_text(b"tok/\x80"), "tok/\u{FFFD}80");
        let mut body = vec![b'x'; 255];
        body.extend_from_slice(b"\x80\x81");
        assert_eq!(input_text(&body), format!("{}\u{FFFD}80…", "x".repeat(255)));
    }

    /// What `key_value` gave when it parsed the whole body into a `Value`.
    fn whole_value(body: &[u8], field: &str) -> String {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get(field).map(serde_json::Value::to_string))
            .unwrap_or_default()
    }

    #[test]
    fn an_idempotency_key_reads_as_from_the_whole_parsed_body() {
        let bodies: &[&[u8]] = &[
            br#"{"id":"a-1","amount":3}"#,
            br#"{"amount":3,"id":{"b":[1,2.5,null],"a":true}}"#,
            br#"{"id":1,"id":2}"#,
            br#"{"i\u0064":"escaped key"}"#,
            br#"{"x":"caf\u00e9","id":"\ud83d\ude00"}"#,
            br#"{"id":"a","huge":1e400}"#,
            br#"{"id":"a","n":-0,"m":12345678901234567890123}"#,
            br#"{"id":"a","s":"\ud800"}"#,
            br#"{"id":"a","bad":"\q"}"#,
            br#"{"id":"a"} trailing"#,
            br#"{"id":"a","x":[[[[]]]]}"#,
            br#"["id","a"]"#,
            br#""id""#,
            br#"42"#,
            b"",
            b"   ",
            b"{\"id\":\"a\",\"x\":\"\xff\"}",
            b"{\"id\":\"a\"}\xff",
            br#"{"id":"a","ctl":"tab	inside"}"#,
            br#"{"id" : [ 1 , {"k" : "v"} ] , "z" : {} }"#,
            br#"{"other":"id"}"#,
            br#"{"id":"a","unterminated":"#,
            // Every form the field's value can take, printed as a `Value` prints it.
            "{\"id\":\"q\\\"b\\\\s\\/c\\u0001\\n\\t\\u007f \u{e9}\u{1f600}\"}".as_bytes(),
            br#"{"id":""}"#,
            br#"{"id":-17}"#,
            br#"{"id":18446744073709551615}"#,
            br#"{"id":-9223372036854775808}"#,
            br#"{"id":18446744073709551616}"#,
            br#"{"id":2.50}"#,
            br#"{"id":-0}"#,
            br#"{"id":-0.0}"#,
            br#"{"id":1e3}"#,
            br#"{"id":1E-7}"#,
            br#"{"id":0.1}"#,
            br#"{"id":true}"#,
            br#"{"id":false}"#,
            br#"{"id":null}"#,
            br#"{"id":[]}"#,
            br#"{"id":{}}"#,
            br#"{"id":["x",{"z":1,"a":[null]}],"after":1}"#,
            br#"{"id":"first","id":7}"#,
            br#"{"id":7,"id":"last"}"#,
        ];
        let deep = format!("{{\"id\":1,\"d\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let mut all: Vec<&[u8]> = bodies.to_vec();
        all.push(deep.as_bytes());
        for body in all {
            assert_eq!(
                key_value(body, "id"),
                whole_value(body, "id"),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
