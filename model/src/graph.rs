//! The service graph: services, stores and channels as nodes; calls, publications,
//! subscriptions and data access as edges. Built on petgraph, but petgraph's indices never leave
//! this module: callers see names (the model owns its IDs).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef as _;
use serde::Serialize;

use crate::scenario::{Scenario, StoreKind};
use crate::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dependency {
    /// A synchronous call to an endpoint.
    Sync,
    /// Messages through an async channel to a subscribed endpoint.
    Async,
    /// Reading a store another service owns.
    DataRead,
}

impl Dependency {
    /// How much one such edge couples two services: a caller waits on a sync callee and breaks
    /// with it; an async consumer only shares a message format; reading another's data shares
    /// its schema and its availability.
    #[must_use]
    pub fn weight(self) -> f64 {
        match self {
            Dependency::Sync | Dependency::DataRead => 1.0,
            Dependency::Async => 0.5,
        }
    }
}

/// One service-to-service dependency edge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: Dependency,
    /// The endpoint depended on (or the store read).
    pub target: String,
    /// The channel it travels on (or empty for data reads).
    pub channel: String,
}

/// The service dependency graph of a scenario.
#[derive(Debug, Clone)]
pub struct ServiceGraph {
    graph: DiGraph<String, Edge>,
    index: BTreeMap<String, NodeIndex>,
}

impl ServiceGraph {
    #[must_use]
    pub fn new(s: &Scenario) -> Self {
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for svc in &s.services {
            index.insert(svc.name.clone(), graph.add_node(svc.name.clone()));
        }
        let mut edges = Vec::new();
        for svc in &s.services {
            for call in &svc.calls {
                edges.push(Edge {
                    from: svc.name.clone(),
                    to: call.service.name.clone(),
                    kind: Dependency::Sync,
                    target: call.endpoint.name.clone(),
                    channel: call.channel.name.clone(),
                });
            }
            for channel in &svc.publishes {
                for consumer in &s.services {
                    for sub in
                        consumer.subscriptions.iter().filter(|x| x.channel.name == channel.name)
                    {
                        edges.push(Edge {
                            from: svc.name.clone(),
                            to: consumer.name.clone(),
                            kind: Dependency::Async,
                            target: sub.endpoint.name.clone(),
                            channel: channel.name.clone(),
                        });
                    }
                }
            }
            for read in &svc.reads {
                for owner in s
                    .services
                    .iter()
                    .filter(|o| o.name != svc.name && o.owns.iter().any(|d| d.name == read.name))
                {
                    edges.push(Edge {
                        from: svc.name.clone(),
                        to: owner.name.clone(),
                        kind: Dependency::DataRead,
                        target: read.name.clone(),
                        channel: String::new(),
                    });
                }
            }
        }
        edges.sort();
        edges.dedup();
        for e in edges {
            if let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) {
                graph.add_edge(a, b, e);
            }
        }
        ServiceGraph { graph, index }
    }

    /// Every edge, in a stable order.
    pub fn edges(&self) -> impl Iterator<Item = &Edge> {
        self.graph.edge_weights()
    }

    /// Services in declaration order.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.graph.node_weights().map(String::as_str)
    }

    /// Cycles among edges of the given kinds: each strongly connected component with more than
    /// one service (or a self-loop), as sorted service names.
    #[must_use]
    pub fn cycles(&self, kinds: &[Dependency]) -> Vec<Vec<String>> {
        let filtered = self
            .graph
            .filter_map(|_, n| Some(n.clone()), |_, e| kinds.contains(&e.kind).then(|| e.clone()));
        let mut out: Vec<Vec<String>> = petgraph::algo::tarjan_scc(&filtered)
            .into_iter()
            .filter(|scc| scc.len() > 1 || scc.iter().any(|&n| filtered.contains_edge(n, n)))
            .map(|scc| {
                let mut names: Vec<String> = scc.into_iter().map(|n| filtered[n].clone()).collect();
                names.sort();
                names
            })
            .collect();
        out.sort();
        out
    }

    /// One cycle through `members` (a component [`ServiceGraph::cycles`] gave) in call order,
    /// from its first member back to it — the shortest such, by breadth-first search over
    /// edges of `kinds` between members; empty when there is none.
    #[must_use]
    pub fn cycle_path(&self, kinds: &[Dependency], members: &[String]) -> Vec<String> {
        let Some(start) = members.first().and_then(|m| self.index.get(m.as_str())).copied() else {
            return Vec::new();
        };
        let inside = |n: NodeIndex| members.contains(&self.graph[n]);
        let next = |n: NodeIndex| {
            let mut out: Vec<NodeIndex> = self
                .graph
                .edges(n)
                .filter(|e| kinds.contains(&e.weight().kind) && inside(e.target()))
                .map(|e| e.target())
                .collect();
            // Declaration order, whatever order petgraph keeps edges in.
            out.sort();
            out.dedup();
            out
        };
        let mut came_from: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            for m in next(n) {
                if m == start {
                    let mut path = vec![self.graph[start].clone()];
                    let mut at = n;
                    let mut back = Vec::new();
                    while at != start {
                        back.push(self.graph[at].clone());
                        at = came_from[&at];
                    }
                    path.extend(back.into_iter().rev());
                    path.push(self.graph[start].clone());
                    return path;
                }
                if let std::collections::btree_map::Entry::Vacant(v) = came_from.entry(m) {
                    v.insert(n);
                    queue.push_back(m);
                }
            }
        }
        Vec::new()
    }

    /// Whether the graph knows this service.
    #[must_use]
    pub fn contains(&self, service: &str) -> bool {
        self.index.contains_key(service)
    }

    /// Graphviz DOT: services clustered by bounded context, stores as cylinders, sync calls
    /// solid, async channels dashed, data ownership dotted.
    #[must_use]
    pub fn to_dot(&self, s: &Scenario) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", esc(&s.name));
        let _ = writeln!(out, "  rankdir=LR;\n  node [fontname=\"Helvetica\"];");
        if s.gateway.is_some() {
            let _ = writeln!(out, "  \"gateway\" [shape=hexagon, label=\"API gateway\"];");
        }
        for ctx in &s.contexts {
            let _ = writeln!(
                out,
                "  subgraph \"cluster_{}\" {{\n    label=\"{}\";",
                esc(&ctx.name),
                esc(&ctx.name)
            );
            for svc in s.services.iter().filter(|x| x.context.name == ctx.name) {
                let _ = writeln!(
                    out,
                    "    \"{}\" [shape=box, label=\"{}\\nv{}\"];",
                    esc(&svc.name),
                    esc(&svc.name),
                    svc.version
                );
            }
            out.push_str("  }\n");
        }
        for store in &s.stores {
            let shape = if store.kind == StoreKind::Broker { "box3d" } else { "cylinder" };
            let _ = writeln!(
                out,
                "  \"store:{}\" [shape={shape}, label=\"{}\\n({})\"];",
                esc(&store.name),
                esc(&store.name),
                store.kind.name()
            );
        }
        for svc in &s.services {
            for e in svc.endpoints.iter().filter(|e| e.public) {
                let _ = writeln!(
                    out,
                    "  \"gateway\" -> \"{}\" [label=\"{}\"];",
                    esc(&svc.name),
                    esc(&e.name)
                );
            }
            for d in &svc.owns {
                let _ = writeln!(
                    out,
                    "  \"{}\" -> \"store:{}\" [style=dotted, arrowhead=none];",
                    esc(&svc.name),
                    esc(&d.name)
                );
            }
        }
        for e in self.edges() {
            let style = match e.kind {
                Dependency::Sync => format!("label=\"{} ({})\"", esc(&e.target), esc(&e.channel)),
                Dependency::Async => {
                    format!("style=dashed, label=\"{} via {}\"", esc(&e.target), esc(&e.channel))
                }
                Dependency::DataRead => format!("style=dotted, label=\"reads {}\"", esc(&e.target)),
            };
            let _ = writeln!(out, "  \"{}\" -> \"{}\" [{style}];", esc(&e.from), esc(&e.to));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart (the seed's own diagrams are Mermaid).
    ///
    /// Node ids are positional (`svc0`, `store1`, `ctx0`), never derived from names: a name
    /// mapped to an id lossily merges `pay_x` and `pay-x` into one node. Names appear only in
    /// quoted labels, escaped by [`text::mermaid`], so no name can end a label or add an edge.
    #[must_use]
    pub fn to_mermaid(&self, s: &Scenario) -> String {
        let svc_ids: BTreeMap<&str, String> = s
            .services
            .iter()
            .enumerate()
            .map(|(i, x)| (x.name.as_str(), format!("svc{i}")))
            .collect();
        let store_ids: BTreeMap<&str, String> = s
            .stores
            .iter()
            .enumerate()
            .map(|(i, x)| (x.name.as_str(), format!("store{i}")))
            .collect();
        // After a clean parse every reference resolves; an unknown name still gets an id of its
        // own rather than a panic or a merge.
        let svc = |name: &str| svc_ids.get(name).cloned().unwrap_or_else(|| "svc_unknown".into());
        let store =
            |name: &str| store_ids.get(name).cloned().unwrap_or_else(|| "store_unknown".into());
        let mut out = String::from("flowchart LR\n");
        if s.gateway.is_some() {
            out.push_str("  gateway{{\"API gateway\"}}\n");
        }
        for (i, ctx) in s.contexts.iter().enumerate() {
            let _ = writeln!(out, "  subgraph ctx{i}[\"{}\"]", text::mermaid(&ctx.name));
            for x in s.services.iter().filter(|x| x.context.name == ctx.name) {
                let label = text::mermaid(&format!("{} v{}", x.name, x.version));
                let _ = writeln!(out, "    {}[\"{label}\"]", svc(&x.name));
            }
            out.push_str("  end\n");
        }
        for d in &s.stores {
            let label = text::mermaid(&format!("{} ({})", d.name, d.kind.name()));
            let _ = writeln!(out, "  {}[(\"{label}\")]", store(&d.name));
        }
        for x in &s.services {
            for e in x.endpoints.iter().filter(|e| e.public) {
                let _ =
                    writeln!(out, "  gateway -->|\"{}\"| {}", text::mermaid(&e.name), svc(&x.name));
            }
            for d in &x.owns {
                let _ = writeln!(out, "  {} --- {}", svc(&x.name), store(&d.name));
            }
        }
        for e in self.edges() {
            let (from, to) = (svc(&e.from), svc(&e.to));
            let (arrow, label) = match e.kind {
                Dependency::Sync => ("-->", format!("{} {}", e.target, e.channel)),
                Dependency::Async => ("-.->", format!("{} via {}", e.target, e.channel)),
                Dependency::DataRead => ("-.->", format!("reads {}", e.target)),
            };
            let _ = writeln!(out, "  {from} {arrow}|\"{}\"| {to}", text::mermaid(&label));
        }
        out
    }
}

/// A name inside a double-quoted DOT string (see [`text::dot`]).
fn esc(s: &str) -> String {
    text::dot(s)
}

#[cfg(test)]
mod tests;
