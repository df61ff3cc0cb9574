//! The trace: every event of a run as one JSON line, and a hash of those bytes.
//!
//! The same scenario and seed give the same trace, byte for byte (checked by tests), so the
//! SHA-256 of the lines identifies a run's behaviour.

use std::io::Write;

use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// One traced event. Field names are stable: tools and replays read them.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum TraceEvent<'a> {
    RunStart {
        system: &'a str,
        seed: u64,
    },
    Registered {
        service: &'a str,
        replica: u32,
    },
    Deregistered {
        service: &'a str,
        replica: u32,
        reason: &'a str,
    },
    Arrival {
        req: u64,
        service: &'a str,
        endpoint: &'a str,
    },
    Dropped {
        what: &'a str,
        id: u64,
        from: &'a str,
        to: &'a str,
        reason: &'a str,
    },
    Rejected {
        req: u64,
        service: &'a str,
        replica: u32,
        reason: &'a str,
    },
    InvocationStart {
        inv: u64,
        req: u64,
        service: &'a str,
        endpoint: &'a str,
        replica: u32,
        instance: u64,
        fresh: bool,
    },
    HostOp {
        inv: u64,
        op: &'a str,
        target: &'a str,
    },
    Refused {
        inv: u64,
        import: &'a str,
        target: &'a str,
        code: i32,
    },
    InvocationEnd {
        inv: u64,
        fuel: u64,
        outcome: &'a str,
    },
    GuestFault {
        inv: u64,
        service: &'a str,
        cause: &'a str,
        /// The request that made the guest fault (cut to 256 bytes).
        input: &'a str,
    },
    Log {
        service: &'a str,
        level: &'a str,
        message: &'a str,
    },
    Response {
        req: u64,
        service: &'a str,
        endpoint: &'a str,
        outcome: &'a str,
        latency_ns: u64,
    },
    CallRetry {
        call: u64,
        attempt: u32,
        reason: &'a str,
    },
    StoreWrite {
        store: &'a str,
        replica: u32,
        key: &'a str,
        version: u64,
    },
    StoreApply {
        store: &'a str,
        replica: u32,
        key: &'a str,
        version: u64,
        applied: bool,
    },
    Publish {
        channel: &'a str,
        msg: u64,
    },
    Deliver {
        channel: &'a str,
        msg: u64,
        group: &'a str,
        attempt: u32,
    },
    Acked {
        channel: &'a str,
        msg: u64,
        group: &'a str,
    },
    FaultStart {
        index: usize,
        kind: &'a str,
    },
    FaultEnd {
        index: usize,
        kind: &'a str,
    },
    ReplicaDown {
        service: &'a str,
        replica: u32,
    },
    ReplicaUp {
        service: &'a str,
        replica: u32,
    },
    RunEnd {
        events: u64,
    },
}

/// Collects trace lines and their hash.
#[derive(Debug)]
pub struct Trace {
    mode: TraceMode,
    hasher: Sha256,
    lines: Vec<u8>,
    scratch: Vec<u8>,
    count: u64,
}

impl Trace {
    #[must_use]
    pub fn new(mode: TraceMode) -> Self {
        Trace { mode, hasher: Sha256::new(), lines: Vec::new(), scratch: Vec::new(), count: 0 }
    }

    #[must_use]
    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    /// Records one event at virtual time `t` as `{"t":<ns>,"ev":...}`.
    pub fn emit(&mut self, t: SimTime, event: &TraceEvent<'_>) {
        if self.mode == TraceMode::Off {
            return;
        }
        self.scratch.clear();
        let _ = write!(self.scratch, "{{\"t\":{},", t.nanos());
        let start = self.scratch.len();
        // Serialising into a Vec cannot fail: every field is a plain string or number.
        let _ = serde_json::to_writer(&mut self.scratch, event);
        // Drop the enum's own opening brace: the line is one flat object.
        self.scratch.remove(start);
        self.scratch.push(b'\n');
        self.hasher.update(&self.scratch);
        if self.mode == TraceMode::Full {
            self.lines.extend_from_slice(&self.scratch);
        }
        self.count += 1;
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

    /// Hex SHA-256 of every line so far (of nothing when tracing is off).
    #[must_use]
    pub fn hash(&self) -> String {
        let digest = self.hasher.clone().finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_flat_json_and_hashed() {
        let mut t = Trace::new(TraceMode::Full);
        t.emit(SimTime(1500), &TraceEvent::Registered { service: "orders", replica: 2 });
        let text = String::from_utf8(t.lines().to_vec()).expect("utf-8");
        assert_eq!(
            text,
            "{\"t\":1500,\"ev\":\"registered\",\"service\":\"orders\",\"replica\":2}\n"
        );
        let mut h = Trace::new(TraceMode::Hash);
        h.emit(SimTime(1500), &TraceEvent::Registered { service: "orders", replica: 2 });
        assert_eq!(t.hash(), h.hash());
        assert!(h.lines().is_empty());
    }
}
