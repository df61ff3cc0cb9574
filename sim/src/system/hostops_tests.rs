//! The host operations of issue 13 item 5 on real runs: `kv_scan`, `kv_delete`, `cache_delete`
//! and `call_timeout` as the engine performs them, and how the oracles judge them — a failed
//! compare-and-set is a correct refusal (neither an effect nor a lost update), a delete that
//! removes a value is an effect, one of an absent key is not, an invalidated cache key reads as
//! absent.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use super::*;
use crate::properties::{Status, Verdict};
use crate::runtime::fake::{FakeCall, FakeHost, report};
use crate::runtime::{
    CasExpect, HostCode, HostContext, HostOp, HostReply, InvocationId, InvokeError, Response,
    ServiceHost, Slice, SliceOutcome,
};
use crate::trace::{self, TraceEvent};

fn scenario(extra: &str) -> Scenario {
    let text = format!("{}{extra}", super::tests::two_nodes("hostops", 2000));
    let parsed = fusebench_model::parse("hostops.toml", &text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    parsed.ok().expect("valid")
}

fn run(s: &Scenario, host: Box<dyn ServiceHost>) -> RunResult {
    let mut o = RunOptions::new(3);
    o.trace = TraceMode::Full;
    Sim::new(s.clone(), host, &o).run()
}

fn events(r: &RunResult) -> Vec<TraceEvent> {
    trace::read(&r.trace).map(|l| l.expect("reads back").event).collect()
}

fn verdict(s: &Scenario, r: &RunResult, id: &str) -> Verdict {
    let all = crate::properties::check(s, r);
    all.into_iter().find(|v| v.id == id).unwrap_or_else(|| panic!("no verdict {id}"))
}

/// Any host, with every reply the engine gives it recorded (the engine owns the host, so the
/// record is shared).
struct Recording {
    inner: Box<dyn ServiceHost>,
    replies: Rc<RefCell<Vec<HostReply>>>,
}

fn recording(
    inner: impl ServiceHost + 'static,
) -> (Box<dyn ServiceHost>, Rc<RefCell<Vec<HostReply>>>) {
    let replies = Rc::new(RefCell::new(Vec::new()));
    (Box::new(Recording { inner: Box::new(inner), replies: Rc::clone(&replies) }), replies)
}

impl ServiceHost for Recording {
    fn start_in(
        &mut self,
        service: &str,
        pool: u32,
        endpoint: &str,
        request: &[u8],
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        self.inner.start_in(service, pool, endpoint, request, ctx)
    }

    fn resume(
        &mut self,
        invocation: InvocationId,
        reply: HostReply,
        ctx: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        self.replies.borrow_mut().push(reply.clone());
        self.inner.resume(invocation, reply, ctx)
    }

    fn abandon(&mut self, invocation: InvocationId) -> bool {
        self.inner.abandon(invocation)
    }
}

/// Service `w` (public endpoint `go`, on node `a`, capabilities kv and cache) owning store
/// `db` (`store`: its fields after `kind`, `nodes` included) and cache `c` (`cache`: its
/// fields, empty for no cache); `endpoint` goes into the endpoint's table, `mix` into the
/// workload's mix; `rate` requests per second for one second.
struct Owner<'a> {
    store: &'a str,
    cache: &'a str,
    /// Extra fields of `w`'s table.
    service: &'a str,
    endpoint: &'a str,
    mix: &'a str,
    rate: u32,
}

impl Owner<'_> {
    const DEFAULT: Owner<'static> = Owner {
        store: "nodes = [\"b\"]\nconsistency = \"strong\"",
        cache: "",
        service: "",
        endpoint: "",
        mix: "",
        rate: 10,
    };

    fn scenario(&self) -> Scenario {
        scenario(&self.scenario_text())
    }

    /// The scenario's text after the topology (more tables may follow it).
    fn scenario_text(&self) -> String {
        let Owner { store, cache, service, endpoint, mix, rate } = self;
        let (cache, owns) = if cache.is_empty() {
            (String::new(), r#"["db"]"#)
        } else {
            (format!("[[store]]\nname = \"c\"\nkind = \"cache\"\n{cache}\n"), r#"["db", "c"]"#)
        };
        format!(
            r#"
[[store]]
name = "db"
kind = "kv"
{store}
{cache}
[[service]]
name = "w"
context = "c"
node = "a"
module = "w.wasm"
capabilities = ["kv", "cache"]
owns = {owns}
concurrency = 64
{service}
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/go"
  public = true
  {endpoint}
[workload]
duration_s = 1
arrival = {{ kind = "constant", rate_rps = {rate} }}
  [[workload.mix]]
  service = "w"
  endpoint = "go"
  {mix}
"#
        )
    }
}

/// The replies that carry bytes (scans, gets), decoded as JSON.
fn values(replies: &[HostReply]) -> Vec<serde_json::Value> {
    replies
        .iter()
        .filter_map(|reply| match reply {
            HostReply::Value(v) => Some(serde_json::from_slice(v).expect("JSON")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_scan_answers_the_live_keys_with_the_prefix_in_order_and_reads_each() {
    let store = r#"nodes = ["b"]
consistency = "strong"
  [store.init]
  "item/1" = "a"
  "item/2" = "b"
  "item/3" = "c"
  "item/4" = "d"
  "other" = "x""#;
    let s = Owner { store, rate: 3, ..Owner::DEFAULT }.scenario();
    let host = FakeHost::new(serde_json::json!({}), |_, _| {
        vec![
            HostOp::KvDelete { store: "db".into(), key: b"item/2".to_vec() },
            HostOp::KvScan { store: "db".into(), prefix: b"item/".to_vec(), limit: 2 },
        ]
    });
    let (host, replies) = recording(host);
    let r = run(&s, host);
    let replies = replies.borrow();
    let scans = values(&replies);
    assert!(scans.len() >= 2, "{scans:?}");
    // The deleted key is skipped, the limit holds, `other` has not the prefix.
    let expected = serde_json::json!([
        {"key": "item/1", "value": "a", "version": 0},
        {"key": "item/3", "value": "c", "version": 0},
    ]);
    assert!(scans.iter().all(|scan| *scan == expected), "{scans:?}");
    // The first delete removed a value; the later ones found the key absent (-1).
    let deletes: Vec<&HostReply> =
        replies.iter().filter(|r| !matches!(r, HostReply::Value(_))).collect();
    assert_eq!(deletes[0], &HostReply::Ack);
    assert!(deletes[1..].iter().all(|r| **r == HostReply::Error(HostCode::NotFound)));
    // Every key the scan passed over is a read: the two returned and the deleted one between.
    let events = events(&r);
    let first = events
        .iter()
        .find_map(|e| match e {
            TraceEvent::StoreRead { inv, .. } => Some(*inv),
            _ => None,
        })
        .expect("the scan reads");
    let read: Vec<(&str, u64)> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::StoreRead { inv, key, version, .. } if *inv == first => {
                Some((key.as_str(), *version))
            }
            _ => None,
        })
        .collect();
    assert_eq!(read.len(), 3, "{read:?}");
    assert_eq!((read[0], read[2]), (("item/1", 0), ("item/3", 0)));
    assert_eq!(read[1].0, "item/2");
    assert!(read[1].1 > 0, "the deletion's version: the scan observed the key absent");
    assert_eq!(r.stores["db"][0][b"item/2".as_slice()].value, None);
}

#[test]
fn a_scan_of_an_eventual_store_reads_the_replica_a_get_would() {
    // Two replicas, replication slower than the run: the write the first invocation makes at
    // one replica is not at the other, so scans see it or not depending on the replica read.
    let store = "nodes = [\"a\", \"b\"]\nconsistency = \"eventual\"\nreplication_lag = { dist = \"constant\", ms = 5000.0 }";
    let s = Owner { store, rate: 20, ..Owner::DEFAULT }.scenario();
    let n = Rc::new(Cell::new(0u32));
    let host = FakeHost::new(serde_json::json!({}), move |_, _| {
        n.set(n.get() + 1);
        if n.get() == 1 {
            vec![HostOp::KvPut { store: "db".into(), key: b"p/1".to_vec(), value: b"v".to_vec() }]
        } else {
            vec![HostOp::KvScan { store: "db".into(), prefix: b"p/".to_vec(), limit: 5 }]
        }
    });
    let (host, replies) = recording(host);
    let r = run(&s, host);
    let lens: Vec<usize> =
        values(&replies.borrow()).iter().map(|v| v.as_array().expect("an array").len()).collect();
    assert!(lens.contains(&0) && lens.contains(&1), "both replicas were read: {lens:?}");
    let replicas: BTreeMap<u32, usize> = events(&r).iter().fold(BTreeMap::new(), |mut m, e| {
        if let TraceEvent::StoreRead { replica, .. } = e {
            *m.entry(*replica).or_default() += 1;
        }
        m
    });
    assert_eq!(replicas.len(), 1, "only the replica holding p/1 has a key to read: {replicas:?}");
}

/// Every `w.go` request repeats the idempotency key `k = "same"`: each one after the first is
/// a duplicate of it.
fn same_key(store: &str) -> Scenario {
    Owner {
        store,
        endpoint: "idempotent = true\n  idempotency_key = \"k\"\n  request = { k = \"string\" }",
        mix: "body = { k = \"same\" }",
        ..Owner::DEFAULT
    }
    .scenario()
}

/// A host whose n-th invocation (from 1) performs `ops(n)`.
fn nth(ops: impl Fn(u32) -> Vec<HostOp> + 'static) -> FakeHost {
    let n = Rc::new(Cell::new(0u32));
    FakeHost::new(serde_json::json!({}), move |_: FakeCall<'_>, _| {
        n.set(n.get() + 1);
        ops(n.get())
    })
}

fn value(n: u32) -> Vec<u8> {
    format!("v{n}").into_bytes()
}

#[test]
fn a_failed_compare_and_set_of_a_duplicate_is_a_refusal_not_an_effect() {
    let s = same_key("nodes = [\"b\"]\nconsistency = \"strong\"");
    // Every delivery claims `k` with its own value if absent: only the first writes.
    let cas = |n| {
        let expect = CasExpect::Absent;
        vec![HostOp::KvCas { store: "db".into(), key: b"k".to_vec(), expect, new: value(n) }]
    };
    let (host, replies) = recording(nth(cas));
    let r = run(&s, host);
    let conflicts =
        replies.borrow().iter().filter(|r| **r == HostReply::Error(HostCode::Conflict)).count();
    assert!(conflicts >= 5, "{conflicts}");
    let v = verdict(&s, &r, "idempotence");
    assert_eq!(v.status, Status::Held, "{v:#?}");
    // The same duplicates writing unconditionally change the value again: a violation.
    let put = |n| vec![HostOp::KvPut { store: "db".into(), key: b"k".to_vec(), value: value(n) }];
    let v = verdict(&s, &run(&s, Box::new(nth(put))), "idempotence");
    assert_eq!(v.status, Status::Failed, "{v:#?}");
}

#[test]
fn a_duplicate_deleting_a_value_is_an_effect_deleting_an_absent_key_is_not() {
    let store = "nodes = [\"b\"]\nconsistency = \"strong\"\n  [store.init]\n  \"k\" = \"x\"";
    let s = same_key(store);
    // Every delivery deletes `k`: the first removes it, the others find it absent.
    let delete = |_| vec![HostOp::KvDelete { store: "db".into(), key: b"k".to_vec() }];
    let v = verdict(&s, &run(&s, Box::new(nth(delete))), "idempotence");
    assert_eq!(v.status, Status::Held, "{v:#?}");
    // The first delivery writes `k`, the second deletes it: that removal changes the state.
    let toggle = |n| {
        if n == 1 {
            vec![HostOp::KvPut { store: "db".into(), key: b"k".to_vec(), value: value(n) }]
        } else {
            vec![HostOp::KvDelete { store: "db".into(), key: b"k".to_vec() }]
        }
    };
    let v = verdict(&s, &run(&s, Box::new(nth(toggle))), "idempotence");
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("key `k`"), "{v:#?}");
    let changes = v.findings.iter().filter(|f| f.contains("key `k`")).count();
    assert_eq!(changes, 1, "only the delete that removed the value: {v:#?}");
}

/// How the counter writes its increment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Write {
    /// A read, then a plain put: the racy read-modify-write.
    #[default]
    Put,
    /// A read, then a compare-and-set over the value read (`kv_cas`).
    CasValue,
    /// A versioned read, then a compare-and-set over the version read (`kv_cas_version`).
    CasVersion,
}

/// A counter service that increments `db`/`n` by read-modify-write: with a compare-and-set, a
/// read then a compare-and-set over what was read, again from the read on a conflict (the
/// correct loop); with a put, the racy one.
#[derive(Default)]
struct Counter {
    write: Write,
    next: u64,
    /// Per suspended invocation: the value it read (`None`: it waits for a read).
    pending: BTreeMap<InvocationId, Option<u64>>,
    /// Increments the store acknowledged.
    done: Rc<Cell<u64>>,
}

impl Counter {
    fn slice(invocation: InvocationId, outcome: SliceOutcome) -> Slice {
        Slice {
            invocation,
            fuel_used: 1_000,
            outcome,
            memory: crate::runtime::InstanceMemory::NONE,
            instance: None,
        }
    }

    fn read(&self, invocation: InvocationId) -> Slice {
        let (store, key) = ("db".into(), b"n".to_vec());
        let op = if self.write == Write::CasVersion {
            HostOp::KvGetVersioned { store, key, version_out: 0 }
        } else {
            HostOp::KvGet { store, key }
        };
        Counter::slice(invocation, SliceOutcome::Pending(op))
    }

    fn answer(invocation: InvocationId) -> Slice {
        let json = serde_json::json!({});
        let body = json.to_string();
        Counter::slice(invocation, SliceOutcome::Done(Response { body, json, report: report(1) }))
    }
}

impl ServiceHost for Counter {
    fn start_in(
        &mut self,
        _: &str,
        _: u32,
        _: &str,
        _: &[u8],
        _: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        let invocation = InvocationId(self.next);
        self.next += 1;
        self.pending.insert(invocation, None);
        Ok(self.read(invocation))
    }

    fn resume(
        &mut self,
        invocation: InvocationId,
        reply: HostReply,
        _: &mut HostContext<'_>,
    ) -> Result<Slice, InvokeError> {
        let write = self.write;
        let Some(state) = self.pending.get_mut(&invocation) else {
            return Err(InvokeError::UnknownInvocation { invocation });
        };
        let number = |v: &[u8]| std::str::from_utf8(v).ok().and_then(|t| t.parse::<u64>().ok());
        let read = match (*state, reply) {
            (None, HostReply::Value(v)) => Some((v, None)),
            (None, HostReply::Versioned { value, version }) => Some((value, Some(version))),
            (Some(_), HostReply::Error(HostCode::Conflict)) => {
                *state = None;
                return Ok(self.read(invocation));
            }
            (Some(_), HostReply::Ack) => {
                self.done.set(self.done.get() + 1);
                self.pending.remove(&invocation);
                return Ok(Counter::answer(invocation));
            }
            _ => None,
        };
        let Some((v, version)) = read else {
            self.pending.remove(&invocation);
            return Ok(Counter::answer(invocation));
        };
        let n = number(&v).expect("a number");
        *state = Some(n);
        let (store, key, new) = ("db".into(), b"n".to_vec(), (n + 1).to_string().into_bytes());
        let op = match (write, version) {
            (Write::Put, _) => HostOp::KvPut { store, key, value: new },
            (Write::CasValue, _) => HostOp::KvCas { store, key, expect: CasExpect::Value(v), new },
            (Write::CasVersion, Some(version)) => {
                HostOp::KvCas { store, key, expect: CasExpect::Version(version), new }
            }
            (Write::CasVersion, None) => panic!("a versioned read answered without a version"),
        };
        Ok(Counter::slice(invocation, SliceOutcome::Pending(op)))
    }

    fn abandon(&mut self, invocation: InvocationId) -> bool {
        self.pending.remove(&invocation).is_some()
    }
}

/// One run of the counter on `store` (two replicas of `w`, 64 invocations at a time each, 100
/// increments a second): the run, and the increments acknowledged.
fn count(write: Write, store: &str) -> (Scenario, RunResult, u64) {
    let s = Owner { store, service: "replicas = 2", rate: 100, ..Owner::DEFAULT }.scenario();
    let done = Rc::new(Cell::new(0));
    let host = Counter { write, done: Rc::clone(&done), ..Counter::default() };
    let r = run(&s, Box::new(host));
    (s, r, done.get())
}

fn held(r: &RunResult, replica: usize) -> u64 {
    let v = r.stores["db"][replica][b"n".as_slice()].value.as_deref().expect("n is set");
    std::str::from_utf8(v).expect("text").parse().expect("a number")
}

#[test]
fn a_compare_and_set_loop_loses_no_update_under_concurrency_and_its_conflicts_are_no_effect() {
    // The store is 20 ms away: reads and writes of concurrent increments interleave.
    let store = "nodes = [\"b\"]\nconsistency = \"strong\"\nlatency = { dist = \"constant\", ms = 20.0 }\n  [store.init]\n  \"n\" = \"0\"";
    for (write, import) in [(Write::CasValue, "kv_cas"), (Write::CasVersion, "kv_cas_version")] {
        let (s, r, done) = count(write, store);
        assert!(done >= 90, "{write:?}: {done}");
        assert_eq!(held(&r, 0), done, "{write:?}: every acknowledged increment counted");
        let conflicts = events(&r)
            .iter()
            .filter(|e| matches!(e, TraceEvent::HostOp { op, .. } if op == import))
            .count() as u64
            - done;
        assert!(conflicts > 0, "{write:?}: the loop met conflicts: the test is about them");
        let v = verdict(&s, &r, "no-lost-update");
        assert_eq!(v.status, Status::Held, "{write:?}: {v:#?}");
        let judged = format!("{done} made with compare-and-set");
        assert!(v.notes[0].contains(&judged), "only the successful ones are writes: {v:#?}");
    }
    // The same increments with a plain put lose updates, and the oracle says so.
    let (s, r, done) = count(Write::Put, store);
    assert!(held(&r, 0) < done, "{} of {done}", held(&r, 0));
    let v = verdict(&s, &r, "no-lost-update");
    assert_eq!(v.status, Status::Failed, "{v:#?}");
}

#[test]
fn a_compare_and_set_loop_on_two_eventual_replicas_loses_updates_and_the_oracle_sees_it() {
    // On an eventual store each replica decides its own compare-and-sets (guests/ABI.md): one
    // that has not yet received a concurrent increment accepts a compare-and-set over the
    // older value (or version), and last-writer-wins keeps only one of the two.
    let store = "nodes = [\"a\", \"b\"]\nconsistency = \"eventual\"\nlatency = { dist = \"constant\", ms = 20.0 }\n  [store.init]\n  \"n\" = \"0\"";
    for write in [Write::CasValue, Write::CasVersion] {
        let (s, r, done) = count(write, store);
        assert!(done >= 90, "{write:?}: {done}");
        assert_eq!(held(&r, 0), held(&r, 1), "{write:?}: the replicas converged");
        assert!(held(&r, 0) < done, "{write:?}: updates were lost: {} of {done}", held(&r, 0));
        let v = verdict(&s, &r, "no-lost-update");
        assert_eq!(v.status, Status::Failed, "{write:?}: {v:#?}");
        assert!(v.findings[0].contains("had not received that update"), "{v:#?}");
    }
}

#[test]
fn a_version_compare_and_set_sees_an_a_b_a_change_that_a_value_compare_and_set_misses() {
    // The first invocation reads `k` ("A", version 0), then waits out 15 more reads (20 ms
    // each) before writing "C" over what it read; meanwhile the second writes "B" and the
    // third "A" again. By value nothing changed; by version two writes came in between.
    let store = "nodes = [\"b\"]\nconsistency = \"strong\"\nlatency = { dist = \"constant\", ms = 20.0 }\n  [store.init]\n  \"k\" = \"A\"";
    let s = Owner { store, ..Owner::DEFAULT }.scenario();
    let outcome = |expect: CasExpect| {
        let script = move |n: u32| {
            let (db, k) = (String::from("db"), b"k".to_vec());
            let put =
                |v: &[u8]| HostOp::KvPut { store: db.clone(), key: k.clone(), value: v.to_vec() };
            match n {
                1 => {
                    let mut ops = vec![HostOp::KvGetVersioned {
                        store: db.clone(),
                        key: k.clone(),
                        version_out: 0,
                    }];
                    ops.extend(
                        (0..15)
                            .map(|_| HostOp::KvGet { store: db.clone(), key: b"other".to_vec() }),
                    );
                    ops.push(HostOp::KvCas {
                        store: db,
                        key: k,
                        expect: expect.clone(),
                        new: b"C".to_vec(),
                    });
                    ops
                }
                2 => vec![put(b"B")],
                3 => vec![put(b"A")],
                _ => Vec::new(),
            }
        };
        let (host, replies) = recording(nth(script));
        let r = run(&s, host);
        let writes: Vec<(u64, String)> = events(&r)
            .iter()
            .filter_map(|e| match e {
                TraceEvent::StoreWrite { inv, value, .. } => {
                    Some((*inv, value.clone().unwrap_or_default()))
                }
                _ => None,
            })
            .collect();
        let cas_reply = replies.borrow().last().cloned().expect("the compare-and-set was answered");
        (r, writes, cas_reply)
    };
    // The versioned read gave version 0 (the initial entry): the guest's expectation below.
    let (r, writes, reply) = outcome(CasExpect::Value(b"A".to_vec()));
    assert_eq!(reply, HostReply::Ack, "by value, A is what it read: {writes:?}");
    assert_eq!(writes.iter().map(|w| w.1.as_str()).collect::<Vec<_>>(), ["B", "A", "C"]);
    assert_eq!(verdict(&s, &r, "no-lost-update").status, Status::Held);
    let (r, writes, reply) = outcome(CasExpect::Version(0));
    assert_eq!(
        reply,
        HostReply::Error(HostCode::Conflict),
        "by version, two writes came in between"
    );
    assert_eq!(writes.iter().map(|w| w.1.as_str()).collect::<Vec<_>>(), ["B", "A"]);
    // Nothing was written after a read: no write to judge, and no pass claimed.
    assert_eq!(verdict(&s, &r, "no-lost-update").status, Status::NotExercised);
}

/// `w` keeps `c` in front of `db`, bounded to 100 ms of staleness: the first invocation caches
/// `old`, the second writes `new` to the store (and invalidates the cache key when
/// `invalidate`), every later one reads the cache.
fn cache_run(invalidate: bool) -> (Scenario, RunResult) {
    let cache = "nodes = [\"b\"]\nof = \"db\"\nstaleness_ms = 100\nttl_ms = 60000";
    let s = Owner { cache, rate: 20, ..Owner::DEFAULT }.scenario();
    let key = || b"k".to_vec();
    let host = nth(move |n| match n {
        1 => vec![HostOp::CachePut { cache: "c".into(), key: key(), value: b"old".to_vec() }],
        2 if invalidate => vec![
            HostOp::KvPut { store: "db".into(), key: key(), value: b"new".to_vec() },
            HostOp::CacheDelete { cache: "c".into(), key: key() },
        ],
        2 => vec![HostOp::KvPut { store: "db".into(), key: key(), value: b"new".to_vec() }],
        _ => vec![HostOp::CacheGet { cache: "c".into(), key: key() }],
    });
    let r = run(&s, Box::new(host));
    (s, r)
}

#[test]
fn an_invalidated_cache_key_reads_as_absent_so_a_later_miss_is_no_staleness() {
    let (s, r) = cache_run(false);
    let v = verdict(&s, &r, "cache-staleness");
    assert_eq!(v.status, Status::Failed, "without invalidation the old value is read: {v:#?}");

    let (s, r) = cache_run(true);
    let events = events(&r);
    let deleted: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::CacheDelete { cache, key, existed, .. } if cache == "c" && key == "k" => {
                Some(*existed)
            }
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [true]);
    // A replay tells it in words.
    let told: Vec<String> = trace::read(&r.trace)
        .map(|l| l.expect("reads back"))
        .filter(|l| matches!(l.event, TraceEvent::CacheDelete { .. }))
        .map(|l| crate::explore::replay::describe(&l))
        .collect();
    assert!(told[0].ends_with("invalidates k in cache c"), "{told:?}");
    let lookups: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::CacheLookup { hit, .. } => Some(*hit),
            _ => None,
        })
        .collect();
    assert!(lookups.len() >= 10 && lookups.iter().all(|hit| !hit), "{lookups:?}");
    let v = verdict(&s, &r, "cache-staleness");
    assert_eq!(v.status, Status::NotExercised, "{v:#?}");
    assert_eq!(r.metrics.stores["c"].writes, 2, "a put and an invalidation");
}

/// Every `cache_read` of a run: (when, store version, ns replaced).
fn cache_reads(r: &RunResult) -> Vec<(SimTime, u64, u64)> {
    trace::read(&r.trace)
        .map(|l| l.expect("reads back"))
        .filter_map(|l| match l.event {
            TraceEvent::CacheRead { store_version, differs_ns, .. } => {
                Some((l.t, store_version, differs_ns))
            }
            _ => None,
        })
        .collect()
}

/// When replica 0 of `db` took each version of `k`: (version, when, value).
fn replica0_takes(r: &RunResult) -> Vec<(u64, SimTime, Option<String>)> {
    let mut values = BTreeMap::new();
    let mut out = Vec::new();
    for l in trace::read(&r.trace).map(|l| l.expect("reads back")) {
        match l.event {
            TraceEvent::StoreWrite { replica, version, value, .. } => {
                values.insert(version, value.clone());
                if replica == 0 {
                    out.push((version, l.t, value));
                }
            }
            TraceEvent::StoreApply { replica: 0, version, applied: true, .. } => {
                out.push((version, l.t, values.get(&version).cloned().flatten()));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_value_written_through_ahead_of_replica_0_is_not_stale() {
    // Every invocation writes its own value to an eventual two-replica store (either replica,
    // 300 ms of replication lag) and through to the cache; later ones read the cache. The
    // cache always holds the newest write, often one replica 0 has not received yet.
    let store = "nodes = [\"a\", \"b\"]\nconsistency = \"eventual\"\nreplication_lag = { dist = \"constant\", ms = 300.0 }";
    let cache = "nodes = [\"b\"]\nof = \"db\"\nstaleness_ms = 100\nttl_ms = 60000";
    let s = Owner { store, cache, rate: 40, ..Owner::DEFAULT }.scenario();
    let host = nth(|n| {
        let (k, v) = (b"k".to_vec(), value(n));
        if n % 4 == 1 {
            vec![
                HostOp::KvPut { store: "db".into(), key: k.clone(), value: v.clone() },
                HostOp::CachePut { cache: "c".into(), key: k, value: v },
            ]
        } else {
            vec![HostOp::CacheGet { cache: "c".into(), key: k }]
        }
    });
    let r = run(&s, Box::new(host));
    let reads = cache_reads(&r);
    // The version of the newest write (at either replica) by each moment: what the cache holds.
    let writes: Vec<(SimTime, u64)> = events_at(&r)
        .into_iter()
        .filter_map(|(t, e)| match e {
            TraceEvent::StoreWrite { version, .. } => Some((t, version)),
            _ => None,
        })
        .collect();
    let newest = |at: SimTime| writes.iter().filter(|(t, _)| *t <= at).map(|w| w.1).max();
    // Reads where replica 0 held an older version than the cached one: the case the property
    // must not call stale.
    let behind = reads.iter().filter(|(t, held, _)| newest(*t).is_some_and(|v| v > *held)).count();
    assert!(reads.len() >= 10 && behind >= 3, "{behind} of {reads:?}");
    assert!(reads.iter().all(|(_, _, ns)| *ns == 0), "{reads:?}");
    assert_eq!(verdict(&s, &r, "cache-staleness").status, Status::Held);
}

#[test]
fn a_cached_value_is_stale_from_the_write_that_replaced_it_however_many_follow() {
    // The first invocation caches `v1` (written first); every later one writes its own value
    // and reads the cache, never invalidating it: the cached value has been replaced since the
    // second write, and a hit says so however many writes came after (a hot key).
    let cache = "nodes = [\"b\"]\nof = \"db\"\nstaleness_ms = 100\nttl_ms = 60000";
    let s = Owner { cache, rate: 40, ..Owner::DEFAULT }.scenario();
    let host = nth(|n| {
        let k = b"k".to_vec();
        let put = HostOp::KvPut { store: "db".into(), key: k.clone(), value: value(n) };
        if n == 1 {
            vec![put, HostOp::CachePut { cache: "c".into(), key: k, value: value(1) }]
        } else {
            vec![put, HostOp::CacheGet { cache: "c".into(), key: k }]
        }
    });
    let r = run(&s, Box::new(host));
    let takes = replica0_takes(&r);
    let replaced = takes[1].1;
    let reads = cache_reads(&r);
    assert!(reads.len() >= 30, "{reads:?}");
    for (t, _, ns) in &reads {
        assert_eq!(*ns, *t - replaced, "stale since the second write ({replaced}): {reads:?}");
    }
    let v = verdict(&s, &r, "cache-staleness");
    assert_eq!(v.status, Status::Failed, "{v:#?}");
    assert!(v.findings[0].contains("had replaced"), "{v:#?}");
}

#[test]
fn a_fill_racing_a_write_is_stale_from_the_write_not_from_the_fill() {
    // The first invocation writes `A`; the second reads it, then waits out five slow reads
    // (20 ms each) before caching what it read; meanwhile the third writes `B`. The value
    // cached was replaced before it was cached: stale from `B`'s write, and later hits say so.
    let store =
        "nodes = [\"b\"]\nconsistency = \"strong\"\nlatency = { dist = \"constant\", ms = 20.0 }";
    let cache = "nodes = [\"b\"]\nof = \"db\"\nstaleness_ms = 100\nttl_ms = 60000";
    let s = Owner { store, cache, rate: 20, ..Owner::DEFAULT }.scenario();
    let host = nth(|n| {
        let k = || b"k".to_vec();
        match n {
            1 => vec![HostOp::KvPut { store: "db".into(), key: k(), value: b"A".to_vec() }],
            2 => {
                let mut ops = vec![HostOp::KvGet { store: "db".into(), key: k() }];
                ops.extend(
                    (0..5).map(|_| HostOp::KvGet { store: "db".into(), key: b"o".to_vec() }),
                );
                ops.push(HostOp::CachePut { cache: "c".into(), key: k(), value: b"A".to_vec() });
                ops
            }
            3 => vec![HostOp::KvPut { store: "db".into(), key: k(), value: b"B".to_vec() }],
            _ => vec![HostOp::CacheGet { cache: "c".into(), key: k() }],
        }
    });
    let r = run(&s, Box::new(host));
    let takes = replica0_takes(&r);
    let b = takes.iter().find(|(_, _, v)| v.as_deref() == Some("B")).expect("B written").1;
    let put = events_at(&r)
        .into_iter()
        .find_map(|(t, e)| matches!(e, TraceEvent::CacheWrite { .. }).then_some(t))
        .expect("the fill");
    assert!(b < put, "B ({b}) was written before the fill ({put})");
    let reads = cache_reads(&r);
    assert!(!reads.is_empty());
    for (t, _, ns) in &reads {
        assert_eq!(*ns, *t - b, "stale since B's write: {reads:?}");
    }
    assert_eq!(verdict(&s, &r, "cache-staleness").status, Status::Failed);
}

fn events_at(r: &RunResult) -> Vec<(SimTime, TraceEvent)> {
    trace::read(&r.trace).map(|l| l.expect("reads back")).map(|l| (l.t, l.event)).collect()
}

/// `w` (two replicas on node `a`, replica 0 crashing at 0.45 s for a second) writes its own key
/// to `db` (one replica on node `b`, `latency_ms` per operation) at every request: which writes
/// were acknowledged to a live writer (`store_acked`), which operations cut a live invocation
/// off (`op_timeout`), and which invocations the crash ended (started on replica 0, no end).
fn crash_while_writing(latency_ms: f64) -> (BTreeMap<&'static str, Vec<u64>>, Vec<u64>) {
    let store = format!(
        "nodes = [\"b\"]\nconsistency = \"strong\"\nlatency = {{ dist = \"constant\", ms = {latency_ms} }}"
    );
    let s = scenario(&format!(
        "{}\n[[fault]]\nkind = \"crash\"\nservice = \"w\"\nreplica = 0\nat_s = 0.45\nrestart_after_s = 1\n",
        Owner { store: &store, service: "replicas = 2", rate: 20, ..Owner::DEFAULT }
            .scenario_text()
    ));
    let host = nth(|n| {
        let key = format!("k{n}").into_bytes();
        vec![HostOp::KvPut { store: "db".into(), key, value: value(n) }]
    });
    let r = run(&s, Box::new(host));
    let (mut on_0, mut ended) = (Vec::new(), Vec::new());
    let mut seen: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for e in events(&r) {
        match e {
            TraceEvent::InvocationStart { inv, replica: 0, .. } => on_0.push(inv),
            TraceEvent::InvocationEnd { inv, .. } => ended.push(inv),
            TraceEvent::StoreWrite { inv, .. } => seen.entry("written").or_default().push(inv),
            TraceEvent::StoreAcked { inv, .. } => seen.entry("acked").or_default().push(inv),
            TraceEvent::OpTimeout { inv, .. } => seen.entry("timed out").or_default().push(inv),
            _ => {}
        }
    }
    let crashed: Vec<u64> = on_0.into_iter().filter(|i| !ended.contains(i)).collect();
    (seen, crashed)
}

#[test]
fn a_writer_its_replica_s_crash_ended_is_told_nothing() {
    // 300 ms per operation: the writes of the invocations the crash ended still land (the
    // store did not see the writer die), but nobody is acknowledged for them.
    let (seen, crashed) = crash_while_writing(300.0);
    let written = &seen["written"];
    assert!(
        !crashed.is_empty() && crashed.iter().all(|i| written.contains(i)),
        "{seen:?} {crashed:?}"
    );
    let acked = &seen["acked"];
    assert!(acked.len() >= 5, "live writers are acknowledged: {seen:?}");
    assert!(acked.iter().all(|i| !crashed.contains(i)), "{acked:?} {crashed:?}");
    // 1.2 s per operation: every operation outlives the 1 s wait; only live invocations are
    // cut off by it.
    let (seen, crashed) = crash_while_writing(1200.0);
    let timed_out = &seen["timed out"];
    assert!(!crashed.is_empty() && timed_out.len() >= 5, "{seen:?} {crashed:?}");
    assert!(timed_out.iter().all(|i| !crashed.contains(i)), "{timed_out:?} {crashed:?}");
}

/// `front.go` (public, node `a`) calls `back.slow` (node `b`, 100 ms per invocation) over the
/// gRPC channel `rpc`: a 1 s timeout, one retry.
fn timed_call(op: impl Fn() -> HostOp + 'static) -> (RunResult, Vec<HostReply>) {
    let s = scenario(
        r#"
[[channel]]
name = "rpc"
kind = "grpc"
timeout_ms = 1000
retries = 1
backoff_ms = 5
[[service]]
name = "front"
context = "c"
node = "a"
module = "front.wasm"
capabilities = ["call"]
  [[service.endpoint]]
  name = "go"
  method = "POST"
  path = "/go"
  public = true
  [[service.call]]
  service = "back"
  endpoint = "slow"
  channel = "rpc"
[[service]]
name = "back"
context = "c"
node = "b"
module = "back.wasm"
concurrency = 64
  [service.service_time]
  ns_per_fuel = 100000.0
  [[service.endpoint]]
  name = "slow"
  grpc = "Back/slow"
[workload]
duration_s = 1
arrival = { kind = "constant", rate_rps = 5 }
  [[workload.mix]]
  service = "front"
  endpoint = "go"
"#,
    );
    let host = FakeHost::new(serde_json::json!({}), move |call: FakeCall<'_>, _| {
        if call.service == "front" { vec![op()] } else { Vec::new() }
    });
    let (host, replies) = recording(host);
    let r = run(&s, host);
    let replies = replies.borrow().clone();
    (r, replies)
}

fn call_to_back(timeout_ms: Option<u32>) -> HostOp {
    let (service, endpoint, request) = ("back".to_owned(), "slow".to_owned(), b"{}".to_vec());
    match timeout_ms {
        Some(timeout_ms) => HostOp::CallTimeout { service, endpoint, request, timeout_ms },
        None => HostOp::Call { service, endpoint, request },
    }
}

#[test]
fn a_short_per_call_timeout_fails_a_slow_call_the_channel_s_timeout_lets_through() {
    // The channel's 1 s: every call succeeds after ~100 ms.
    let (r, replies) = timed_call(|| call_to_back(None));
    assert!(replies.len() >= 4 && replies.iter().all(|r| matches!(r, HostReply::Value(_))));
    assert!(!events(&r).iter().any(|e| matches!(e, TraceEvent::CallFailed { .. })));

    // 30 ms for this call only: each attempt times out, the channel's retry too, and the
    // caller gets `unavailable`.
    let (r, replies) = timed_call(|| call_to_back(Some(30)));
    assert!(replies.len() >= 4, "{replies:?}");
    assert!(replies.iter().all(|r| *r == HostReply::Error(HostCode::Unavailable)), "{replies:?}");
    let events = events(&r);
    let failed: Vec<(u32, bool)> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::CallFailed { attempt, reason, gave_up, .. } => {
                assert_eq!(reason, "timeout");
                Some((*attempt, *gave_up))
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 2 * replies.len(), "two attempts per call: {failed:?}");
    assert!(failed.iter().all(|(attempt, gave_up)| *gave_up == (*attempt == 1)), "{failed:?}");
    // Traced as the call it is.
    assert!(events.iter().any(|e| matches!(e, TraceEvent::HostOp { op, .. } if op == "call")));

    // A generous per-call timeout lets it through again.
    let (_, replies) = timed_call(|| call_to_back(Some(500)));
    assert!(replies.iter().all(|r| matches!(r, HostReply::Value(_))), "{replies:?}");
}

#[test]
fn dynamic_coupling_names_what_a_refused_new_import_attempted() {
    use crate::properties::tests::{run_with, verdict_of};
    let refused = |import, target| TraceEvent::Refused { inv: 7, import, target, code: -2 };
    let events = [
        refused("kv_scan", "a:stock"),
        refused("kv_cas", "a:stock"),
        refused("cache_delete", "a:prices"),
        refused("call_timeout", "a:b.get"),
    ];
    let (s, run) = run_with(&events);
    let v = verdict_of(&s, &run, "dynamic-coupling");
    let said: Vec<&str> = v
        .findings
        .iter()
        .map(|f| f.split(" without declaring it").next().expect("a finding"))
        .collect();
    assert_eq!(
        said,
        [
            "`a` used cache `prices`",
            "`a` called `b.get`",
            "`a` wrote store `stock`",
            "`a` read store `stock`"
        ],
        "{v:#?}"
    );
}
