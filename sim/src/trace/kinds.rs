//! The trace's kinds and their fields, in declaration order — the one list the direct writer
//! (`line.rs`) and the fast reader (`scan.rs`) are both generated from, so they cannot
//! disagree with each other. [`TraceEvent`](super::TraceEvent) is the format: a kind or field
//! added there stops both files compiling until it is listed here (the writer's `match` binds
//! every field without `..`; the reader builds each variant from exactly these fields).

/// Invokes `$m! { Variant "kind" { field, … } … }` with every kind of the trace.
macro_rules! with_trace_kinds {
    ($m:ident) => {
        $m! {
            RunStart "run_start" { system, seed }
            Registered "registered" { service, replica }
            Deregistered "deregistered" { service, replica, reason }
            Arrival "arrival" { req, service, endpoint, body }
            Dropped "dropped" { what, id, from, to, reason }
            Rejected "rejected" { req, service, replica, reason }
            InvocationStart "invocation_start" { inv, req, service, endpoint, replica, instance, fresh, cause, source, group, attempt, copy, idem_key, input }
            HostOp "host_op" { inv, op, target }
            Refused "refused" { inv, import, target, code }
            InvocationEnd "invocation_end" { inv, fuel, outcome, output }
            GuestFault "guest_fault" { inv, service, cause, input }
            Log "log" { service, level, message }
            Response "response" { req, service, endpoint, outcome, latency_ns, body }
            CallRetry "call_retry" { call, attempt, reason }
            CallStart "call_start" { call, inv, service, endpoint }
            StoreWrite "store_write" { store, replica, key, version, inv, prev_version, changed, value }
            StoreApply "store_apply" { store, replica, key, version, applied }
            CacheWrite "cache_write" { inv, cache, key, changed }
            CacheDelete "cache_delete" { inv, cache, key, existed }
            CacheEvict "cache_evict" { inv, cache, key }
            StoreRead "store_read" { inv, store, replica, key, version }
            CacheRead "cache_read" { inv, cache, key, store_version, differs_ns }
            WorkOf "work_of" { inv, work }
            StoreAcked "store_acked" { inv, store, key, version }
            ReplicaMissed "replica_missed" { store, replica, key, version }
            Publish "publish" { channel, msg, inv, body }
            Deliver "deliver" { channel, msg, group, attempt }
            Acked "acked" { channel, msg, group }
            FaultStart "fault_start" { index, kind }
            FaultEnd "fault_end" { index, kind }
            ReplicaDown "replica_down" { service, replica }
            ReplicaUp "replica_up" { service, replica }
            Ejected "ejected" { caller, service, replica, until_ns }
            CacheLookup "cache_lookup" { inv, cache, hit }
            RunEnd "run_end" { events }
            LimitHit "limit_hit" { inv, service, limit, count }
            CallFailed "call_failed" { call, attempt, inv, req, target, reason, gave_up }
            OpTimeout "op_timeout" { inv, target }
            OomKilled "oom_killed" { inv, service, replica, node, bytes, others, capacity }
            Nacked "nacked" { channel, msg, group, attempt, outcome, req }
            JourneyStart "journey_start" { journey, id }
            JourneyStep "journey_step" { id, step, name, req }
            JourneyEnd "journey_end" { journey, id, outcome, step, steps, latency_ns, reason }
            Scale "scale" { service, from, to, metric, value_milli, desired, reason }
            ReplicaState "replica_state" { service, replica, state }
            Sidecar "sidecar" { req, leg, latency_ns }
            MeshRefused "mesh_refused" { caller, target, filter, req }
            Activator "activator" { req, service, endpoint, action, waited_ns, buffered }
            ColdStart "cold_start" { service, replica, fetch_ns, compile_ns, instantiate_ns }
            MeshFault "mesh_fault" { caller, target, req, action, delay_ns, status }
            PolicyFault "policy_fault" { service, reason }
            Rollout "rollout" { service, step, replica, version, desired }
            GatewayTry "gateway_try" { req, attempt, try_req, after }
            MeshRoute "mesh_route" { proxy, service, action, config, req, detail }
            MeshFilter "mesh_filter" { proxy, filter, req, action, detail }
        }
    };
}
