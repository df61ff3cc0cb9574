//! The events the components react to, each naming its subjects by typed id.

use super::balancer::Caller;
use super::ids::{
    CallId, ChannelId, GroupId, InvId, MsgId, NodeId, OpId, ReplicaIdx, ReqId, ServiceId,
};
use super::kv::ReplicaWrite;
use super::payload::Payload;
use crate::metrics::Outcome;

#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// The next open-loop arrival.
    Arrival,
    /// A closed-loop user has thought and sends its next request.
    UserNext(u32),
    /// Journey instance `id` has thought and sends its next step.
    JourneyNext(u64),
    /// A client request reaches the gateway.
    AtGateway(ReqId),
    GatewayTimeout(ReqId),
    /// The gateway's answer reaches the client.
    AtClient {
        req: ReqId,
        outcome: Outcome,
        /// The answer body (empty for the gateway's own refusals).
        body: Payload,
    },
    /// A request reaches a service replica.
    AtReplica {
        req: ReqId,
        service: ServiceId,
        replica: ReplicaIdx,
    },
    /// The earliest slice computing on a node has had its CPU demand.
    CpuDone(NodeId),
    /// A message between mesh proxies has crossed the wire (`mesh/proxy.rs`).
    ProxyWire(u64),
    /// An invocation's slice is over (CPU and wait): act on its step.
    SliceDone(InvId),
    /// A response reaches whoever sent the request (gateway, caller, broker).
    Reply {
        req: ReqId,
        outcome: Outcome,
        body: Payload,
    },
    CallTimeout {
        call: CallId,
        attempt: u32,
    },
    CallRetry(CallId),
    /// A mesh connection pool may let its waiting requests go (`mesh/bulkhead.rs`).
    PoolDrain {
        caller: Caller,
        service: ServiceId,
    },
    /// A store operation reaches a store replica.
    StoreAt {
        op: OpId,
        replica: ReplicaIdx,
    },
    /// A store operation's answer reaches the invocation that issued it.
    OpReply(OpId),
    OpTimeout(OpId),
    /// A replicated write reaches a replica (boxed: it would make every event twice as big,
    /// and events are moved on every heap operation).
    Replicate(Box<ReplicaWrite>),
    /// A replicated write that could not get through is sent again.
    ReplicateRetry(Box<ReplicaWrite>),
    /// A strong write's replica acknowledgement reaches the primary.
    ReplicaAck(OpId),
    /// A published message reaches the broker.
    AtBroker {
        op: OpId,
        /// The publishing invocation (traced with the publish; it may be gone by then).
        inv: InvId,
        channel: ChannelId,
        message: Vec<u8>,
    },
    Deliver {
        msg: MsgId,
        group: GroupId,
        redelivery: bool,
    },
    AckTimeout {
        msg: MsgId,
        group: GroupId,
        attempt: u32,
    },
    Heartbeat {
        service: ServiceId,
        replica: ReplicaIdx,
        /// Which start of the replica in this position sends it.
        life: u32,
    },
    /// An autoscaled service's replica has started (if it is still that start).
    ReplicaReady {
        service: ServiceId,
        replica: ReplicaIdx,
        life: u32,
    },
    /// An autoscaled service's autoscaler decides.
    Autoscale(ServiceId),
    /// A request buffered in a scale-to-zero service's activator has waited its longest.
    ActivatorTimeout {
        service: ServiceId,
        req: ReqId,
    },
    RegistrySweep,
    FaultStart(usize),
    FaultEnd(usize),
    Restart {
        service: ServiceId,
        replica: ReplicaIdx,
    },
    /// Rollout `i` (`[[rollout]]`) starts.
    RolloutStart(usize),
    /// The control plane's push `i` (`[[mesh.push]]` in time order) leaves it.
    MeshPush(usize),
    /// Route configuration `config` reaches `proxy`.
    MeshApply {
        proxy: Caller,
        config: u32,
    },
    /// A replica a rolling rollout retired has served its drain delay (if it is still that
    /// life of the replica).
    RolloutDrain {
        rollout: usize,
        replica: ReplicaIdx,
        life: u32,
    },
    Sample,
    WorkloadEnd,
}
