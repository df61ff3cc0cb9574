//! Shared by the benches: a copy of the simulator's event type, so the engine benches move
//! events of the real size through [`fusebench_sim::engine::EventQueue`].

use fusebench_sim::metrics::Outcome;
use fusebench_sim::system::Versioned;
use fusebench_sim::time::SimTime;

/// The same variants and field types as `Event` in sim/src/system/mod.rs (crate-private there),
/// hence the same size (48 bytes: `Reply` and `AtBroker`, with their `Vec`, set it). Keep in
/// step with the simulator's.
#[derive(Debug, Clone)]
#[allow(dead_code, reason = "a size-faithful copy: only some variants are built")]
pub enum Event {
    Arrival,
    UserNext(u32),
    AtGateway(u64),
    GatewayTimeout(u64),
    AtClient { req: u64, outcome: Outcome },
    AtReplica { req: u64, svc: usize, replica: u32 },
    SliceDone(u64),
    Reply { req: u64, outcome: Outcome, body: Vec<u8> },
    CallTimeout { call: u64, attempt: u32 },
    CallRetry { call: u64 },
    StoreAt { op: u64, replica: u32 },
    OpReply { op: u64, attempt: u32 },
    OpTimeout { op: u64 },
    Replicate(Box<ReplicaWrite>),
    ReplicateRetry(Box<ReplicaWrite>),
    ReplicaAck { op: u64 },
    AtBroker { op: u64, channel: usize, message: Vec<u8> },
    Deliver { msg: u64, group: usize, redelivery: bool },
    AckTimeout { msg: u64, group: usize, attempt: u32 },
    Heartbeat { svc: usize, replica: u32 },
    RegistrySweep,
    FaultStart(usize),
    FaultEnd(usize),
    Restart { svc: usize, replica: u32 },
    Sample,
    WorkloadEnd,
}

/// `ReplicaWrite` of sim/src/system/mod.rs, boxed in the events as there.
#[derive(Debug, Clone)]
#[allow(dead_code, reason = "a size-faithful copy: never built")]
pub struct ReplicaWrite {
    store: usize,
    replica: u32,
    key: Vec<u8>,
    value: Versioned,
    from: u32,
    sent: SimTime,
    ack_op: Option<u64>,
}

/// The `n`th event of a synthetic stream: the scalar variants the engine schedules most
/// (arrivals at replicas, slice ends, store hops and replies), no heap payload to allocate.
pub fn event(n: u64) -> Event {
    match n % 5 {
        0 => Event::AtReplica { req: n, svc: (n % 7) as usize, replica: (n % 3) as u32 },
        1 => Event::SliceDone(n),
        2 => Event::StoreAt { op: n, replica: (n % 3) as u32 },
        3 => Event::OpReply { op: n, attempt: 0 },
        _ => Event::Deliver { msg: n, group: (n % 2) as usize, redelivery: false },
    }
}

/// xorshift64*: cheap, seeded delays for the event stream.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}
