//! Test doubles for whatever drives services: one copy, shared by the unit tests, the
//! integration tests and the benches (it is `pub` for them, hidden from the docs).
//!
//! - [`FakeHost`] is a [`ServiceHost`] that serves without WebAssembly: each invocation issues
//!   the host operations its script returns, one per slice, then answers with a fixed response.
//!   The engine cannot tell it from the wasmi [`Runtime`](super::Runtime) (the architecture's
//!   "a fake host can drive it" invariant).
//! - [`CountingRandom`] is the deterministic random stream a [`HostContext`] needs: 1, 2, 3, …
//! - [`ECHO_WAT`] is the smallest well-behaved guest: `handle_echo` answers its request.
//! - [`run_to_end`] drives one invocation of any host to its end, answering each operation.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use super::context::{HostContext, RandomSource};
use super::error::InvokeError;
use super::step::{
    HostOp, HostReply, InstanceId, InstanceInfo, InstanceMemory, InstanceReuse, InvocationId,
    InvocationReport, LimitsHit, Response, ServiceHost, Slice, SliceOutcome,
};

/// A deterministic stand-in for the engine's seeded stream: 1, 2, 3, …
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CountingRandom(pub u64);

impl RandomSource for CountingRandom {
    fn next_u64(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// A guest with `memory`, an `alloc` that always returns 1024, and `handle_echo`, which answers
/// the request bytes as its response (so the request must be JSON).
pub const ECHO_WAT: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle_echo") (param $p i32) (param $l i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (local.get $l)))))"#;

/// The accounting of a fake invocation: `fuel_used` of a budget of 1 000 000, on a reused
/// instance, with no suspension recorded.
#[must_use]
pub fn report(fuel_used: u64) -> InvocationReport {
    InvocationReport {
        fuel_used,
        fuel_budget: 1_000_000,
        instance: InstanceInfo { id: InstanceId(0), reuse: InstanceReuse::Reused },
        suspensions: 0,
        refusals: Vec::new(),
        log_lines_dropped: 0,
        limits: LimitsHit::default(),
    }
}

/// What a [`FakeHost`] script sees of an invocation when it starts.
#[derive(Debug, Clone, Copy)]
pub struct FakeCall<'a> {
    pub service: &'a str,
    pub endpoint: &'a str,
    pub request: &'a [u8],
}

/// The host operations an invocation performs, in order, before it answers.
pub type Script = Box<dyn FnMut(FakeCall<'_>, &mut HostContext<'_>) -> Vec<HostOp>>;

/// A [`ServiceHost`] without WebAssembly. See the [module docs](self).
pub struct FakeHost {
    script: Script,
    response: serde_json::Value,
    /// Overrides `response`: the answer of the n-th invocation (0-based).
    responses: Option<Box<dyn FnMut(u64) -> serde_json::Value>>,
    /// Fuel reported by the first slice of an invocation.
    pub start_fuel: u64,
    /// Fuel reported by each slice after a resume.
    pub resume_fuel: u64,
    next: u64,
    /// Operations not yet issued, fuel burnt and suspensions so far, per unfinished invocation.
    pending: BTreeMap<InvocationId, (VecDeque<HostOp>, u64, u32)>,
    /// Every reply received, in order: what the engine answered.
    pub replies: Vec<(InvocationId, HostReply)>,
}

impl fmt::Debug for FakeHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeHost")
            .field("response", &self.response)
            .field("pending", &self.pending)
            .field("replies", &self.replies.len())
            .finish_non_exhaustive()
    }
}

impl FakeHost {
    /// Every invocation performs `script`'s operations, then answers `response`. Slices report
    /// 1 000 fuel for a start and 500 for a resume (change `start_fuel`/`resume_fuel`).
    pub fn new(
        response: serde_json::Value,
        script: impl FnMut(FakeCall<'_>, &mut HostContext<'_>) -> Vec<HostOp> + 'static,
    ) -> Self {
        FakeHost {
            script: Box::new(script),
            response,
            responses: None,
            start_fuel: 1_000,
            resume_fuel: 500,
            next: 0,
            pending: BTreeMap::new(),
            replies: Vec::new(),
        }
    }

    /// Answers `response` at once, with no host operation.
    #[must_use]
    pub fn answering(response: serde_json::Value) -> Self {
        FakeHost::new(response, |_, _| Vec::new())
    }

    /// Answers `respond(n)` to the n-th invocation (0-based), with no host operation.
    #[must_use]
    pub fn answering_each(respond: impl FnMut(u64) -> serde_json::Value + 'static) -> Self {
        let mut host = FakeHost::answering(serde_json::Value::Null);
        host.responses = Some(Box::new(respond));
        host
    }

    /// Invocations suspended on an operation right now.
    #[must_use]
    pub fn suspended(&self) -> usize {
        self.pending.len()
    }

    /// The next slice of `invocation`: its next operation, or its response, whose report
    /// counts the fuel of every slice and the suspensions (as the runtime's does).
    fn next_slice(&mut self, invocation: InvocationId, fuel_used: u64) -> Slice {
        let (op, total, suspensions) = match self.pending.get_mut(&invocation) {
            Some((ops, total, suspensions)) => {
                *total += fuel_used;
                let op = ops.pop_front();
                *suspensions += u32::from(op.is_some());
                (op, *total, *suspensions)
            }
            None => (None, fuel_used, 0),
        };
        let step = match op {
            Some(op) => SliceOutcome::Pending(op),
            None => {
                self.pending.remove(&invocation);
                let json = match &mut self.responses {
                    Some(respond) => respond(invocation.0),
                    None => self.response.clone(),
                };
                let body = json.to_string();
                let report = InvocationReport { suspensions, ..report(total) };
                SliceOutcome::Done(Response { body, json, report })
            }
        };
        Slice { invocation, fuel_used, outcome: step, memory: InstanceMemory::NONE, instance: None }
    }
}

impl ServiceHost for FakeHost {
    fn start_in(
        &mut self,
        service: &str,
        _pool: u32,
        endpoint: &str,
        request: &[u8],
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        let invocation = InvocationId(self.next);
        self.next += 1;
        let ops = (self.script)(FakeCall { service, endpoint, request }, ctx);
        self.pending.insert(invocation, (ops.into(), 0, 0));
        Ok(self.next_slice(invocation, self.start_fuel))
    }

    fn resume(
        &mut self,
        invocation: InvocationId,
        reply: HostReply,
        _ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        if !self.pending.contains_key(&invocation) {
            return Err(InvokeError::UnknownInvocation { invocation });
        }
        self.replies.push((invocation, reply));
        Ok(self.next_slice(invocation, self.resume_fuel))
    }

    fn abandon(&mut self, invocation: InvocationId) -> bool {
        self.pending.remove(&invocation).is_some()
    }
}

/// Runs one invocation on `host` to its end at virtual time 0, answering each operation with
/// `answer`; returns the last slice (done or failed) and the slices it took.
///
/// # Errors
/// The host's own errors (an unknown service or endpoint).
pub fn run_to_end(
    host: &mut dyn ServiceHost,
    ctx: &mut HostContext<'_>,
    call: FakeCall<'_>,
    mut answer: impl FnMut(&HostOp) -> HostReply,
) -> Result<(Slice, usize), InvokeError> {
    let mut slice = host.start(call.service, call.endpoint, call.request, ctx)?;
    let mut slices = 1;
    while let SliceOutcome::Pending(op) = &slice.outcome {
        let reply = answer(op);
        slice = host.resume(slice.invocation, reply, ctx)?;
        slices += 1;
    }
    Ok((slice, slices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{DiscardLog, Runtime, ServiceConfig};

    fn call<'a>(service: &'a str, request: &'a [u8]) -> FakeCall<'a> {
        FakeCall { service, endpoint: "e", request }
    }

    #[test]
    fn a_scripted_invocation_issues_its_operations_in_order_then_answers() {
        let mut host = FakeHost::new(serde_json::json!({"ok": true}), |c, ctx| {
            let value = ctx.random.next_u64().to_string().into_bytes();
            vec![
                HostOp::KvPut { store: c.service.to_owned(), key: b"k".to_vec(), value },
                HostOp::KvGet { store: c.service.to_owned(), key: b"k".to_vec() },
            ]
        });
        let (mut random, mut log) = (CountingRandom::default(), DiscardLog);
        let mut ctx = HostContext { now_nanos: 0, random: &mut random, log: &mut log };
        let mut seen = Vec::new();
        let (last, slices) = run_to_end(&mut host, &mut ctx, call("db", b"{}"), |op| {
            seen.push(op.clone());
            if op.replies_with_value() { HostReply::Value(b"1".to_vec()) } else { HostReply::Ack }
        })
        .expect("runs");
        assert_eq!(slices, 3);
        assert_eq!(
            seen[0],
            HostOp::KvPut { store: "db".into(), key: b"k".to_vec(), value: b"1".to_vec() }
        );
        assert!(matches!(seen[1], HostOp::KvGet { .. }));
        let SliceOutcome::Done(response) = last.outcome else {
            panic!("answers, got {:?}", last.outcome)
        };
        assert_eq!(response.body, r#"{"ok":true}"#);
        assert_eq!(last.fuel_used, 500);
        assert_eq!(response.report.fuel_used, 1_000 + 500 + 500, "every slice's fuel");
        assert_eq!(response.report.suspensions, 2);
        assert_eq!(host.replies.len(), 2);
        assert_eq!(host.suspended(), 0);
    }

    #[test]
    fn abandoned_and_unknown_invocations_behave_like_the_runtime() {
        let mut host = FakeHost::new(serde_json::json!({}), |c, _| {
            vec![HostOp::Publish { channel: c.service.to_owned(), message: Vec::new() }]
        });
        let (mut random, mut log) = (CountingRandom::default(), DiscardLog);
        let mut ctx = HostContext { now_nanos: 0, random: &mut random, log: &mut log };
        let slice = host.start("s", "e", b"{}", &mut ctx).expect("start");
        assert_eq!(slice.fuel_used, 1_000);
        assert!(matches!(slice.outcome, SliceOutcome::Pending(HostOp::Publish { .. })));
        assert!(host.abandon(slice.invocation));
        assert!(!host.abandon(slice.invocation));
        assert!(matches!(
            host.resume(slice.invocation, HostReply::Ack, &mut ctx),
            Err(InvokeError::UnknownInvocation { .. })
        ));
    }

    #[test]
    fn the_echo_guest_answers_its_request_through_the_real_runtime() {
        let mut rt = Runtime::default();
        let mut config = ServiceConfig::new("echo");
        config.endpoints.insert("echo".into());
        rt.load_service(&config, ECHO_WAT.as_bytes()).expect("loads");
        let (mut random, mut log) = (CountingRandom::default(), DiscardLog);
        let mut ctx = HostContext { now_nanos: 0, random: &mut random, log: &mut log };
        let echo = FakeCall { service: "echo", endpoint: "echo", request: br#"{"x":1}"# };
        let (last, slices) = run_to_end(&mut rt, &mut ctx, echo, |_| HostReply::Ack).expect("runs");
        assert_eq!(slices, 1);
        let SliceOutcome::Done(response) = last.outcome else {
            panic!("answers, got {:?}", last.outcome)
        };
        assert_eq!(response.json["x"], 1);
    }
}
