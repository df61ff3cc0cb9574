//! The trace: every event of a run as one JSON line, and a hash of those bytes.
//!
//! The same scenario and seed give the same trace, byte for byte (checked by tests), so the
//! BLAKE3 hash of the lines identifies a run's behaviour: `b3sum trace.jsonl` gives the hash a
//! report names. (Up to replay format 3 the witness was SHA-256, which is about a third as fast
//! here and was a quarter of an abstract model's run; `explore::replay` still checks those files.)
//!
//! Lines are read back with [`read`] into the very enum they were written from, so a reader
//! matches on variants: renaming a kind or field changes every reader at compile time instead
//! of silently making a property look at nothing.

use std::borrow::Cow;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::time::SimTime;

/// What the trace keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceMode {
    /// Nothing (benchmarks).
    Off,
    /// Only the running hash.
    Hash,
    /// The hash and every line in memory.
    Full,
}

/// One traced event, written and read back as the same type so a renamed field or kind cannot
/// go unnoticed by a reader.
///
/// Generic over its strings: the simulator writes `TraceEvent<&str>` (borrowing its own names,
/// no copies on the hot path) and readers get `TraceEvent<String>` (the default) back from
/// [`read`]. Field names and order are the trace format: the hash of every run depends on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum TraceEvent<S = String> {
    RunStart {
        system: S,
        seed: u64,
    },
    Registered {
        service: S,
        replica: u32,
    },
    Deregistered {
        service: S,
        replica: u32,
        reason: S,
    },
    Arrival {
        req: u64,
        service: S,
        endpoint: S,
        /// The request body ([`bytes_text`]): what user-stated properties read fields of.
        body: S,
    },
    Dropped {
        what: S,
        id: u64,
        from: S,
        to: S,
        reason: S,
    },
    Rejected {
        req: u64,
        service: S,
        replica: u32,
        reason: S,
    },
    InvocationStart {
        inv: u64,
        req: u64,
        service: S,
        endpoint: S,
        replica: u32,
        instance: u64,
        fresh: bool,
        /// What delivered the request: `client`, `call` or `message` (idempotence groups
        /// invocations by it).
        cause: S,
        /// The request id (client), call id (call) or message id (message).
        source: u64,
        /// The consumer group of a message; empty otherwise.
        group: S,
        /// The call's attempt (0 first) or the message's delivery attempt (1 first); 0 for a
        /// client request.
        attempt: u32,
        /// 0 for the request as sent; 1 for the second copy a `duplication` fault made of it
        /// (a broker handing a delivery out twice, or a sync request sent twice on the wire).
        copy: u32,
        /// The value of the endpoint's `idempotency_key` field in the body (JSON text); empty
        /// when the endpoint declares none or the body lacks it.
        idem_key: S,
        /// The request body the guest receives ([`bytes_text`]).
        input: S,
    },
    HostOp {
        inv: u64,
        op: S,
        target: S,
    },
    Refused {
        inv: u64,
        import: S,
        target: S,
        code: i32,
    },
    InvocationEnd {
        inv: u64,
        fuel: u64,
        outcome: S,
        /// The answer body ([`bytes_text`]; empty when the invocation produced none).
        output: S,
    },
    GuestFault {
        inv: u64,
        service: S,
        cause: S,
        /// The request that made the guest fault (cut to 256 bytes).
        input: S,
    },
    Log {
        service: S,
        level: S,
        message: S,
    },
    Response {
        req: u64,
        service: S,
        endpoint: S,
        outcome: S,
        latency_ns: u64,
        /// The answer body the client got ([`bytes_text`]; empty on a timeout or refusal).
        body: S,
    },
    CallRetry {
        call: u64,
        attempt: u32,
        reason: S,
    },
    /// Invocation `inv` called `service.endpoint` (the request passed the callee's contract):
    /// the invocations serving it name `call` as their source.
    CallStart {
        call: u64,
        inv: u64,
        service: S,
        endpoint: S,
    },
    StoreWrite {
        store: S,
        replica: u32,
        /// The key ([`bytes_text`]: distinct keys read differently, so a property keying on the
        /// text never merges two); so is every store or cache event's `key`.
        key: S,
        version: u64,
        /// The writing invocation (every write is made by one).
        inv: u64,
        /// The version the accepting replica held for the key before (0 when absent).
        prev_version: u64,
        /// The accepted value differs from the one held.
        changed: bool,
        /// The value written ([`bytes_text`]); `None` for a delete.
        value: Option<S>,
    },
    StoreApply {
        store: S,
        replica: u32,
        key: S,
        version: u64,
        applied: bool,
    },
    /// A cache put applied by invocation `inv`; `changed`: the value differs from the last one
    /// put under the key, fresh, expired, evicted or invalidated alike (refilling the same
    /// value changes nothing a read could see but a miss; a key never put differs).
    CacheWrite {
        inv: u64,
        cache: S,
        key: S,
        changed: bool,
    },
    /// A cache invalidation (`cache_delete`) by invocation `inv`; `existed`: a fresh entry
    /// was removed (a later read of the key misses).
    CacheDelete {
        inv: u64,
        cache: S,
        key: S,
        existed: bool,
    },
    /// The cache, full, evicted `key` (its least recently used entry) to make room for a put
    /// by invocation `inv`: what the report's `evictions` count.
    CacheEvict {
        inv: u64,
        cache: S,
        key: S,
    },
    /// A key-value read decided at `replica` (`version` 0: the key was absent).
    StoreRead {
        inv: u64,
        store: S,
        replica: u32,
        key: S,
        version: u64,
    },
    /// A hit on a cache that declares the store it fronts (`of`): the version replica 0 of
    /// that store holds for the key, and for how long (ns) it has held a newer value than the
    /// one the cache returned (0: the same value, or the cache is ahead of replica 0;
    /// `system/kv.rs` `Sim::standing` says how a cached value is placed).
    CacheRead {
        inv: u64,
        cache: S,
        key: S,
        store_version: u64,
        differs_ns: u64,
    },
    /// What an invocation that read a key works on, when it may be one of several deliveries
    /// of the same work: `msg:<message>/<group>` (a delivery, redelivery or duplicate of a
    /// message to a consumer group) or `call:<call>` (an attempt of a synchronous call). Two
    /// such invocations racing are idempotence's business, not a lost update.
    WorkOf {
        inv: u64,
        work: S,
    },
    /// A key-value write whose success reply reached the invocation (`kv_put`, `kv_delete`,
    /// `kv_cas`): from here on the writer relies on it.
    StoreAcked {
        inv: u64,
        store: S,
        key: S,
        version: u64,
    },
    /// A replicated write a store without anti-entropy gave up on: `replica` never gets it.
    ReplicaMissed {
        store: S,
        replica: u32,
        key: S,
        version: u64,
    },
    Publish {
        channel: S,
        msg: u64,
        /// The publishing invocation.
        inv: u64,
        /// The message body ([`bytes_text`]).
        body: S,
    },
    Deliver {
        channel: S,
        msg: u64,
        group: S,
        attempt: u32,
    },
    Acked {
        channel: S,
        msg: u64,
        group: S,
    },
    FaultStart {
        index: usize,
        kind: S,
    },
    FaultEnd {
        index: usize,
        kind: S,
    },
    ReplicaDown {
        service: S,
        replica: u32,
    },
    ReplicaUp {
        service: S,
        replica: u32,
    },
    /// A caller's outlier detection ejected a replica until `until_ns`.
    Ejected {
        caller: S,
        service: S,
        replica: u32,
        until_ns: u64,
    },
    /// A cache lookup reached the cache: whether it found a live entry (the report's hits and
    /// misses are counted from these).
    CacheLookup {
        inv: u64,
        cache: S,
        hit: bool,
    },
    RunEnd {
        events: u64,
    },
    /// A sandbox limit a guest hit while its invocation went on (the host absorbed it): log
    /// lines cut or dropped, a refused `memory.grow`. `limit` is a stable id (`log-line-bytes`,
    /// `log-lines-per-invocation`, `log-budget`, `memory`), `count` how often in the invocation.
    LimitHit {
        inv: u64,
        service: S,
        limit: S,
        count: u64,
    },
    /// One attempt of a synchronous call failed: `inv` is the calling invocation, `req` the
    /// attempt's request, `target` `service.endpoint`, `reason` `timeout`, the callee's failed
    /// outcome or `no healthy instance`; `gave_up` when no retry follows.
    CallFailed {
        call: u64,
        attempt: u32,
        inv: u64,
        req: u64,
        target: S,
        reason: S,
        gave_up: bool,
    },
    /// A store, cache or broker operation of invocation `inv` on `target` (the store, the cache,
    /// or the broker of a publish) got no answer within
    /// the host's operation timeout (`system/storeops.rs`: its request or its reply was lost,
    /// or the store could not decide it in time): the guest gets `unavailable` (`-3`). Only a
    /// fault or an overload does this, so what the guest does next (an application error, say)
    /// is that fault's, not the module's (`properties/rollout.rs`).
    OpTimeout {
        inv: u64,
        target: S,
    },
    /// Invocation `inv`'s instance grew to `bytes` while the node's other instances held
    /// `others` of its `capacity` bytes: it was killed (an OOM kill, `system/memory.rs`).
    OomKilled {
        inv: u64,
        service: S,
        replica: u32,
        node: S,
        bytes: u64,
        others: u64,
        capacity: u64,
    },
    /// A consumer answered a delivery with a failure: the message stays unacknowledged.
    Nacked {
        channel: S,
        msg: u64,
        group: S,
        attempt: u32,
        outcome: S,
        /// The delivery's request (the one a `rejected` line names when a replica refused it).
        req: u64,
    },
    /// A client started journey instance `id` (ids count from 1 in start order).
    JourneyStart {
        journey: S,
        id: u64,
    },
    /// Journey `id` sent its step `step` (0 first) as client request `req`: the request's
    /// `arrival` and `response` lines belong to the journey.
    JourneyStep {
        id: u64,
        step: u32,
        name: S,
        req: u64,
    },
    /// Journey `id` is over: `outcome` `completed` or `failed`; `step` the step that ended
    /// it (the last one when completed), `steps` how many steps got an answer that let it go
    /// on, `latency_ns` from its start; `reason` why it failed (the answer's outcome, or a
    /// missing field), empty when completed.
    JourneyEnd {
        journey: S,
        id: u64,
        outcome: S,
        step: S,
        steps: u32,
        latency_ns: u64,
        reason: S,
    },
    /// An autoscaler decided (`system/autoscale.rs`): `from` replicas wanted before, `to`
    /// after; `value_milli` the metric per replica × 1000 (`metric` `concurrency`,
    /// `utilisation` in percent, or `queue`), `desired` what the metric alone asks for, and
    /// `reason` what settled `to` (`scale up`, `within tolerance`, `scale-down stabilisation`,
    /// `scale-up rate limit`, `max replicas`…).
    Scale {
        service: S,
        from: u32,
        to: u32,
        metric: S,
        value_milli: u64,
        desired: u32,
        reason: S,
    },
    /// A replica of an autoscaled service changed state: `pending` (no room on its node),
    /// `starting` (placed), `ready` (registered; the initial ones at the start), `draining`
    /// (scaled down: deregistered, finishing its work) or `stopped`.
    ReplicaState {
        service: S,
        replica: u32,
        state: S,
    },
    /// The mesh's sidecars added `latency_ns` to request `req` on its `leg` (`request` or
    /// `response`): the caller's outbound and the callee's inbound sidecar, those in the mesh.
    Sidecar {
        req: u64,
        leg: S,
        latency_ns: u64,
    },
    /// A mesh filter of `caller` (`gateway` or a meshed service) stopped request `req` to
    /// `target` (`service.endpoint`): `filter` `rate-limit` (answered `rate-limited`),
    /// `circuit-breaker` (answered `overflow`), `retry-budget` (the retry after the failed
    /// try `req` was not sent) or `rbac` (the callee's sidecar denied it: answered `denied`).
    MeshRefused {
        caller: S,
        target: S,
        filter: S,
        req: u64,
    },
    /// The activator of a scale-to-zero service (`system/activator.rs`, Knative's activator)
    /// acted on request `req` to `service.endpoint`: `buffered` (no replica ready; it waits),
    /// `released` (sent to a ready replica after waiting `waited_ns`: the latency the cold
    /// start added), `overflow` (the buffer held `activator_capacity` requests: refused) or
    /// `timeout` (it waited `activator_timeout_s`: failed). `buffered` is the buffer's length
    /// after the action.
    Activator {
        req: u64,
        service: S,
        endpoint: S,
        action: S,
        waited_ns: u64,
        buffered: u32,
    },
    /// A replica started with `cold_start = "module"` and pays, before it is ready, fetching
    /// the module to its node, compiling it and instantiating it (each in ns), on top of the
    /// declared `startup_ms`.
    ColdStart {
        service: S,
        replica: u32,
        fetch_ns: u64,
        compile_ns: u64,
        instantiate_ns: u64,
    },
    /// `caller`'s proxy injected a fault into request `req` to `target` (`service.endpoint`;
    /// Envoy's fault filter, `mesh/fault.rs`): `action` `delay` (it leaves `delay_ns` later) or
    /// `abort` (the proxy answers `status` itself; the request never leaves). The unused
    /// number is 0.
    MeshFault {
        caller: S,
        target: S,
        req: u64,
        action: S,
        delay_ns: u64,
        status: u32,
    },
    /// The policy module of `service`'s autoscaler could not decide (it trapped, ran out of
    /// fuel, called the host, or answered something else than `{"desired": n}`): `reason`
    /// says which; this interval's decision is the reactive one.
    PolicyFault {
        service: S,
        reason: S,
    },
    /// A rollout (`[[rollout]]`, `system/rollout.rs`) of `service` took a `step`: `started`
    /// (`version` is the new one; `replica` 0), a replica at position `replica` now runs
    /// `version` — `starting` (a new one placed), `ready`, `swapped` (in place: its next
    /// invocations run it), `restarted` (after a crash, on the version it ran: the same pod) —
    /// or an old one running `version` is `terminating` (left the registry, still serving),
    /// `draining` (takes no new request) or `stopped`; `finished` (as `started`). `desired` is
    /// the desired replica count at that moment (an autoscaled service's moves while it
    /// rolls). Which version each
    /// replica runs at any instant follows from these lines: version skew is read off them.
    Rollout {
        service: S,
        step: S,
        replica: u32,
        version: u32,
        desired: u32,
    },
    /// The gateway sent try `attempt` (0 first) of client request `req` as request `try_req`
    /// (the mesh's retries at the gateway); `after` is why the previous try failed, empty for
    /// the first.
    GatewayTry {
        req: u64,
        attempt: u32,
        try_req: u64,
        after: S,
    },
    /// The mesh's routing to version subsets (`mesh/route.rs`, Istio's VirtualService weights
    /// and header matches, pushed by istiod over xDS): `action` `push` (`proxy` `istiod`
    /// published route configuration `config` for `service`; `detail` its weights), `applied`
    /// (`proxy` — `gateway` or a meshed service — routes by configuration `config` from now
    /// on; `service` and `detail` as the push), `routed` (`proxy` sent request `req` to
    /// `service`'s subset `detail` by weight, under its configuration `config`) or `matched`
    /// (the same, by a header rule) or `retry` (a retry of the proxy's own, kept in the subset
    /// its first try went to, as Envoy retries within the cluster). `req` is 0 for `push` and
    /// `applied`.
    MeshRoute {
        proxy: S,
        service: S,
        action: S,
        config: u32,
        req: u64,
        detail: S,
    },
    /// A WebAssembly filter of `proxy` (`gateway` or a meshed service) did more than let
    /// request `req` through: `action` `modify` (`detail`: what it replaced, `headers`/`body`),
    /// `stop` (`detail`: the status it answered) or `fault` (`detail`: why).
    MeshFilter {
        proxy: S,
        filter: S,
        req: u64,
        action: S,
        detail: S,
    },
}

impl<S> TraceEvent<S> {
    /// The event's kind as written in the `ev` field (`"guest_fault"`, …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            TraceEvent::RunStart { .. } => "run_start",
            TraceEvent::Registered { .. } => "registered",
            TraceEvent::Deregistered { .. } => "deregistered",
            TraceEvent::Arrival { .. } => "arrival",
            TraceEvent::Dropped { .. } => "dropped",
            TraceEvent::Rejected { .. } => "rejected",
            TraceEvent::InvocationStart { .. } => "invocation_start",
            TraceEvent::HostOp { .. } => "host_op",
            TraceEvent::Refused { .. } => "refused",
            TraceEvent::InvocationEnd { .. } => "invocation_end",
            TraceEvent::GuestFault { .. } => "guest_fault",
            TraceEvent::Log { .. } => "log",
            TraceEvent::Response { .. } => "response",
            TraceEvent::CallRetry { .. } => "call_retry",
            TraceEvent::CallStart { .. } => "call_start",
            TraceEvent::StoreWrite { .. } => "store_write",
            TraceEvent::StoreApply { .. } => "store_apply",
            TraceEvent::CacheWrite { .. } => "cache_write",
            TraceEvent::CacheDelete { .. } => "cache_delete",
            TraceEvent::CacheEvict { .. } => "cache_evict",
            TraceEvent::Scale { .. } => "scale",
            TraceEvent::ReplicaState { .. } => "replica_state",
            TraceEvent::StoreRead { .. } => "store_read",
            TraceEvent::CacheRead { .. } => "cache_read",
            TraceEvent::WorkOf { .. } => "work_of",
            TraceEvent::StoreAcked { .. } => "store_acked",
            TraceEvent::ReplicaMissed { .. } => "replica_missed",
            TraceEvent::Publish { .. } => "publish",
            TraceEvent::Deliver { .. } => "deliver",
            TraceEvent::Acked { .. } => "acked",
            TraceEvent::FaultStart { .. } => "fault_start",
            TraceEvent::FaultEnd { .. } => "fault_end",
            TraceEvent::ReplicaDown { .. } => "replica_down",
            TraceEvent::ReplicaUp { .. } => "replica_up",
            TraceEvent::Ejected { .. } => "ejected",
            TraceEvent::CacheLookup { .. } => "cache_lookup",
            TraceEvent::RunEnd { .. } => "run_end",
            TraceEvent::LimitHit { .. } => "limit_hit",
            TraceEvent::CallFailed { .. } => "call_failed",
            TraceEvent::OpTimeout { .. } => "op_timeout",
            TraceEvent::Nacked { .. } => "nacked",
            TraceEvent::OomKilled { .. } => "oom_killed",
            TraceEvent::JourneyStart { .. } => "journey_start",
            TraceEvent::JourneyStep { .. } => "journey_step",
            TraceEvent::JourneyEnd { .. } => "journey_end",
            TraceEvent::Sidecar { .. } => "sidecar",
            TraceEvent::MeshRefused { .. } => "mesh_refused",
            TraceEvent::GatewayTry { .. } => "gateway_try",
            TraceEvent::MeshFilter { .. } => "mesh_filter",
            TraceEvent::Activator { .. } => "activator",
            TraceEvent::ColdStart { .. } => "cold_start",
            TraceEvent::MeshFault { .. } => "mesh_fault",
            TraceEvent::PolicyFault { .. } => "policy_fault",
            TraceEvent::Rollout { .. } => "rollout",
            TraceEvent::MeshRoute { .. } => "mesh_route",
        }
    }

    /// The same event with every string field passed through `f`, in field order; numbers and
    /// flags are kept. The one place that lists every field, so conversions stay complete.
    pub fn map<'a, T>(&'a self, mut f: impl FnMut(&'a S) -> T) -> TraceEvent<T> {
        match self {
            TraceEvent::RunStart { system, seed } => {
                TraceEvent::RunStart { system: f(system), seed: *seed }
            }
            TraceEvent::Registered { service, replica } => {
                TraceEvent::Registered { service: f(service), replica: *replica }
            }
            TraceEvent::Deregistered { service, replica, reason } => TraceEvent::Deregistered {
                service: f(service),
                replica: *replica,
                reason: f(reason),
            },
            TraceEvent::Arrival { req, service, endpoint, body } => TraceEvent::Arrival {
                req: *req,
                service: f(service),
                endpoint: f(endpoint),
                body: f(body),
            },
            TraceEvent::Dropped { what, id, from, to, reason } => TraceEvent::Dropped {
                what: f(what),
                id: *id,
                from: f(from),
                to: f(to),
                reason: f(reason),
            },
            TraceEvent::Rejected { req, service, replica, reason } => TraceEvent::Rejected {
                req: *req,
                service: f(service),
                replica: *replica,
                reason: f(reason),
            },
            TraceEvent::InvocationStart {
                inv,
                req,
                service,
                endpoint,
                replica,
                instance,
                fresh,
                cause,
                source,
                group,
                attempt,
                copy,
                idem_key,
                input,
            } => TraceEvent::InvocationStart {
                inv: *inv,
                req: *req,
                service: f(service),
                endpoint: f(endpoint),
                replica: *replica,
                instance: *instance,
                fresh: *fresh,
                cause: f(cause),
                source: *source,
                group: f(group),
                attempt: *attempt,
                copy: *copy,
                idem_key: f(idem_key),
                input: f(input),
            },
            TraceEvent::HostOp { inv, op, target } => {
                TraceEvent::HostOp { inv: *inv, op: f(op), target: f(target) }
            }
            TraceEvent::Refused { inv, import, target, code } => {
                TraceEvent::Refused { inv: *inv, import: f(import), target: f(target), code: *code }
            }
            TraceEvent::InvocationEnd { inv, fuel, outcome, output } => TraceEvent::InvocationEnd {
                inv: *inv,
                fuel: *fuel,
                outcome: f(outcome),
                output: f(output),
            },
            TraceEvent::GuestFault { inv, service, cause, input } => TraceEvent::GuestFault {
                inv: *inv,
                service: f(service),
                cause: f(cause),
                input: f(input),
            },
            TraceEvent::Log { service, level, message } => {
                TraceEvent::Log { service: f(service), level: f(level), message: f(message) }
            }
            TraceEvent::Response { req, service, endpoint, outcome, latency_ns, body } => {
                TraceEvent::Response {
                    req: *req,
                    service: f(service),
                    endpoint: f(endpoint),
                    outcome: f(outcome),
                    latency_ns: *latency_ns,
                    body: f(body),
                }
            }
            TraceEvent::CallRetry { call, attempt, reason } => {
                TraceEvent::CallRetry { call: *call, attempt: *attempt, reason: f(reason) }
            }
            TraceEvent::CallStart { call, inv, service, endpoint } => TraceEvent::CallStart {
                call: *call,
                inv: *inv,
                service: f(service),
                endpoint: f(endpoint),
            },
            TraceEvent::StoreWrite {
                store,
                replica,
                key,
                version,
                inv,
                prev_version,
                changed,
                value,
            } => TraceEvent::StoreWrite {
                store: f(store),
                replica: *replica,
                key: f(key),
                version: *version,
                inv: *inv,
                prev_version: *prev_version,
                changed: *changed,
                value: value.as_ref().map(&mut f),
            },
            TraceEvent::StoreApply { store, replica, key, version, applied } => {
                TraceEvent::StoreApply {
                    store: f(store),
                    replica: *replica,
                    key: f(key),
                    version: *version,
                    applied: *applied,
                }
            }
            TraceEvent::CacheWrite { inv, cache, key, changed } => TraceEvent::CacheWrite {
                inv: *inv,
                cache: f(cache),
                key: f(key),
                changed: *changed,
            },
            TraceEvent::CacheDelete { inv, cache, key, existed } => TraceEvent::CacheDelete {
                inv: *inv,
                cache: f(cache),
                key: f(key),
                existed: *existed,
            },
            TraceEvent::CacheEvict { inv, cache, key } => {
                TraceEvent::CacheEvict { inv: *inv, cache: f(cache), key: f(key) }
            }
            TraceEvent::Scale { service, from, to, metric, value_milli, desired, reason } => {
                TraceEvent::Scale {
                    service: f(service),
                    from: *from,
                    to: *to,
                    metric: f(metric),
                    value_milli: *value_milli,
                    desired: *desired,
                    reason: f(reason),
                }
            }
            TraceEvent::ReplicaState { service, replica, state } => {
                TraceEvent::ReplicaState { service: f(service), replica: *replica, state: f(state) }
            }
            TraceEvent::StoreRead { inv, store, replica, key, version } => TraceEvent::StoreRead {
                inv: *inv,
                store: f(store),
                replica: *replica,
                key: f(key),
                version: *version,
            },
            TraceEvent::CacheRead { inv, cache, key, store_version, differs_ns } => {
                TraceEvent::CacheRead {
                    inv: *inv,
                    cache: f(cache),
                    key: f(key),
                    store_version: *store_version,
                    differs_ns: *differs_ns,
                }
            }
            TraceEvent::WorkOf { inv, work } => TraceEvent::WorkOf { inv: *inv, work: f(work) },
            TraceEvent::StoreAcked { inv, store, key, version } => TraceEvent::StoreAcked {
                inv: *inv,
                store: f(store),
                key: f(key),
                version: *version,
            },
            TraceEvent::ReplicaMissed { store, replica, key, version } => {
                TraceEvent::ReplicaMissed {
                    store: f(store),
                    replica: *replica,
                    key: f(key),
                    version: *version,
                }
            }
            TraceEvent::Publish { channel, msg, inv, body } => {
                TraceEvent::Publish { channel: f(channel), msg: *msg, inv: *inv, body: f(body) }
            }
            TraceEvent::Deliver { channel, msg, group, attempt } => TraceEvent::Deliver {
                channel: f(channel),
                msg: *msg,
                group: f(group),
                attempt: *attempt,
            },
            TraceEvent::Acked { channel, msg, group } => {
                TraceEvent::Acked { channel: f(channel), msg: *msg, group: f(group) }
            }
            TraceEvent::FaultStart { index, kind } => {
                TraceEvent::FaultStart { index: *index, kind: f(kind) }
            }
            TraceEvent::FaultEnd { index, kind } => {
                TraceEvent::FaultEnd { index: *index, kind: f(kind) }
            }
            TraceEvent::ReplicaDown { service, replica } => {
                TraceEvent::ReplicaDown { service: f(service), replica: *replica }
            }
            TraceEvent::ReplicaUp { service, replica } => {
                TraceEvent::ReplicaUp { service: f(service), replica: *replica }
            }
            TraceEvent::Ejected { caller, service, replica, until_ns } => TraceEvent::Ejected {
                caller: f(caller),
                service: f(service),
                replica: *replica,
                until_ns: *until_ns,
            },
            TraceEvent::CacheLookup { inv, cache, hit } => {
                TraceEvent::CacheLookup { inv: *inv, cache: f(cache), hit: *hit }
            }
            TraceEvent::RunEnd { events } => TraceEvent::RunEnd { events: *events },
            TraceEvent::LimitHit { inv, service, limit, count } => TraceEvent::LimitHit {
                inv: *inv,
                service: f(service),
                limit: f(limit),
                count: *count,
            },
            TraceEvent::CallFailed { call, attempt, inv, req, target, reason, gave_up } => {
                TraceEvent::CallFailed {
                    call: *call,
                    attempt: *attempt,
                    inv: *inv,
                    req: *req,
                    target: f(target),
                    reason: f(reason),
                    gave_up: *gave_up,
                }
            }
            TraceEvent::OpTimeout { inv, target } => {
                TraceEvent::OpTimeout { inv: *inv, target: f(target) }
            }
            TraceEvent::OomKilled { inv, service, replica, node, bytes, others, capacity } => {
                TraceEvent::OomKilled {
                    inv: *inv,
                    service: f(service),
                    replica: *replica,
                    node: f(node),
                    bytes: *bytes,
                    others: *others,
                    capacity: *capacity,
                }
            }
            TraceEvent::Nacked { channel, msg, group, attempt, outcome, req } => {
                TraceEvent::Nacked {
                    channel: f(channel),
                    msg: *msg,
                    group: f(group),
                    attempt: *attempt,
                    outcome: f(outcome),
                    req: *req,
                }
            }
            TraceEvent::JourneyStart { journey, id } => {
                TraceEvent::JourneyStart { journey: f(journey), id: *id }
            }
            TraceEvent::JourneyStep { id, step, name, req } => {
                TraceEvent::JourneyStep { id: *id, step: *step, name: f(name), req: *req }
            }
            TraceEvent::JourneyEnd { journey, id, outcome, step, steps, latency_ns, reason } => {
                TraceEvent::JourneyEnd {
                    journey: f(journey),
                    id: *id,
                    outcome: f(outcome),
                    step: f(step),
                    steps: *steps,
                    latency_ns: *latency_ns,
                    reason: f(reason),
                }
            }
            TraceEvent::Sidecar { req, leg, latency_ns } => {
                TraceEvent::Sidecar { req: *req, leg: f(leg), latency_ns: *latency_ns }
            }
            TraceEvent::MeshRefused { caller, target, filter, req } => TraceEvent::MeshRefused {
                caller: f(caller),
                target: f(target),
                filter: f(filter),
                req: *req,
            },
            TraceEvent::GatewayTry { req, attempt, try_req, after } => TraceEvent::GatewayTry {
                req: *req,
                attempt: *attempt,
                try_req: *try_req,
                after: f(after),
            },
            TraceEvent::MeshRoute { proxy, service, action, config, req, detail } => {
                TraceEvent::MeshRoute {
                    proxy: f(proxy),
                    service: f(service),
                    action: f(action),
                    config: *config,
                    req: *req,
                    detail: f(detail),
                }
            }
            TraceEvent::MeshFilter { proxy, filter, req, action, detail } => {
                TraceEvent::MeshFilter {
                    proxy: f(proxy),
                    filter: f(filter),
                    req: *req,
                    action: f(action),
                    detail: f(detail),
                }
            }
            TraceEvent::Activator { req, service, endpoint, action, waited_ns, buffered } => {
                TraceEvent::Activator {
                    req: *req,
                    service: f(service),
                    endpoint: f(endpoint),
                    action: f(action),
                    waited_ns: *waited_ns,
                    buffered: *buffered,
                }
            }
            TraceEvent::ColdStart { service, replica, fetch_ns, compile_ns, instantiate_ns } => {
                TraceEvent::ColdStart {
                    service: f(service),
                    replica: *replica,
                    fetch_ns: *fetch_ns,
                    compile_ns: *compile_ns,
                    instantiate_ns: *instantiate_ns,
                }
            }
            TraceEvent::MeshFault { caller, target, req, action, delay_ns, status } => {
                TraceEvent::MeshFault {
                    caller: f(caller),
                    target: f(target),
                    req: *req,
                    action: f(action),
                    delay_ns: *delay_ns,
                    status: *status,
                }
            }
            TraceEvent::PolicyFault { service, reason } => {
                TraceEvent::PolicyFault { service: f(service), reason: f(reason) }
            }
            TraceEvent::Rollout { service, step, replica, version, desired } => {
                TraceEvent::Rollout {
                    service: f(service),
                    step: f(step),
                    replica: *replica,
                    version: *version,
                    desired: *desired,
                }
            }
        }
    }
}

impl<S: AsRef<str>> TraceEvent<S> {
    /// The same event borrowing its strings: what [`Trace::emit`] takes, so an event read back
    /// can be written again.
    #[must_use]
    pub fn borrowed(&self) -> TraceEvent<&str> {
        self.map(AsRef::as_ref)
    }

    /// Every string field's value, in field order (names of services, stores, channels,
    /// groups, keys, reasons…): what a story searches for the subjects of a violation.
    #[must_use]
    pub fn texts(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.map(|s| out.push(s.as_ref()));
        out
    }
}

/// A byte string (a store key or value, a body, a message) as a trace field, written so that
/// two different byte strings never read the same: the checkers judge the trace alone and
/// identify a (store, key) pair, or compare two values, by this text, so a lossy conversion
/// would merge distinct keys (every `tok/<byte ≥ 0x80>` read `tok/\u{FFFD}`: one key "going
/// back" to another's older version) and make distinct values look equal.
///
/// Valid UTF-8 is copied as it is, except that a literal U+FFFD is written twice; each byte of
/// an invalid sequence is written as U+FFFD followed by its two lowercase hex digits
/// (`tok/\x80` reads `tok/\u{FFFD}80`). A U+FFFD is therefore always followed by a second one
/// (a literal) or by two hex digits (an invalid byte), which makes the text decodable, so
/// injective. Valid UTF-8 without U+FFFD — nearly every key and body — is borrowed unchanged,
/// recognised by `str::from_utf8`'s validation (a word at a time over ASCII) and a `memchr`
/// for U+FFFD's first byte.
#[must_use]
pub fn bytes_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => str_text(text),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                push_doubled(&mut out, chunk.valid());
                for b in chunk.invalid() {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push(REPLACEMENT);
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xf)]));
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Text as a trace field: [`bytes_text`]'s text of its bytes (itself unless it holds a
/// U+FFFD, which is doubled), without validating it again.
#[must_use]
pub fn str_text(text: &str) -> Cow<'_, str> {
    // U+FFFD is EF BF BD in UTF-8: text without the byte EF has none.
    if memchr::memchr(0xef, text.as_bytes()).is_none() || !text.contains(REPLACEMENT) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 3);
    push_doubled(&mut out, text);
    Cow::Owned(out)
}

/// The bytes a text of [`bytes_text`] was written from: a U+FFFD is followed by a second one
/// (a literal) or by two lowercase hex digits (an invalid byte). `None` for text `bytes_text`
/// cannot have written (a trace edited by hand).
#[must_use]
pub fn bytes_of_text(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != REPLACEMENT {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        match chars.next()? {
            REPLACEMENT => out.extend_from_slice(REPLACEMENT.encode_utf8(&mut [0; 4]).as_bytes()),
            hi => {
                let lo = chars.next()?;
                let digit = |d: char| d.to_digit(16).filter(|_| !d.is_ascii_uppercase());
                out.push(u8::try_from(digit(hi)? * 16 + digit(lo)?).ok()?);
            }
        }
    }
    Some(out)
}

/// A trace field read as the value it stands for — what an invariant's expression or a temporal
/// condition compares with the literals a user wrote: the original text, exactly, when the
/// bytes were UTF-8 (a literal U+FFFD undoubled); an invalid byte as U+FFFD (no text can
/// name it). Borrowed for text without U+FFFD; a field no [`bytes_text`] wrote is taken as it
/// is.
#[must_use]
pub fn text_value(text: &str) -> Cow<'_, str> {
    if memchr::memchr(0xef, text.as_bytes()).is_none() || !text.contains(REPLACEMENT) {
        return Cow::Borrowed(text);
    }
    match bytes_of_text(text) {
        Some(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        None => Cow::Borrowed(text),
    }
}

/// U+FFFD REPLACEMENT CHARACTER: the escape of [`bytes_text`].
const REPLACEMENT: char = '\u{FFFD}';

/// Appends valid text, each U+FFFD in it twice.
fn push_doubled(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(REPLACEMENT) {
        let end = at + REPLACEMENT.len_utf8();
        out.push_str(&rest[..end]);
        out.push(REPLACEMENT);
        rest = &rest[end..];
    }
    out.push_str(rest);
}

/// One line of a trace read back: when it happened and what. Generic over its strings like
/// [`TraceEvent`]: [`read`] gives owned lines; `check` reads lines that borrow from the run's
/// trace bytes (`scan::read_borrowed`), so reading a case's trace back allocates only for
/// strings with escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine<S = String> {
    pub t: SimTime,
    pub event: TraceEvent<S>,
}

/// A trace line as written: `t` first, the event's fields flattened beside it.
#[derive(Deserialize)]
struct RawLine {
    t: u64,
    #[serde(flatten)]
    event: TraceEvent,
}

/// A trace that cannot be read back. Trace files are user input (`fusebench run --out` writes
/// them, anyone can edit them), so every problem is a value naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// A line that is not a trace event: not JSON, no `t`, an unknown `ev`, a missing or
    /// mistyped field. `line` counts from 1, blank lines included; `column` is serde's, from 1
    /// within the line (0 when it has none).
    #[error("trace line {line}, column {column}: {problem}")]
    Line { line: usize, column: usize, problem: String },
}

impl TraceLine {
    /// Parses one line (without its newline); `line` is its number, for the error.
    ///
    /// # Errors
    /// [`TraceError::Line`] when the bytes are not one trace event.
    pub fn parse(bytes: &[u8], line: usize) -> Result<TraceLine, TraceError> {
        // A line as the simulator writes it is read without serde's buffering (`trace/scan.rs`);
        // serde reads whatever else, with the same result, and words the errors.
        if let Some((t, event)) = scan::line(bytes) {
            return Ok(TraceLine { t: SimTime(t), event });
        }
        match serde_json::from_slice::<RawLine>(bytes) {
            Ok(raw) => Ok(TraceLine { t: SimTime(raw.t), event: raw.event }),
            Err(e) => {
                // serde_json appends its own position, which is always line 1 of the single
                // line given to it: keep the message, report the position in the trace.
                let full = e.to_string();
                let suffix = format!(" at line {} column {}", e.line(), e.column());
                let problem = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
                Err(TraceError::Line { line, column: e.column(), problem })
            }
        }
    }
}

/// Reads a trace's JSON Lines: one result per non-blank line, in order. Never panics, whatever
/// the bytes; a bad line is an `Err` and reading goes on with the next one.
#[must_use]
pub fn read(bytes: &[u8]) -> TraceLines<'_> {
    TraceLines { rest: Some(bytes), line: 0 }
}

/// The iterator [`read`] returns.
#[derive(Debug, Clone)]
pub struct TraceLines<'a> {
    /// What is left to read; `None` once the last line was taken.
    rest: Option<&'a [u8]>,
    /// Number of the line last taken.
    line: usize,
}

impl TraceLines<'_> {
    /// Numbers lines as if `lines_before` lines preceded these bytes: for reading a growing
    /// trace piece by piece (the GUI's live view) with errors still naming the right line.
    #[must_use]
    pub fn numbered_after(mut self, lines_before: usize) -> Self {
        self.line = lines_before;
        self
    }
}

impl std::iter::FusedIterator for TraceLines<'_> {}

impl<'a> TraceLines<'a> {
    /// The next non-blank line's bytes (without its newline) and its number.
    fn next_bytes(&mut self) -> Option<(&'a [u8], usize)> {
        loop {
            let rest = self.rest?;
            let (line, after) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            self.rest = after.filter(|a| !a.is_empty());
            self.line += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some((line, self.line));
        }
    }
}

impl Iterator for TraceLines<'_> {
    type Item = Result<TraceLine, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, number) = self.next_bytes()?;
        Some(TraceLine::parse(line, number))
    }
}

thread_local! {
    /// The emptied allocation of a kept trace handed back by [`recycle`] (`spare.rs`): a
    /// trace grows by doubling from nothing otherwise.
    static SPARE_LINES: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Hands a finished run's trace bytes back, for the next [`TraceMode::Full`] trace started on
/// this thread to write into.
pub fn recycle(lines: Vec<u8>) {
    crate::spare::give_back(&SPARE_LINES, lines);
}

/// Bytes of trace lines hashed at once: BLAKE3 hashes 16 of its 1 KiB chunks side by side
/// (AVX-512; 8 with AVX2), so a batch of 16 KiB runs at its full rate while staying in L1.
const HASH_BATCH: usize = 16 * 1024;

/// Collects trace lines and their hash.
#[derive(Debug)]
pub struct Trace {
    mode: TraceMode,
    lines: Vec<u8>,
    count: u64,
    /// Where lines are written and hashed: here, or on a thread of their own
    /// ([`Trace::write_on_thread`]).
    sink: Sink,
}

// A run has one trace, moved only when the writer changes threads: its size costs nothing,
// and boxing the writer would put a pointer between every line and its buffer.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Sink {
    Here(Writer),
    Thread(pipe::Pipe),
    /// Only while the writer moves between the two (never seen by `emit`).
    Moving,
}

/// Turns events into JSON lines, hashes them and streams them: the part of a trace that can
/// run on another thread, since it needs nothing but the events, in order.
#[derive(Debug)]
struct Writer {
    hasher: blake3::Hasher,
    /// Lines not yet given to `hasher` (less than [`HASH_BATCH`] bytes and a line).
    unhashed: Vec<u8>,
    /// The last line's `{"t":<ns>`, for the next line (`line::TimeText`).
    time: line::TimeText,
    /// Where lines are streamed as they are emitted (`run --out`): the trace is written
    /// without being kept, so a run's memory does not grow with its length.
    stream: Option<Stream>,
}

/// A writer the trace streams to, and the first error writing to it (later lines are not
/// written: a trace with a hole in it is worse than one that stops).
struct Stream {
    writer: Box<dyn Write + Send>,
    written: u64,
    error: Option<std::io::Error>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("written", &self.written)
            .field("error", &self.error)
            .finish()
    }
}

impl Writer {
    fn new() -> Self {
        Writer {
            hasher: blake3::Hasher::new(),
            unhashed: Vec::new(),
            time: line::TimeText::default(),
            stream: None,
        }
    }

    /// Writes one line, streams it, copies it into `keep` if given, and hashes whole batches.
    #[inline]
    fn write(&mut self, t: u64, event: &TraceEvent<&str>, keep: Option<&mut Vec<u8>>) {
        // Written straight into the bytes waiting to be hashed (no line buffer copied in):
        // serde_json's bytes, without serde (`trace/line.rs`). Hashed a few KiB at a time:
        // the same digest as line by line (BLAKE3 of the concatenation), without copying
        // each short line into the hasher's chunk buffer, and whole chunks hashed in parallel
        // lanes.
        let start = self.unhashed.len();
        self.time.push(&mut self.unhashed, t);
        line::write_fields(&mut self.unhashed, event);
        self.unhashed.push(b'\n');
        let line = &self.unhashed[start..];
        if let Some(keep) = keep {
            keep.extend_from_slice(line);
        }
        if let Some(stream) = &mut self.stream
            && stream.error.is_none()
        {
            match stream.writer.write_all(line) {
                Ok(()) => stream.written += line.len() as u64,
                Err(e) => stream.error = Some(e),
            }
        }
        if self.unhashed.len() >= HASH_BATCH {
            // Whole batches only, so the bytes hashed so far stay a multiple of 16 chunks and
            // BLAKE3 hashes every batch in parallel lanes (an unaligned total makes it hash
            // chunk by chunk up to the next aligned boundary: a third slower here). What is
            // left, less than a line, moves to the front.
            let whole = self.unhashed.len() / HASH_BATCH * HASH_BATCH;
            self.hasher.update(&self.unhashed[..whole]);
            self.unhashed.drain(..whole);
        }
    }

    fn hash(&self) -> String {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.unhashed);
        hasher.finalize().to_hex().to_string()
    }
}

impl Trace {
    #[must_use]
    pub fn new(mode: TraceMode) -> Self {
        Trace {
            mode,
            // A kept trace starts in the allocation the last one recycled on this thread left.
            lines: if mode == TraceMode::Full { SPARE_LINES.take() } else { Vec::new() },
            count: 0,
            sink: Sink::Here(Writer::new()),
        }
    }

    /// The writer, back on this thread if it was on its own (every line sent is written first).
    fn writer(&mut self) -> &mut Writer {
        if let Sink::Thread(_) = self.sink
            && let Sink::Thread(pipe) = std::mem::replace(&mut self.sink, Sink::Moving)
        {
            self.sink = Sink::Here(pipe.join());
        }
        match &mut self.sink {
            Sink::Here(writer) => writer,
            Sink::Thread(_) | Sink::Moving => unreachable!("the writer was just brought back"),
        }
    }

    /// From now on every line is also written to `writer` (buffer it: lines are written one
    /// by one). With [`TraceMode::Hash`] the lines are written and hashed but not kept.
    /// Lines emitted before are not written: call it before the first event.
    pub fn stream_to(&mut self, writer: Box<dyn Write + Send>) {
        self.writer().stream = Some(Stream { writer, written: 0, error: None });
    }

    /// From now on lines are written, hashed and streamed on a thread of their own, fed the
    /// events in order in compact batches (`trace/pipe.rs`): the same bytes and hash, and the
    /// run's own thread does about a third less work per event. Worth it only with a core to
    /// spare (one `run`, not runs already spread over every core). Only a trace that keeps no
    /// lines ([`TraceMode::Hash`]) moves: kept lines are read while the run goes (the trace
    /// budget). Returns whether the writer moved (a thread that cannot be started leaves it
    /// here).
    pub fn write_on_thread(&mut self) -> bool {
        if self.mode != TraceMode::Hash {
            return false;
        }
        if let Sink::Here(_) = self.sink
            && let Sink::Here(writer) = std::mem::replace(&mut self.sink, Sink::Moving)
        {
            self.sink = match pipe::Pipe::spawn(writer) {
                Ok(pipe) => Sink::Thread(pipe),
                Err(writer) => Sink::Here(writer),
            };
        }
        matches!(self.sink, Sink::Thread(_))
    }

    /// Whether lines are being streamed to a writer.
    #[must_use]
    pub fn is_streaming(&self) -> bool {
        match &self.sink {
            Sink::Here(writer) => writer.stream.is_some(),
            Sink::Thread(pipe) => pipe.streams(),
            Sink::Moving => false,
        }
    }

    /// Flushes and closes the stream: the bytes written, or the first error writing them.
    /// `Ok(0)` when nothing was streamed.
    ///
    /// # Errors
    /// A line or the flush could not be written.
    pub fn close_stream(&mut self) -> std::io::Result<u64> {
        let Some(mut stream) = self.writer().stream.take() else { return Ok(0) };
        if let Some(e) = stream.error.take() {
            return Err(e);
        }
        stream.writer.flush()?;
        Ok(stream.written)
    }

    #[must_use]
    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    /// Records one event at virtual time `t` as `{"t":<ns>,"ev":...}`.
    pub fn emit(&mut self, t: SimTime, event: &TraceEvent<&str>) {
        if self.mode == TraceMode::Off {
            return;
        }
        self.count += 1;
        match &mut self.sink {
            Sink::Here(writer) => {
                let keep = (self.mode == TraceMode::Full).then_some(&mut self.lines);
                writer.write(t.nanos(), event, keep);
            }
            Sink::Thread(pipe) => pipe.send(t.nanos(), event),
            Sink::Moving => unreachable!("the writer is only moving within a call"),
        }
    }

    /// Lines emitted so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.count
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The JSON Lines text (empty unless the mode is `Full`).
    #[must_use]
    pub fn lines(&self) -> &[u8] {
        &self.lines
    }

    /// Takes the JSON Lines text out (the end of a run: moved, not copied).
    #[must_use]
    pub fn take_lines(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.lines)
    }

    /// Hex BLAKE3 of every line so far (of nothing when tracing is off). A writer on its own
    /// thread finishes the lines sent and comes back first.
    #[must_use]
    pub fn hash(&mut self) -> String {
        self.writer().hash()
    }
}

#[macro_use]
mod kinds;
mod line;
pub mod mesh_route;
mod pipe;
pub mod rollout;
pub(crate) mod scan;

#[cfg(test)]
mod tests;
