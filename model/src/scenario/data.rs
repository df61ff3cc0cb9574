//! D: data stores — key-value databases, caches and message brokers — with their replication.

use serde::Serialize;

use super::NameRef;
use super::reader::{Cx, Obj};
use super::topology::Distribution;
use crate::diagnostic::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    Kv,
    Cache,
    Broker,
}

impl StoreKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Kv => "kv",
            StoreKind::Cache => "cache",
            StoreKind::Broker => "broker",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    /// Writes are acknowledged after a quorum of replicas applied them.
    Strong,
    /// Writes are acknowledged by one replica and replicated asynchronously with lag.
    Eventual,
}

/// How a replica orders concurrent writes to the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// Last writer wins by (version, writer) — replicas converge whatever the arrival order.
    LwwVersion,
    /// Apply in arrival order — replicas may diverge under reordering.
    ArrivalOrder,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Store {
    pub name: String,
    pub kind: StoreKind,
    /// Nodes its replicas are placed on, round-robin.
    pub nodes: Vec<NameRef>,
    pub replicas: u32,
    pub consistency: Consistency,
    pub conflict: ConflictPolicy,
    /// Asynchronous replication delay (eventual consistency).
    pub replication_lag: Distribution,
    /// Time one operation takes at a replica.
    pub latency: Distribution,
    /// Cache only: entries kept (LRU beyond).
    pub capacity: Option<u64>,
    /// Cache only: time to live of an entry, in milliseconds.
    pub ttl_ms: Option<f64>,
    /// Cache only: the key-value store this cache fronts (`of`), whose replica 0 holds the
    /// values the cache's entries should mirror.
    pub of: Option<NameRef>,
    /// Cache only: how long, in milliseconds, a read may return a value that differs from the
    /// fronted store's current one (`cache-staleness` judges it; needs `of`).
    pub staleness_ms: Option<f64>,
    /// Key-value only: a replicated write that cannot get through (partition, loss) is resent
    /// until it does (`true`, the default: anti-entropy), or dropped for good (`false`: the
    /// replica stays stale until a later write of the key reaches it).
    pub anti_entropy: bool,
    /// Contents every replica starts with: key → value (a string is stored as is, anything
    /// else as its JSON text).
    pub init: Vec<(String, serde_json::Value)>,
    #[serde(skip)]
    pub span: Span,
}

/// How a JSON value is stored as bytes in a key-value store: a string as its text, anything else
/// as its JSON text. Shared by a store's `init`, the simulator and `invoke --store-init`.
#[must_use]
pub fn stored_bytes(value: &serde_json::Value) -> Vec<u8> {
    match value {
        serde_json::Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

impl Store {
    /// The (key, value) bytes every replica starts with.
    pub fn initial_entries(&self) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
        self.init.iter().map(|(k, v)| (k.clone().into_bytes(), stored_bytes(v)))
    }

    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Store> {
        let name = o.req_str(cx, "name", "the store's name");
        let kind = if o.has("kind") {
            o.opt_enum(
                cx,
                "kind",
                &[
                    ("kv", StoreKind::Kv),
                    ("cache", StoreKind::Cache),
                    ("broker", StoreKind::Broker),
                ],
            )
        } else {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("kind"),
                "missing required field `kind` (kv, cache or broker)",
            );
            None
        };
        let nodes: Vec<NameRef> = o.str_list(cx, "nodes").into_iter().map(NameRef::from).collect();
        if nodes.is_empty() {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("nodes"),
                "a store needs `nodes`: at least one topology node for its replicas",
            );
        }
        let replicas = o.opt_u64(cx, "replicas", 1, 1_000).unwrap_or(nodes.len().max(1) as u64);
        let consistency = o
            .opt_enum(
                cx,
                "consistency",
                &[("strong", Consistency::Strong), ("eventual", Consistency::Eventual)],
            )
            .unwrap_or(Consistency::Strong);
        let conflict = o
            .opt_enum(
                cx,
                "conflict",
                &[
                    ("lww-version", ConflictPolicy::LwwVersion),
                    ("arrival-order", ConflictPolicy::ArrivalOrder),
                ],
            )
            .unwrap_or(ConflictPolicy::LwwVersion);
        let replication_lag = match o.opt_table(cx, "replication_lag") {
            Some(t) => Distribution::read(cx, t).unwrap_or(Distribution::Constant { ms: 10.0 }),
            None => Distribution::Constant { ms: 10.0 },
        };
        let latency = match o.opt_table(cx, "latency") {
            Some(t) => Distribution::read(cx, t).unwrap_or(Distribution::Constant { ms: 0.5 }),
            None => Distribution::Constant { ms: 0.5 },
        };
        let (mut capacity, mut ttl_ms, mut of, mut staleness_ms) = (None, None, None, None);
        if kind == Some(StoreKind::Cache) {
            capacity = Some(o.opt_u64(cx, "capacity", 1, 1 << 40).unwrap_or(10_000));
            ttl_ms = Some(o.opt_f64(cx, "ttl_ms", 0.0, 1e12).unwrap_or(60_000.0));
            of = o.opt_str(cx, "of").map(NameRef::from);
            staleness_ms = o.opt_f64(cx, "staleness_ms", 0.0, 1e12);
            if staleness_ms.is_some() && of.is_none() {
                cx.error(
                    "parse.missing-field",
                    o.span,
                    &o.field("of"),
                    "a cache with `staleness_ms` needs `of`: the key-value store it fronts",
                );
            }
        }
        let anti_entropy = if kind == Some(StoreKind::Kv) {
            o.opt_bool(cx, "anti_entropy").unwrap_or(true)
        } else {
            true
        };
        let mut init = Vec::new();
        if let Some(t) = o.opt_table(cx, "init") {
            for (key, _, value) in t.entries() {
                if let Some(v) = super::workload::to_json(cx, value, &format!("{}.{key}", t.path)) {
                    init.push((key.to_owned(), v));
                }
            }
        }
        let span = o.span;
        o.finish(cx);
        Some(Store {
            name: name?.0,
            kind: kind.unwrap_or(StoreKind::Kv),
            nodes,
            replicas: u32::try_from(replicas).unwrap_or(u32::MAX),
            consistency,
            conflict,
            replication_lag,
            latency,
            capacity,
            ttl_ms,
            of,
            staleness_ms,
            anti_entropy,
            init,
            span,
        })
    }
}
