//! Typed ids of everything the simulated world holds. Each is an index or a counter wrapped in
//! its own type, so a store id can never be passed where a service id is expected, and the
//! trace still writes plain numbers.

use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) struct $name(pub(crate) $inner);

        impl $name {
            /// The position in its table (for `Vec` indexing).
            #[allow(dead_code)]
            pub(crate) fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}#{}", stringify!($name), self.0)
            }
        }
    };
}

id!(
    /// A service of the scenario (its position in `[[service]]`).
    ServiceId(u32)
);
id!(
    /// One of a service's endpoints (its position in the service's `[[service.endpoint]]`).
    EndpointId(u32)
);
id!(
    /// A topology node (its position in `[[node]]`).
    NodeId(u32)
);
id!(
    /// A store of any kind — kv, cache or broker (its position in `[[store]]`).
    StoreId(u32)
);
id!(
    /// A communication channel (its position in `[[channel]]`).
    ChannelId(u32)
);
id!(
    /// A consumer group: one subscription of one service to one channel.
    GroupId(u32)
);
id!(
    /// A request in flight: a client request, one attempt of a call, or one delivery of a
    /// message. Numbered in creation order.
    ReqId(u64)
);
id!(
    /// One invocation of a replica's handler, from start to its answer.
    InvId(u64)
);
id!(
    /// A synchronous call made by an invocation, over all its attempts.
    CallId(u64)
);
id!(
    /// A store, cache or broker operation made by an invocation.
    OpId(u64)
);
id!(
    /// A message accepted by the broker.
    MsgId(u64)
);

id!(
    /// One of a service's module versions: 0 is its declared module, later ones the modules a
    /// `module-swap` fault or a rollout brought, in the order they first applied.
    VersionIdx(u32)
);

/// A replica of a service: its position among the service's replicas.
pub(crate) type ReplicaIdx = u32;

/// A monotonically numbered id source.
#[derive(Debug, Default)]
pub(crate) struct Counter(u64);

impl Counter {
    pub(crate) fn next(&mut self) -> u64 {
        let n = self.0;
        self.0 += 1;
        n
    }
}

macro_rules! seq_id {
    ($($name:ident),*) => {$(
        impl super::idtable::SeqId for $name {
            fn seq(self) -> u64 {
                self.0
            }
        }
    )*};
}

seq_id!(ReqId, InvId, CallId, OpId, MsgId);
