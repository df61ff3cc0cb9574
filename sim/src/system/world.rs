//! The resolved world: a scenario with its defaults applied, its units converted to
//! nanoseconds, its body templates parsed and every reference turned into a typed id — done
//! once, before the run, so that nothing on the event path looks a name up, converts a unit or
//! re-parses text.
//!
//! The parser already rejects dangling references (an invariant of `model`); resolving them
//! again here returns an error instead of relying on it, so a scenario built by hand (a test, an
//! explored schedule) that breaks the rule is refused, never indexed out of bounds.

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::contract::Shape;
use fusebench_model::scenario::{
    Arrival, Autoscale, ChannelKind, ColdStart, ConflictPolicy, Consistency, Delivery,
    Distribution, FaultKind, FaultTarget, LoadBalancing, ScaleMetric, ScalePolicy, StoreKind,
    Strategy, TimeResource, default_max_surge, default_max_unavailable,
};

use super::ids::{ChannelId, EndpointId, GroupId, NodeId, ReplicaIdx, ServiceId, StoreId};
use super::kv::{KvReplica, Versioned};
use super::template::Body;
use crate::time::{SimTime, millis_to_nanos, secs_to_nanos};

/// A scenario that cannot be simulated: a reference the parser would have refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot simulate: {what} `{name}` is not declared")]
pub struct WorldError {
    pub what: &'static str,
    pub name: String,
}

fn missing(what: &'static str, name: &str) -> WorldError {
    WorldError { what, name: name.to_owned() }
}

/// Timeout, retries and backoff of a synchronous call, from its channel (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallPolicy {
    pub(crate) timeout: u64,
    pub(crate) retries: u32,
    pub(crate) backoff: u64,
    /// The sync channel the call travels on (a `duplication` fault there sends a request
    /// twice); `None` for an undeclared call.
    pub(crate) channel: Option<ChannelId>,
}

impl CallPolicy {
    /// For a call the scenario does not declare (the host's permission check normally refuses
    /// it first).
    const UNDECLARED: CallPolicy =
        CallPolicy { timeout: 1_000_000_000, retries: 0, backoff: 50_000_000, channel: None };
}

#[derive(Debug)]
pub(crate) struct EndpointSpec {
    pub(crate) name: String,
    pub(crate) public: bool,
    pub(crate) request: Shape,
    pub(crate) response: Shape,
    /// `service.endpoint`, the key of its client-side metrics.
    pub(crate) metric_key: String,
    /// The `p50_ms` and `p99_ms` targets of its SLOs: their buckets' latencies are counted
    /// value by value (`metrics/exact.rs`).
    pub(crate) latency_targets_ms: Vec<f64>,
    /// The request field naming a logical request across retries (traced with every
    /// invocation, so idempotence can group requests by it).
    pub(crate) idempotency_key: Option<String>,
    /// Application error codes that count as available.
    pub(crate) expected_errors: Vec<String>,
    /// An abstract endpoint's declared effects, in order.
    pub(crate) effects: Vec<EffectSpec>,
}

/// A declared effect with what generating its payload needs.
#[derive(Debug)]
pub(crate) struct EffectSpec {
    pub(crate) probability: f64,
    pub(crate) action: EffectKind,
}

#[derive(Debug)]
pub(crate) enum EffectKind {
    /// A call; the request is generated from the callee endpoint's request contract, its
    /// `idempotency_key` field (`key`) naming the calling invocation's work.
    Call { service: String, endpoint: String, request: Shape, key: Option<String> },
    /// A publication; the message is generated from the first consumer's request contract,
    /// its `idempotency_key` field (`key`) as a call's.
    Publish { channel: String, message: Shape, key: Option<String> },
    /// A write of the request under the request field `key` (or a generated key).
    Write { store: String, key: Option<String> },
}

/// The effect of `e` resolved against the scenario's contracts.
fn effect_spec(s: &Scenario, e: &fusebench_model::scenario::Effect) -> EffectSpec {
    use fusebench_model::scenario::EffectAction;
    let action = match &e.action {
        EffectAction::Call { service, endpoint } => {
            let callee = s.service(&service.name).and_then(|x| x.endpoint(&endpoint.name));
            EffectKind::Call {
                service: service.name.clone(),
                endpoint: endpoint.name.clone(),
                request: callee.map(|x| x.request.clone()).unwrap_or_default(),
                key: callee.and_then(|x| x.idempotency_key.clone()),
            }
        }
        EffectAction::Publish { channel } => {
            let consumer = s
                .services
                .iter()
                .flat_map(|x| x.subscriptions.iter().map(move |sub| (x, sub)))
                .find(|(_, sub)| sub.channel.name == channel.name)
                .and_then(|(x, sub)| x.endpoint(&sub.endpoint.name));
            EffectKind::Publish {
                channel: channel.name.clone(),
                message: consumer.map(|x| x.request.clone()).unwrap_or_default(),
                key: consumer.and_then(|x| x.idempotency_key.clone()),
            }
        }
        EffectAction::Write { store, key } => {
            EffectKind::Write { store: store.name.clone(), key: key.clone() }
        }
    };
    EffectSpec { probability: e.probability, action }
}

#[derive(Debug)]
pub(crate) struct ServiceSpec {
    pub(crate) name: String,
    pub(crate) node: NodeId,
    /// Replicas at the start (its version subsets' own included).
    pub(crate) replicas: u32,
    /// Replica positions the run may use: `replicas`, or `max_replicas` when it autoscales,
    /// or `replicas + max_surge` when a rolling rollout replaces its module (a position is an
    /// index into every per-replica table).
    pub(crate) slots: u32,
    pub(crate) autoscale: Option<AutoscaleSpec>,
    /// Its rollout (an index into `World::rollouts`), if the scenario has one.
    pub(crate) rollout: Option<usize>,
    /// Memory one replica reserves on its node, KiB: `concurrency` instances of at most
    /// `memory_max_kib` each for a service with a module (the `node-memory` check's rule),
    /// none for an abstract one.
    pub(crate) memory_request_kib: u64,
    pub(crate) has_module: bool,
    pub(crate) distribution: Option<Distribution>,
    /// What the declared distribution's time is spent on (CPU shares the node's cores).
    pub(crate) time_resource: TimeResource,
    pub(crate) ns_per_fuel: f64,
    pub(crate) concurrency: u32,
    pub(crate) queue_capacity: usize,
    pub(crate) balancing: LoadBalancing,
    pub(crate) endpoints: Vec<EndpointSpec>,
    endpoint_index: BTreeMap<String, EndpointId>,
    /// Declared calls: (callee, endpoint) → the first declaration's channel policy.
    calls: BTreeMap<(ServiceId, EndpointId), CallPolicy>,
}

impl ServiceSpec {
    pub(crate) fn endpoint_id(&self, name: &str) -> Option<EndpointId> {
        self.endpoint_index.get(name).copied()
    }

    pub(crate) fn endpoint(&self, id: EndpointId) -> &EndpointSpec {
        &self.endpoints[id.index()]
    }

    /// The policy of a call to `callee.endpoint` made by this service.
    pub(crate) fn call_policy(&self, callee: ServiceId, endpoint: EndpointId) -> CallPolicy {
        self.calls.get(&(callee, endpoint)).copied().unwrap_or(CallPolicy::UNDECLARED)
    }
}

/// `[service.autoscale]` in nanoseconds (`system/autoscale.rs`).
#[derive(Debug, Clone)]
pub(crate) struct AutoscaleSpec {
    pub(crate) min: u32,
    pub(crate) max: u32,
    pub(crate) metric: ScaleMetric,
    pub(crate) target: f64,
    pub(crate) interval: u64,
    pub(crate) tolerance: f64,
    pub(crate) up_window: u64,
    pub(crate) down_window: u64,
    pub(crate) up_percent: f64,
    pub(crate) up_pods: u32,
    pub(crate) up_period: u64,
    pub(crate) down_percent: f64,
    pub(crate) down_period: u64,
    pub(crate) startup: u64,
    /// Millicores one replica requests (0: none declared).
    pub(crate) cpu_request_milli: u64,
    pub(crate) cold_start: ColdStart,
    /// Scale to zero (`min_replicas = 0`): Knative's grace period and activator.
    pub(crate) zero: Option<ZeroSpec>,
    /// What turns the metric into a desired count.
    pub(crate) policy: PolicySpec,
    /// How far ahead a predictive policy looks, ms: the scenario's `horizon_s`, or the
    /// declared start-up plus one interval.
    pub(crate) horizon_ms: u64,
    /// The intervals of history a predictive policy is given (0: none kept).
    pub(crate) window: usize,
}

/// `policy` of `[service.autoscale]` (`system/autoscale.rs`).
#[derive(Debug, Clone)]
pub(crate) enum PolicySpec {
    Reactive,
    /// Holt's linear method (`system/autoscale/forecast.rs`).
    Holt {
        alpha: f64,
        beta: f64,
    },
    /// A policy module, loaded in the host as `policy:<service>`
    /// (`system/autoscale/policy.rs`), and the numbers it is handed.
    Module {
        params: BTreeMap<String, f64>,
    },
}

/// Scale to zero in nanoseconds (`system/activator.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZeroSpec {
    pub(crate) grace: u64,
    pub(crate) capacity: usize,
    pub(crate) timeout: u64,
}

impl AutoscaleSpec {
    fn new(a: &Autoscale) -> Self {
        AutoscaleSpec {
            min: a.min_replicas,
            max: a.max_replicas,
            metric: a.metric,
            target: a.target,
            interval: secs_to_nanos(a.interval_s).max(1),
            tolerance: a.tolerance,
            up_window: secs_to_nanos(a.scale_up_stabilisation_s),
            down_window: secs_to_nanos(a.scale_down_stabilisation_s),
            up_percent: a.scale_up_percent,
            up_pods: a.scale_up_pods,
            up_period: secs_to_nanos(a.scale_up_period_s),
            down_percent: a.scale_down_percent,
            down_period: secs_to_nanos(a.scale_down_period_s),
            startup: millis_to_nanos(a.startup_ms),
            cpu_request_milli: a.cpu_request.map_or(0, |c| (c * 1000.0).round() as u64),
            cold_start: a.cold_start,
            policy: match &a.policy {
                ScalePolicy::Reactive => PolicySpec::Reactive,
                ScalePolicy::HoltWinters(f) => PolicySpec::Holt { alpha: f.alpha, beta: f.beta },
                ScalePolicy::Module(m) => PolicySpec::Module { params: m.params.clone() },
            },
            horizon_ms: a
                .policy
                .horizon_s()
                .map_or(a.startup_ms + a.interval_s * 1000.0, |h| h * 1000.0)
                .round() as u64,
            window: a.policy.window() as usize,
            zero: a.scale_to_zero.map(|z| ZeroSpec {
                grace: secs_to_nanos(z.grace_s),
                capacity: z.activator_capacity as usize,
                timeout: secs_to_nanos(z.activator_timeout_s).max(1),
            }),
        }
    }
}

#[derive(Debug)]
pub(crate) struct StoreSpec {
    pub(crate) name: String,
    pub(crate) kind: StoreKind,
    /// The node of each replica (replicas are placed round-robin over the declared nodes).
    pub(crate) nodes: Vec<NodeId>,
    pub(crate) consistency: Consistency,
    pub(crate) conflict: ConflictPolicy,
    pub(crate) lag: Distribution,
    pub(crate) latency: Distribution,
    pub(crate) capacity: u64,
    pub(crate) ttl_nanos: u64,
    /// A cache: the key-value store it fronts (`of`), whose replica 0 its reads are compared
    /// with.
    pub(crate) of: Option<StoreId>,
    /// Resend a replicated write until it gets through (`anti_entropy`, default true).
    pub(crate) anti_entropy: bool,
    /// What every replica holds at the start (version 0: any write wins over it).
    pub(crate) initial: KvReplica,
}

#[derive(Debug)]
pub(crate) struct ChannelSpec {
    pub(crate) name: String,
    pub(crate) delivery: Delivery,
    pub(crate) broker: Option<StoreId>,
    /// The broker's node (the first replica of its store).
    pub(crate) broker_node: Option<NodeId>,
    /// Where deliveries to consumers start from: the broker's node (node 0 for a channel
    /// without a broker, which the parser refuses for async channels).
    pub(crate) consumers_from: NodeId,
    /// How long the broker waits for an acknowledgement before redelivering.
    pub(crate) ack_timeout: u64,
    /// The consumer groups each message is handed to.
    pub(crate) groups: Vec<GroupId>,
}

/// A consumer group: its members compete for its messages, and each message goes to one of
/// them (round robin) — Kafka's consumer groups on an event stream (subscriptions sharing a
/// group name form one group), RabbitMQ's competing consumers on a queue (every subscription
/// of a queue is a member of its one group, named after the first).
#[derive(Debug)]
pub(crate) struct GroupSpec {
    pub(crate) name: String,
    /// (service, endpoint) of each member, in declaration order.
    pub(crate) members: Vec<(ServiceId, EndpointId)>,
}

#[derive(Debug)]
pub(crate) struct MixSpec {
    pub(crate) service: ServiceId,
    pub(crate) endpoint: EndpointId,
    pub(crate) weight: f64,
    pub(crate) body: Body,
    /// The body's bytes when its template has no generator: every request sends them, so
    /// they are rendered once here (rendering such a body draws nothing).
    pub(crate) fixed: Option<std::sync::Arc<str>>,
}

#[derive(Debug)]
pub(crate) struct WorkloadSpec {
    pub(crate) origin: NodeId,
    pub(crate) arrival: Arrival,
    pub(crate) mix: Vec<MixSpec>,
    /// Picked after the mix entries, by the same draw: a workload without journeys draws as
    /// it always did.
    pub(crate) journeys: Vec<super::journey::JourneySpec>,
    /// The mix's and the journeys' weights together.
    pub(crate) total_weight: f64,
}

/// A network link between two distinct nodes.
#[derive(Debug)]
pub(crate) struct LinkSpec {
    pub(crate) a: NodeId,
    pub(crate) b: NodeId,
    pub(crate) latency: Distribution,
    pub(crate) loss: f64,
}

/// What a fault acts on, resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultSite {
    /// The replicas a crash or module swap hits (a service's, or every one on a node).
    Replicas {
        service: Option<ServiceId>,
        replicas: Vec<(ServiceId, ReplicaIdx)>,
    },
    Link(NodeId, NodeId),
    Channel(ChannelId),
    Store(StoreId),
}

#[derive(Debug)]
pub(crate) struct FaultSpec {
    pub(crate) kind: FaultKind,
    pub(crate) site: FaultSite,
    pub(crate) start: SimTime,
    pub(crate) end: Option<SimTime>,
    /// For a module swap: the name the host knows the replacement module by.
    pub(crate) swap_module: Option<String>,
}

/// The scenario, resolved for simulation.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) name: String,
    pub(crate) nodes: Vec<String>,
    /// Each node's `cpu_cores`.
    pub(crate) node_cores: Vec<u32>,
    /// Each node's `memory_mib`.
    pub(crate) node_memory_mib: Vec<u64>,
    /// Per node: the time to fetch a module there (`module_fetch`), if declared.
    pub(crate) node_module_fetch: Vec<Option<Distribution>>,
    pub(crate) links: Vec<LinkSpec>,
    pub(crate) services: Vec<ServiceSpec>,
    service_index: BTreeMap<String, ServiceId>,
    pub(crate) stores: Vec<StoreSpec>,
    store_index: BTreeMap<String, StoreId>,
    pub(crate) channels: Vec<ChannelSpec>,
    channel_index: BTreeMap<String, ChannelId>,
    pub(crate) groups: Vec<GroupSpec>,
    pub(crate) gateway_node: NodeId,
    pub(crate) gateway_timeout: u64,
    pub(crate) heartbeat: u64,
    pub(crate) registry_ttl: u64,
    pub(crate) discovery_cache: u64,
    pub(crate) workload: Option<WorkloadSpec>,
    pub(crate) faults: Vec<FaultSpec>,
    /// The service mesh, when the scenario has one.
    pub(crate) mesh: Option<super::mesh::MeshSpec>,
    /// `[[rollout]]`, in scenario order.
    pub(crate) rollouts: Vec<RolloutSpec>,
}

/// One `[[rollout]]`, resolved (`system/rollout.rs`).
#[derive(Debug, Clone)]
pub(crate) struct RolloutSpec {
    pub(crate) service: ServiceId,
    /// The name the host knows the new module by: `<service>@rollout<index>`.
    pub(crate) runtime: String,
    pub(crate) start: SimTime,
    pub(crate) strategy: Strategy,
    /// `None`: Kubernetes' 25 % of the desired count of the moment (an autoscaled service's).
    pub(crate) max_surge: Option<u32>,
    pub(crate) max_unavailable: Option<u32>,
    /// A new replica's start-up delay, ns.
    pub(crate) startup: u64,
    /// How long an old replica keeps serving after it left the registry, ns (a pod's
    /// `preStop` sleep: callers' discovery caches forget it meanwhile).
    pub(crate) drain_delay: u64,
    /// The response contracts the rollout states for the new version
    /// (`[rollout.endpoints.<name>] response`): its answers are held to these, not to the
    /// declared ones it changes.
    pub(crate) responses: Vec<(EndpointId, Shape)>,
}

impl RolloutSpec {
    /// (surge, unavailability) for `desired` replicas: the stated numbers, or Kubernetes'
    /// 25 % of the desired count (surge rounded up, unavailability down); both 0 (a desired
    /// count of 0) makes the unavailability 1, as Kubernetes' `ResolveFenceposts` does.
    pub(crate) fn limits(&self, desired: u32) -> (u32, u32) {
        let surge = self.max_surge.unwrap_or(default_max_surge(desired));
        let unavailable = self.max_unavailable.unwrap_or(default_max_unavailable(desired));
        if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
    }
}

/// The name the host knows rollout `index`'s new module of `service` by.
#[must_use]
pub fn rollout_runtime_name(service: &str, index: usize) -> String {
    format!("{service}@rollout{index}")
}

impl World {
    /// Resolves `s`.
    ///
    /// # Errors
    /// A reference to something the scenario does not declare.
    pub(crate) fn new(s: &Scenario) -> Result<World, WorldError> {
        let node_index: BTreeMap<&str, NodeId> =
            s.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), NodeId(i as u32))).collect();
        let node = |name: &str| node_index.get(name).copied().ok_or_else(|| missing("node", name));
        let service_index: BTreeMap<String, ServiceId> = s
            .services
            .iter()
            .enumerate()
            .map(|(i, x)| (x.name.clone(), ServiceId(i as u32)))
            .collect();
        let store_index: BTreeMap<String, StoreId> =
            s.stores.iter().enumerate().map(|(i, d)| (d.name.clone(), StoreId(i as u32))).collect();
        let channel_index: BTreeMap<String, ChannelId> = s
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), ChannelId(i as u32)))
            .collect();
        let service =
            |name: &str| service_index.get(name).copied().ok_or_else(|| missing("service", name));
        let channel =
            |name: &str| channel_index.get(name).copied().ok_or_else(|| missing("channel", name));

        let mut services = Vec::with_capacity(s.services.len());
        for x in &s.services {
            let endpoints: Vec<EndpointSpec> = x
                .endpoints
                .iter()
                .map(|e| EndpointSpec {
                    name: e.name.clone(),
                    public: e.public,
                    request: e.request.clone(),
                    response: e.response.clone(),
                    metric_key: format!("{}.{}", x.name, e.name),
                    latency_targets_ms: s
                        .quality
                        .slos
                        .iter()
                        .filter(|slo| slo.service.name == x.name && slo.endpoint.name == e.name)
                        .flat_map(|slo| [slo.p50_ms, slo.p99_ms])
                        .flatten()
                        .collect(),
                    idempotency_key: e.idempotency_key.clone(),
                    expected_errors: e.expected_errors.clone(),
                    effects: e.effects.iter().map(|f| effect_spec(s, f)).collect(),
                })
                .collect();
            let mut endpoint_index = BTreeMap::new();
            for (i, e) in endpoints.iter().enumerate() {
                // The first of duplicates wins, as a lookup by name would find it.
                endpoint_index.entry(e.name.clone()).or_insert(EndpointId(i as u32));
            }
            // A version subset with replicas of its own is a second Deployment beside the
            // declared one (`mesh/route.rs`): its replicas take the positions after them.
            let subsets = s.mesh.as_ref().map_or(0, |m| m.subset_replicas(&x.name));
            services.push(ServiceSpec {
                name: x.name.clone(),
                node: node(&x.node.name)?,
                replicas: x.replicas + subsets,
                slots: {
                    let most =
                        x.autoscale.as_ref().map_or(x.replicas, |a| a.max_replicas.max(x.replicas));
                    // The surge at the largest desired count it may have.
                    subsets
                        + most
                        + s.rollouts
                            .iter()
                            .find(|r| r.service.name == x.name && r.strategy == Strategy::Rolling)
                            .map_or(0, |r| r.max_surge.unwrap_or(default_max_surge(most)))
                },
                autoscale: x.autoscale.as_ref().map(AutoscaleSpec::new),
                rollout: s.rollouts.iter().position(|r| r.service.name == x.name),
                memory_request_kib: if x.module.is_some() {
                    u64::from(x.concurrency).saturating_mul(s.memory_max_kib(x))
                } else {
                    0
                },
                has_module: x.module.is_some(),
                distribution: x.service_time.distribution,
                time_resource: x.service_time.resource,
                ns_per_fuel: x.service_time.ns_per_fuel,
                concurrency: x.concurrency.max(1),
                queue_capacity: x.queue_capacity as usize,
                balancing: x.load_balancing,
                endpoints,
                endpoint_index,
                calls: BTreeMap::new(),
            });
        }
        for (i, x) in s.services.iter().enumerate() {
            let mut calls = BTreeMap::new();
            for k in &x.calls {
                let callee = service(&k.service.name)?;
                let c = s
                    .channel(&k.channel.name)
                    .ok_or_else(|| missing("channel", &k.channel.name))?;
                // A declared call to an endpoint the callee lacks is refused before it leaves
                // (contract check), so it needs no policy.
                let Some(endpoint) = services[callee.index()].endpoint_id(&k.endpoint.name) else {
                    continue;
                };
                calls.entry((callee, endpoint)).or_insert(CallPolicy {
                    timeout: millis_to_nanos(c.timeout_ms),
                    retries: c.retries,
                    backoff: millis_to_nanos(c.backoff_ms),
                    channel: channel_index.get(&k.channel.name).copied(),
                });
            }
            services[i].calls = calls;
        }

        let mesh = super::mesh::MeshSpec::new(s, &services);

        let mut stores = Vec::with_capacity(s.stores.len());
        for d in &s.stores {
            let placed: Vec<NodeId> =
                d.nodes.iter().map(|n| node(&n.name)).collect::<Result<_, _>>()?;
            let n = d.replicas.max(1) as usize;
            let initial: KvReplica = d
                .initial_entries()
                .map(|(k, v)| (k, Versioned { value: Some(v), version: 0 }))
                .collect();
            stores.push(StoreSpec {
                name: d.name.clone(),
                kind: d.kind,
                nodes: (0..n)
                    .map(|i| placed.get(i % placed.len().max(1)).copied().unwrap_or(NodeId(0)))
                    .collect(),
                consistency: d.consistency,
                conflict: d.conflict,
                lag: d.replication_lag,
                latency: d.latency,
                capacity: d.capacity.unwrap_or(0),
                ttl_nanos: millis_to_nanos(d.ttl_ms.unwrap_or(0.0)),
                of: d
                    .of
                    .as_ref()
                    .and_then(|o| s.stores.iter().position(|x| x.name == o.name))
                    .map(|i| StoreId(i as u32)),
                anti_entropy: d.anti_entropy,
                initial,
            });
        }

        let mut groups: Vec<GroupSpec> = Vec::new();
        let mut channels = Vec::with_capacity(s.channels.len());
        for c in &s.channels {
            let mut mine: Vec<GroupId> = Vec::new();
            for (si, x) in s.services.iter().enumerate() {
                for sub in x.subscriptions.iter().filter(|sub| sub.channel.name == c.name) {
                    let svc = &services[si];
                    let endpoint = svc
                        .endpoint_id(&sub.endpoint.name)
                        .ok_or_else(|| missing("endpoint", &sub.endpoint.name))?;
                    let member = (ServiceId(si as u32), endpoint);
                    let joins = mine.iter().copied().find(|g| {
                        c.kind == ChannelKind::Queue || groups[g.index()].name == sub.group
                    });
                    match joins {
                        Some(g) => groups[g.index()].members.push(member),
                        None => {
                            mine.push(GroupId(groups.len() as u32));
                            let name = sub.group.clone();
                            groups.push(GroupSpec { name, members: vec![member] });
                        }
                    }
                }
            }
            let broker = match &c.broker {
                Some(b) => Some(
                    store_index.get(&b.name).copied().ok_or_else(|| missing("store", &b.name))?,
                ),
                None => None,
            };
            channels.push(ChannelSpec {
                name: c.name.clone(),
                delivery: c.delivery,
                broker,
                broker_node: broker.map(|b| stores[b.index()].nodes[0]),
                consumers_from: broker.map_or(NodeId(0), |b| stores[b.index()].nodes[0]),
                ack_timeout: millis_to_nanos(c.timeout_ms),
                groups: mine,
            });
        }

        let gateway_node = match &s.gateway {
            Some(g) => node(&g.node.name)?,
            None => NodeId(0),
        };
        let workload = match &s.workload {
            None => None,
            Some(w) => {
                let origin = match &w.origin {
                    Some(o) => node(&o.name)?,
                    None => gateway_node,
                };
                let mut mix = Vec::with_capacity(w.mix.len());
                for m in &w.mix {
                    let svc = service(&m.service.name)?;
                    let endpoint = services[svc.index()]
                        .endpoint_id(&m.endpoint.name)
                        .ok_or_else(|| missing("endpoint", &m.endpoint.name))?;
                    let body = Body::parse(&m.body);
                    let fixed = body.fixed().map(|v| {
                        std::sync::Arc::from(serde_json::to_string(&v).unwrap_or_default())
                    });
                    mix.push(MixSpec { service: svc, endpoint, weight: m.weight, body, fixed });
                }
                let mut journeys = Vec::with_capacity(w.journeys.len());
                for j in &w.journeys {
                    journeys.push(super::journey::JourneySpec::new(j, |svc, ep| {
                        let id = service(svc)?;
                        let e = services[id.index()]
                            .endpoint_id(ep)
                            .ok_or_else(|| missing("endpoint", ep))?;
                        Ok((id, e))
                    })?);
                }
                let total_weight = w.mix.iter().map(|m| m.weight).sum::<f64>()
                    + w.journeys.iter().map(|j| j.weight).sum::<f64>();
                Some(WorkloadSpec {
                    origin,
                    arrival: w.arrival.clone(),
                    mix,
                    journeys,
                    total_weight,
                })
            }
        };

        let mut faults = Vec::with_capacity(s.faults.len());
        for f in &s.faults {
            let site = match &f.target {
                FaultTarget::Service { service: name, replica } => {
                    let svc = service(&name.name)?;
                    let n = services[svc.index()].replicas;
                    let replicas = match replica {
                        Some(r) if *r < n => vec![(svc, *r)],
                        Some(_) => return Err(missing("replica of service", &name.name)),
                        // Every position: one an autoscaler filled may be up when it strikes.
                        None => (0..services[svc.index()].slots).map(|r| (svc, r)).collect(),
                    };
                    FaultSite::Replicas { service: Some(svc), replicas }
                }
                FaultTarget::Node { node: name } => {
                    let at = node(&name.name)?;
                    let replicas = services
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| x.node == at)
                        .flat_map(|(i, x)| (0..x.slots).map(move |r| (ServiceId(i as u32), r)))
                        .collect();
                    FaultSite::Replicas { service: None, replicas }
                }
                FaultTarget::Link { between } => {
                    FaultSite::Link(node(&between[0].name)?, node(&between[1].name)?)
                }
                FaultTarget::Channel { channel: name } => FaultSite::Channel(channel(&name.name)?),
                FaultTarget::Store { store } => FaultSite::Store(
                    store_index
                        .get(&store.name)
                        .copied()
                        .ok_or_else(|| missing("store", &store.name))?,
                ),
            };
            // The setup loads a swap's replacement under `<service>@swap<index of the first
            // fault equal to this one>`.
            let swap_module = match (&f.kind, &f.target) {
                (FaultKind::ModuleSwap { .. }, FaultTarget::Service { service: name, .. }) => {
                    let idx = s
                        .faults
                        .iter()
                        .position(|g| g.kind == f.kind && g.target == f.target)
                        .unwrap_or(0);
                    Some(format!("{}@swap{idx}", name.name))
                }
                _ => None,
            };
            let start = SimTime::from_secs_f64(f.at_s);
            faults.push(FaultSpec {
                kind: f.kind.clone(),
                site,
                start,
                end: f.duration_s.map(|d| start + secs_to_nanos(d)),
                swap_module,
            });
        }

        let mut rollouts = Vec::with_capacity(s.rollouts.len());
        for (i, r) in s.rollouts.iter().enumerate() {
            let id = service(&r.service.name)?;
            let responses = r
                .endpoints
                .iter()
                .filter_map(|c| {
                    let e = services[id.index()].endpoint_id(&c.endpoint.name)?;
                    Some((e, c.response.clone()?))
                })
                .collect();
            rollouts.push(RolloutSpec {
                service: id,
                runtime: rollout_runtime_name(&r.service.name, i),
                start: SimTime::from_secs_f64(r.at_s),
                strategy: r.strategy,
                max_surge: r.max_surge,
                max_unavailable: r.max_unavailable,
                startup: millis_to_nanos(r.startup_ms),
                drain_delay: millis_to_nanos(
                    r.drain_delay_ms.unwrap_or(s.registry.discovery_cache_ms),
                ),
                responses,
            });
        }

        let mut links = Vec::with_capacity(s.links.len());
        for l in &s.links {
            let (a, b) = (node(&l.between[0].name)?, node(&l.between[1].name)?);
            if a != b {
                links.push(LinkSpec { a, b, latency: l.latency, loss: l.loss });
            }
        }

        Ok(World {
            name: s.name.clone(),
            nodes: s.nodes.iter().map(|n| n.name.clone()).collect(),
            node_cores: s.nodes.iter().map(|n| n.cpu_cores).collect(),
            node_memory_mib: s.nodes.iter().map(|n| n.memory_mib).collect(),
            node_module_fetch: s.nodes.iter().map(|n| n.module_fetch).collect(),
            links,
            services,
            service_index,
            stores,
            store_index,
            channels,
            channel_index,
            groups,
            gateway_node,
            gateway_timeout: millis_to_nanos(s.gateway.as_ref().map_or(5000.0, |g| g.timeout_ms)),
            heartbeat: millis_to_nanos(s.registry.heartbeat_ms).max(1),
            registry_ttl: millis_to_nanos(s.registry.ttl_ms),
            discovery_cache: millis_to_nanos(s.registry.discovery_cache_ms),
            workload,
            faults,
            rollouts,
            mesh,
        })
    }

    pub(crate) fn service(&self, id: ServiceId) -> &ServiceSpec {
        &self.services[id.index()]
    }

    pub(crate) fn store(&self, id: StoreId) -> &StoreSpec {
        &self.stores[id.index()]
    }

    pub(crate) fn channel(&self, id: ChannelId) -> &ChannelSpec {
        &self.channels[id.index()]
    }

    pub(crate) fn group(&self, id: GroupId) -> &GroupSpec {
        &self.groups[id.index()]
    }

    pub(crate) fn node_name(&self, id: NodeId) -> &str {
        &self.nodes[id.index()]
    }

    /// Names a guest passes to a host operation, resolved (guest input: may name nothing).
    pub(crate) fn service_id(&self, name: &str) -> Option<ServiceId> {
        self.service_index.get(name).copied()
    }

    pub(crate) fn store_id(&self, name: &str) -> Option<StoreId> {
        self.store_index.get(name).copied()
    }

    pub(crate) fn channel_id(&self, name: &str) -> Option<ChannelId> {
        self.channel_index.get(name).copied()
    }
}
