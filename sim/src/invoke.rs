//! Trying one handler: a request against a service with in-memory stores, downstream `call`s
//! answered by the real downstream modules. No event engine, no virtual time passes — an
//! architect's quick look at what a handler does (`fusebench invoke`).

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::contract::is_application_error;
use serde::Serialize;

use crate::rng::SimRng;
use crate::runtime::{
    CasExpect, HostCode, HostContext, HostOp, HostReply, InvokeError, LogLine, ScanEntry,
    ServiceHost, SliceOutcome, encode_scan,
};

/// In-memory contents of every store: store → key → value.
pub type Stores = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Nested `call`s deeper than this are answered `-3` (a call cycle would recurse forever).
const DEPTH_MAX: usize = 16;

/// One host operation a handler (or a handler it called) performed.
#[derive(Debug, Clone, Serialize)]
pub struct OpRecord {
    /// 0 for the invoked handler, 1 for a service it called, ...
    pub depth: usize,
    pub service: String,
    pub op: &'static str,
    pub target: String,
    pub key: Option<String>,
    pub result: String,
}

/// One store entry a handler changed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StoreChange {
    pub store: String,
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What one invocation did.
#[derive(Debug, Clone, Serialize)]
pub struct Invocation {
    pub service: String,
    pub endpoint: String,
    /// The response JSON, when the handler finished.
    pub response: Option<serde_json::Value>,
    /// Why it did not finish (a guest fault), or a contract violation of its response.
    pub problem: Option<String>,
    /// Fuel burnt by the invoked handler (downstream handlers' fuel is in `fuel_downstream`).
    pub fuel: u64,
    pub fuel_downstream: u64,
    pub ops: Vec<OpRecord>,
    pub published: Vec<(String, String)>,
    pub logs: Vec<String>,
    pub changes: Vec<StoreChange>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The scenario's initial store contents (`init` tables).
#[must_use]
pub fn initial_stores(s: &Scenario) -> Stores {
    s.stores.iter().map(|d| (d.name.clone(), d.initial_entries().collect())).collect()
}

/// Runs `service.endpoint` on `request` against `stores`, which it updates.
///
/// # Errors
/// An unknown service or endpoint (bad input); guest faults are reported in the result.
pub fn invoke(
    s: &Scenario,
    host: &mut dyn ServiceHost,
    service: &str,
    endpoint: &str,
    request: &[u8],
    stores: &mut Stores,
) -> Result<Invocation, InvokeError> {
    let before = stores.clone();
    let mut rng = SimRng::stream(0, &format!("invoke/{service}"));
    let mut run = Run {
        s,
        host,
        stores,
        rng: &mut rng,
        versions: BTreeMap::new(),
        ops: Vec::new(),
        published: Vec::new(),
        logs: Vec::new(),
        fuel_downstream: 0,
    };
    let (outcome, fuel) = run.one(0, service, endpoint, request)?;
    let (response, mut problem) = match outcome {
        Ok(body) => (serde_json::from_slice(&body).ok(), None),
        Err(fault) => (None, Some(fault)),
    };
    if let Some(json) = &response
        && !is_application_error(json)
        && let Some(ep) = s.service(service).and_then(|x| x.endpoint(endpoint))
    {
        let violations = ep.response.check(json);
        if !violations.is_empty() {
            problem = Some(format!("response breaks the contract: {}", violations.join("; ")));
        }
    }
    let (ops, published, logs, fuel_downstream) =
        (run.ops, run.published, run.logs, run.fuel_downstream);
    let mut changes = Vec::new();
    for (store, data) in stores.iter() {
        let empty = BTreeMap::new();
        let old = before.get(store).unwrap_or(&empty);
        let keys: std::collections::BTreeSet<&Vec<u8>> = old.keys().chain(data.keys()).collect();
        for k in keys {
            let (a, b) = (old.get(k), data.get(k));
            if a != b {
                changes.push(StoreChange {
                    store: store.clone(),
                    key: text(k),
                    before: a.map(|v| text(v)),
                    after: b.map(|v| text(v)),
                });
            }
        }
    }
    Ok(Invocation {
        service: service.to_owned(),
        endpoint: endpoint.to_owned(),
        response,
        problem,
        fuel,
        fuel_downstream,
        ops,
        published,
        logs,
        changes,
    })
}

struct Run<'a> {
    s: &'a Scenario,
    host: &'a mut dyn ServiceHost,
    stores: &'a mut Stores,
    rng: &'a mut SimRng,
    /// Versions of the keys this invocation wrote, numbered from 1 in write order; every other
    /// key is at version 0 (there is no engine, so no run-wide write order).
    versions: BTreeMap<(String, Vec<u8>), u64>,
    ops: Vec<OpRecord>,
    published: Vec<(String, String)>,
    logs: Vec<String>,
    fuel_downstream: u64,
}

impl Run<'_> {
    /// Runs one handler to completion; Ok(body) or Err(fault description), and its fuel.
    fn one(
        &mut self,
        depth: usize,
        service: &str,
        endpoint: &str,
        request: &[u8],
    ) -> Result<(Result<Vec<u8>, String>, u64), InvokeError> {
        let mut logs: Vec<LogLine> = Vec::new();
        let mut slice = {
            let mut ctx = HostContext { now_nanos: 0, random: &mut *self.rng, log: &mut logs };
            self.host.start(service, endpoint, request, &mut ctx)?
        };
        let mut fuel = 0;
        loop {
            fuel += slice.fuel_used;
            self.logs.extend(
                logs.drain(..).map(|l| format!("{} [{:?}] {}", l.service, l.level, l.message)),
            );
            match slice.outcome {
                SliceOutcome::Done(resp) => return Ok((Ok(resp.body.into_bytes()), fuel)),
                SliceOutcome::Failed(fault) => return Ok((Err(fault.to_string()), fuel)),
                SliceOutcome::Pending(op) => {
                    let reply = self.perform(depth, service, op)?;
                    let mut ctx =
                        HostContext { now_nanos: 0, random: &mut *self.rng, log: &mut logs };
                    slice = self.host.resume(slice.invocation, reply, &mut ctx)?;
                }
            }
        }
    }

    fn record(
        &mut self,
        depth: usize,
        service: &str,
        op: &'static str,
        target: &str,
        key: Option<&[u8]>,
        result: String,
    ) {
        self.ops.push(OpRecord {
            depth,
            service: service.to_owned(),
            op,
            target: target.to_owned(),
            key: key.map(text),
            result,
        });
    }

    fn version(&self, store: &str, key: &[u8]) -> u64 {
        self.versions.get(&(store.to_owned(), key.to_vec())).copied().unwrap_or(0)
    }

    /// Records a write of `store`/`key`: the next version.
    fn bump(&mut self, store: &str, key: &[u8]) {
        let next = self.versions.values().max().map_or(1, |v| v + 1);
        self.versions.insert((store.to_owned(), key.to_vec()), next);
    }

    fn perform(
        &mut self,
        depth: usize,
        service: &str,
        op: HostOp,
    ) -> Result<HostReply, InvokeError> {
        let name = op.import();
        Ok(match op {
            HostOp::KvGet { store, key } | HostOp::CacheGet { cache: store, key } => {
                let v = self.stores.get(&store).and_then(|d| d.get(&key)).cloned();
                let shown = v.as_ref().map_or_else(|| "not found".to_owned(), |v| text(v));
                self.record(depth, service, name, &store, Some(&key), shown);
                v.map_or(HostReply::Error(HostCode::NotFound), HostReply::Value)
            }
            HostOp::KvGetVersioned { store, key, .. } => {
                let v = self.stores.get(&store).and_then(|d| d.get(&key)).cloned();
                let version = self.version(&store, &key);
                let shown = v.as_ref().map_or_else(
                    || "not found".to_owned(),
                    |v| format!("{} (version {version})", text(v)),
                );
                self.record(depth, service, name, &store, Some(&key), shown);
                v.map_or(HostReply::Error(HostCode::NotFound), |value| HostReply::Versioned {
                    value,
                    version,
                })
            }
            HostOp::KvPut { store, key, value } | HostOp::CachePut { cache: store, key, value } => {
                self.record(
                    depth,
                    service,
                    name,
                    &store,
                    Some(&key),
                    format!("ok ({})", text(&value)),
                );
                self.bump(&store, &key);
                self.stores.entry(store).or_default().insert(key, value);
                HostReply::Ack
            }
            HostOp::KvDelete { store, key } => {
                let existed = self.stores.get_mut(&store).and_then(|d| d.remove(&key)).is_some();
                if existed {
                    self.bump(&store, &key);
                }
                self.record(
                    depth,
                    service,
                    name,
                    &store,
                    Some(&key),
                    if existed { "deleted" } else { "not found" }.to_owned(),
                );
                if existed { HostReply::Ack } else { HostReply::Error(HostCode::NotFound) }
            }
            HostOp::KvCas { store, key, expect, new } => {
                let held = self.stores.get(&store).and_then(|d| d.get(&key));
                let written = match &expect {
                    CasExpect::Absent => held.is_none(),
                    CasExpect::Value(bytes) => held == Some(bytes),
                    CasExpect::Version(v) => held.is_some() && self.version(&store, &key) == *v,
                };
                let shown =
                    if written { format!("ok ({})", text(&new)) } else { "conflict".into() };
                self.record(depth, service, name, &store, Some(&key), shown);
                if written {
                    self.bump(&store, &key);
                    self.stores.entry(store).or_default().insert(key, new);
                    HostReply::Ack
                } else {
                    HostReply::Error(HostCode::Conflict)
                }
            }
            HostOp::KvScan { store, prefix, limit } => {
                let entries: Vec<ScanEntry> = self
                    .stores
                    .get(&store)
                    .into_iter()
                    .flat_map(|d| d.range(prefix.clone()..))
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .take(limit as usize)
                    .map(|(k, v)| ScanEntry::new(k, v, self.version(&store, k)))
                    .collect();
                self.record(
                    depth,
                    service,
                    name,
                    &store,
                    Some(&prefix),
                    format!(
                        "{} entr{}",
                        entries.len(),
                        if entries.len() == 1 { "y" } else { "ies" }
                    ),
                );
                HostReply::Value(encode_scan(&entries))
            }
            HostOp::CacheDelete { cache, key } => {
                let existed = self.stores.get_mut(&cache).and_then(|d| d.remove(&key)).is_some();
                self.record(
                    depth,
                    service,
                    name,
                    &cache,
                    Some(&key),
                    if existed { "invalidated" } else { "not found" }.to_owned(),
                );
                if existed { HostReply::Ack } else { HostReply::Error(HostCode::NotFound) }
            }
            HostOp::Publish { channel, message } => {
                self.record(
                    depth,
                    service,
                    name,
                    &channel,
                    None,
                    format!("accepted ({})", text(&message)),
                );
                self.published.push((channel, text(&message)));
                HostReply::Ack
            }
            // No virtual time passes here, so no call can time out: the timeout is moot.
            HostOp::Call { service: callee, endpoint, request }
            | HostOp::CallTimeout { service: callee, endpoint, request, .. } => {
                let target = format!("{callee}.{endpoint}");
                if depth + 1 > DEPTH_MAX {
                    self.record(
                        depth,
                        service,
                        name,
                        &target,
                        None,
                        "unavailable (call depth limit)".to_owned(),
                    );
                    return Ok(HostReply::Error(HostCode::Unavailable));
                }
                let valid =
                    self.s.service(&callee).and_then(|x| x.endpoint(&endpoint)).is_some_and(|e| {
                        serde_json::from_slice(&request)
                            .is_ok_and(|v| e.request.check(&v).is_empty())
                    });
                if !valid {
                    self.record(
                        depth,
                        service,
                        name,
                        &target,
                        None,
                        format!("rejected by the callee's contract ({})", text(&request)),
                    );
                    return Ok(HostReply::Error(HostCode::Rejected));
                }
                let (outcome, fuel) = self.one(depth + 1, &callee, &endpoint, &request)?;
                self.fuel_downstream += fuel;
                match outcome {
                    Ok(body) => {
                        self.record(depth, service, name, &target, None, text(&body));
                        HostReply::Value(body)
                    }
                    Err(fault) => {
                        self.record(
                            depth,
                            service,
                            name,
                            &target,
                            None,
                            format!("unavailable (callee faulted: {fault})"),
                        );
                        HostReply::Error(HostCode::Unavailable)
                    }
                }
            }
        })
    }
}
