//! What the service graph shows, derived from a scenario: the client, the API gateway, the
//! service registry, every service, store, cache and broker as nodes, and every declared
//! interaction as an edge. Pure data: the graph panel only draws it, tests read it.

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::scenario::{ChannelKind, StoreKind, Tier};

use crate::layout::{self, Band, Layout, LayoutEdge, LayoutNode, Spacing};

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    Client,
    Gateway,
    Registry,
    Service,
    Store,
    Cache,
    Broker,
}

impl NodeKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Client => "client",
            NodeKind::Gateway => "API gateway",
            NodeKind::Registry => "service registry",
            NodeKind::Service => "service",
            NodeKind::Store => "kv store",
            NodeKind::Cache => "cache",
            NodeKind::Broker => "broker",
        }
    }
}

/// A stable key for a scenario element, used for selection, badges and traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Element {
    Node(usize),
    Edge(usize),
}

#[derive(Debug, Clone)]
pub struct DiagramNode {
    pub kind: NodeKind,
    /// The element's name in the scenario (services, stores), or a fixed name.
    pub name: String,
    /// The second line of the box: version and replicas, store consistency…
    pub detail: String,
    /// Index of the service's bounded context in the scenario, for colour.
    pub context: Option<usize>,
    pub band: Band,
}

/// How an edge travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeKind {
    /// The workload's requests (client → gateway) and the gateway's routes.
    Request,
    /// A synchronous call over a REST or gRPC channel.
    Sync { protocol: &'static str },
    /// A publication to a broker, or a delivery from it to a subscriber.
    Async { channel_kind: &'static str },
    /// A service owning (writing) a store.
    Owns,
    /// A service reading a store it does not own.
    Reads,
    /// A service registering with the registry (heartbeats) and discovering through it.
    Registry,
}

impl EdgeKind {
    /// Dashed when nothing waits on it.
    #[must_use]
    pub fn dashed(&self) -> bool {
        matches!(self, EdgeKind::Async { .. } | EdgeKind::Registry | EdgeKind::Reads)
    }
}

#[derive(Debug, Clone)]
pub struct DiagramEdge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// Shown along the edge: the protocol, the channel or the endpoint(s).
    pub label: String,
    /// The channel it travels on, if any (for the inspector).
    pub channel: Option<String>,
    /// Endpoints reached along it (`service.endpoint`), for the inspector's contracts.
    pub endpoints: Vec<String>,
}

/// The drawn graph and its layout.
#[derive(Debug, Clone)]
pub struct Diagram {
    pub nodes: Vec<DiagramNode>,
    pub edges: Vec<DiagramEdge>,
    pub layout: Layout,
    by_name: BTreeMap<(NodeKind, String), usize>,
    /// Channel → the broker node carrying it.
    brokers: BTreeMap<String, usize>,
    /// (channel, consumer group) → the subscribed service's node.
    consumers: BTreeMap<(String, String), usize>,
    /// (from, to) → the first edge between them: looked up per edge per frame and per hop.
    edge_index: BTreeMap<(usize, usize), usize>,
}

fn band_of(tier: Option<Tier>) -> Band {
    match tier {
        Some(Tier::Cloud) => Band::Cloud,
        Some(Tier::RegionalEdge) => Band::RegionalEdge,
        Some(Tier::LocalEdge) => Band::LocalEdge,
        None => Band::Untiered,
    }
}

impl Diagram {
    /// Builds the graph of `s` and lays it out.
    #[must_use]
    pub fn new(s: &Scenario) -> Self {
        let tier = |node: &str| s.node(node).map(|n| n.tier);
        let mut d = Diagram {
            nodes: Vec::new(),
            edges: Vec::new(),
            layout: layout::layered(&[], &[], &Spacing::default()),
            by_name: BTreeMap::new(),
            brokers: BTreeMap::new(),
            consumers: BTreeMap::new(),
            edge_index: BTreeMap::new(),
        };
        let gateway_band = band_of(s.gateway.as_ref().and_then(|g| tier(&g.node.name)));
        let origin_band = band_of(
            s.workload.as_ref().and_then(|w| w.origin.as_ref()).and_then(|o| tier(&o.name)),
        );
        let client = d.add(NodeKind::Client, "client", String::new(), None, origin_band);
        let gateway = s.gateway.as_ref().map(|g| {
            d.add(
                NodeKind::Gateway,
                "gateway",
                format!("timeout {} ms", g.timeout_ms),
                None,
                gateway_band,
            )
        });
        let registry = d.add(
            NodeKind::Registry,
            "registry",
            format!("heartbeat {} ms", s.registry.heartbeat_ms),
            None,
            Band::Untiered,
        );
        for svc in &s.services {
            let context = s.contexts.iter().position(|c| c.name == svc.context.name);
            let module = if svc.module.is_some() { "" } else { " · abstract" };
            let detail = format!("v{} · ×{}{module}", svc.version, svc.replicas);
            d.add(NodeKind::Service, &svc.name, detail, context, band_of(tier(&svc.node.name)));
        }
        for st in &s.stores {
            let kind = match st.kind {
                StoreKind::Kv => NodeKind::Store,
                StoreKind::Cache => NodeKind::Cache,
                StoreKind::Broker => NodeKind::Broker,
            };
            let detail = match st.kind {
                StoreKind::Kv => format!("{:?} · ×{}", st.consistency, st.replicas).to_lowercase(),
                StoreKind::Cache | StoreKind::Broker => format!("×{}", st.replicas),
            };
            let band = band_of(st.nodes.first().and_then(|n| tier(&n.name)));
            d.add(kind, &st.name, detail, None, band);
        }
        if let Some(gw) = gateway {
            d.edge(client, gw, EdgeKind::Request, "requests".into(), None, Vec::new());
            for svc in &s.services {
                let public: Vec<String> = svc
                    .endpoints
                    .iter()
                    .filter(|e| e.public)
                    .map(|e| format!("{}.{}", svc.name, e.name))
                    .collect();
                if let (false, Some(to)) = (public.is_empty(), d.service(&svc.name)) {
                    let label = if public.len() == 1 {
                        public[0].split('.').nth(1).unwrap_or_default().to_owned()
                    } else {
                        format!("{} routes", public.len())
                    };
                    d.edge(gw, to, EdgeKind::Request, label, None, public);
                }
            }
        }
        for svc in &s.services {
            let Some(from) = d.service(&svc.name) else { continue };
            d.edge(from, registry, EdgeKind::Registry, String::new(), None, Vec::new());
            // One edge per (callee, channel): several endpoints share it.
            let mut calls: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
            for c in &svc.calls {
                calls
                    .entry((c.service.name.clone(), c.channel.name.clone()))
                    .or_default()
                    .push(format!("{}.{}", c.service.name, c.endpoint.name));
            }
            for ((callee, channel), endpoints) in calls {
                let Some(to) = d.service(&callee) else { continue };
                let protocol = match s.channel(&channel).map(|c| c.kind) {
                    Some(ChannelKind::Grpc) => "gRPC",
                    _ => "REST",
                };
                let label = format!("{protocol} · {channel}");
                d.edge(from, to, EdgeKind::Sync { protocol }, label, Some(channel), endpoints);
            }
            for ch in &svc.publishes {
                let Some(channel) = s.channel(&ch.name) else { continue };
                let Some(broker) = channel.broker.as_ref().and_then(|b| d.store(&b.name)) else {
                    continue;
                };
                d.brokers.insert(ch.name.clone(), broker);
                let kind = EdgeKind::Async { channel_kind: channel.kind.name() };
                d.edge(from, broker, kind, ch.name.clone(), Some(ch.name.clone()), Vec::new());
            }
            for (list, kind) in [(&svc.owns, EdgeKind::Owns), (&svc.reads, EdgeKind::Reads)] {
                for st in list {
                    if let Some(to) = d.store(&st.name) {
                        d.edge(from, to, kind.clone(), String::new(), None, Vec::new());
                    }
                }
            }
        }
        for svc in &s.services {
            let Some(to) = d.service(&svc.name) else { continue };
            for sub in &svc.subscriptions {
                let Some(channel) = s.channel(&sub.channel.name) else { continue };
                let Some(broker) = channel.broker.as_ref().and_then(|b| d.store(&b.name)) else {
                    continue;
                };
                d.brokers.insert(sub.channel.name.clone(), broker);
                let group = if sub.group.is_empty() { &svc.name } else { &sub.group };
                d.consumers.insert((sub.channel.name.clone(), group.clone()), to);
                let kind = EdgeKind::Async { channel_kind: channel.kind.name() };
                let endpoint = format!("{}.{}", svc.name, sub.endpoint.name);
                let label = sub.channel.name.clone();
                d.edge(broker, to, kind, label, Some(sub.channel.name.clone()), vec![endpoint]);
            }
        }
        d.layout = d.compute_layout();
        d
    }

    fn add(
        &mut self,
        kind: NodeKind,
        name: &str,
        detail: String,
        context: Option<usize>,
        band: Band,
    ) -> usize {
        let i = self.nodes.len();
        self.nodes.push(DiagramNode { kind, name: name.to_owned(), detail, context, band });
        // Stores, caches and brokers share one namespace in the scenario.
        let key_kind =
            if matches!(kind, NodeKind::Cache | NodeKind::Broker) { NodeKind::Store } else { kind };
        self.by_name.insert((key_kind, name.to_owned()), i);
        i
    }

    fn edge(
        &mut self,
        from: usize,
        to: usize,
        kind: EdgeKind,
        label: String,
        channel: Option<String>,
        endpoints: Vec<String>,
    ) {
        self.edge_index.entry((from, to)).or_insert(self.edges.len());
        self.edges.push(DiagramEdge { from, to, kind, label, channel, endpoints });
    }

    fn compute_layout(&self) -> Layout {
        let nodes: Vec<LayoutNode> = self
            .nodes
            .iter()
            .map(|n| LayoutNode {
                band: n.band,
                min_rank: match n.kind {
                    NodeKind::Client => Some(0),
                    NodeKind::Gateway => Some(1),
                    NodeKind::Service => Some(2),
                    _ => None,
                },
                sink: matches!(
                    n.kind,
                    NodeKind::Store | NodeKind::Cache | NodeKind::Broker | NodeKind::Registry
                ),
            })
            .collect();
        // Deliveries from a broker point back into the services; for ranking, the broker is a
        // sink like the stores, so those edges do not pull services to the right.
        let edges: Vec<LayoutEdge> = self
            .edges
            .iter()
            .filter(|e| !matches!(self.nodes[e.from].kind, NodeKind::Broker))
            .map(|e| LayoutEdge { from: e.from, to: e.to })
            .collect();
        // Wrap tall columns so the picture is about as wide as high (panels are wider than
        // high): 60 services fit a screen at a zoom where names are still drawn.
        let rows_max = ((nodes.len() as f64).sqrt() * 1.2).ceil() as usize;
        let spacing =
            Spacing { rows_max: rows_max.clamp(8, layout::MAX_ROWS), ..Spacing::default() };
        layout::layered(&nodes, &edges, &spacing)
    }

    /// The node of service `name`.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<usize> {
        self.by_name.get(&(NodeKind::Service, name.to_owned())).copied()
    }

    /// The node of store, cache or broker `name`.
    #[must_use]
    pub fn store(&self, name: &str) -> Option<usize> {
        self.by_name.get(&(NodeKind::Store, name.to_owned())).copied()
    }

    /// The node of a fixed element (client, gateway, registry).
    #[must_use]
    pub fn fixed(&self, kind: NodeKind) -> Option<usize> {
        self.nodes.iter().position(|n| n.kind == kind)
    }

    /// Any element named `name` (service first, then store).
    #[must_use]
    pub fn named(&self, name: &str) -> Option<usize> {
        self.service(name).or_else(|| self.store(name))
    }

    /// The broker node carrying `channel`.
    #[must_use]
    pub fn broker_of(&self, channel: &str) -> Option<usize> {
        self.brokers.get(channel).copied()
    }

    /// The service consuming `channel` as `group`.
    #[must_use]
    pub fn consumer(&self, channel: &str, group: &str) -> Option<usize> {
        self.consumers.get(&(channel.to_owned(), group.to_owned())).copied()
    }

    /// The edge from `from` to `to`.
    #[must_use]
    pub fn edge_between(&self, from: usize, to: usize) -> Option<usize> {
        self.edge_index.get(&(from, to)).copied()
    }
}

#[cfg(test)]
mod tests;
