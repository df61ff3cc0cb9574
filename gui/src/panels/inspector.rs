//! The inspector: the selected element's place in the tuple M = (S, I, D, C, Q) — for a
//! service its context, version, endpoints with contracts and idempotence, stores,
//! capabilities, replicas, placement and its module's structure (T, F, M, G, E, I); for a store
//! its replicas and consistency; for an edge its contract and the traffic of the last run;
//! for a composed service its linked libraries and what each resolves (`panels/composition.rs`);
//! for a rolled-out service its rollout and, after a run, its timeline (`panels/rollout.rs`);
//! with a service mesh, its sidecars, policies, filter chains and what it refused
//! (`panels/mesh.rs`), and the control plane's pushes with each proxy's configuration over
//! the run (`panels/control_plane.rs`).

use eframe::egui::{self, RichText};
use fusebench_model::Scenario;
use fusebench_model::contract::Shape;
use fusebench_model::module::ModuleInfo;
use fusebench_model::scenario::{Api, Service};
use fusebench_model::text::into_plain;

use crate::diagram::{Element, NodeKind};
use crate::findings::Finding;
use crate::live::LiveRun;
use crate::session::Design;
use crate::theme;

fn shape(s: &Shape) -> String {
    if s.fields.is_empty() {
        return "{}".to_owned();
    }
    let fields: Vec<String> = s
        .fields
        .iter()
        .map(|(k, f)| format!("{k}{}: {}", if f.required { "" } else { "?" }, f.ty))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

/// A key and its value; the value may quote names from the scenario or the module (untrusted),
/// so it is shown through `text::plain`.
fn row(ui: &mut egui::Ui, key: &str, value: impl Into<String>) {
    ui.label(RichText::new(key).weak());
    ui.label(into_plain(value.into()));
    ui.end_row();
}

fn names(list: &[fusebench_model::scenario::NameRef]) -> String {
    if list.is_empty() {
        return "—".to_owned();
    }
    list.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
}

pub fn inspector_ui(
    ui: &mut egui::Ui,
    design: &Design,
    selection: Option<&Element>,
    findings: &[&Finding],
    run: Option<&LiveRun>,
) {
    let d = &design.diagram;
    let s = design.scenario();
    match selection {
        None => {
            ui.heading(into_plain(format!("System {}", s.name)));
            if !s.description.is_empty() {
                ui.label(&s.description);
            }
            egui::Grid::new("system-grid").num_columns(2).show(ui, |ui| {
                row(ui, "services", s.services.len().to_string());
                row(ui, "bounded contexts", s.contexts.len().to_string());
                row(ui, "stores", s.stores.len().to_string());
                row(ui, "channels", s.channels.len().to_string());
                row(ui, "nodes", s.nodes.len().to_string());
                row(ui, "faults planned", s.faults.len().to_string());
            });
            super::control_plane::control_plane_ui(ui, s, run);
            ui.separator();
            ui.weak("Click a node or an edge in the graph to inspect it.");
        }
        Some(Element::Node(i)) => {
            let Some(n) = d.nodes.get(*i) else { return };
            match n.kind {
                NodeKind::Service => {
                    if let Some(svc) = s.service(&n.name) {
                        service_ui(ui, s, svc, design);
                        super::rollout::rollout_ui(ui, s, svc, run);
                        super::mesh::service_mesh_ui(ui, s, &svc.name, *i, run);
                    }
                }
                NodeKind::Store | NodeKind::Cache | NodeKind::Broker => {
                    store_ui(ui, s, &n.name, run);
                }
                NodeKind::Gateway => {
                    ui.heading("API gateway");
                    if let Some(g) = &s.gateway {
                        egui::Grid::new("gw").num_columns(2).show(ui, |ui| {
                            row(ui, "node", g.node.name.clone());
                            row(ui, "timeout", format!("{} ms", g.timeout_ms));
                        });
                    }
                    ui.label(RichText::new("Routes").strong());
                    for svc in &s.services {
                        for e in svc.endpoints.iter().filter(|e| e.public) {
                            ui.label(into_plain(format!(
                                "{} → {}.{}",
                                api(&e.api),
                                svc.name,
                                e.name
                            )));
                        }
                    }
                    super::mesh::gateway_mesh_ui(ui, s);
                    super::control_plane::proxy_config_ui(ui, s, "gateway", run);
                }
                NodeKind::Registry => {
                    ui.heading("Service registry");
                    egui::Grid::new("reg").num_columns(2).show(ui, |ui| {
                        row(ui, "heartbeat", format!("{} ms", s.registry.heartbeat_ms));
                        row(ui, "expiry (ttl)", format!("{} ms", s.registry.ttl_ms));
                        row(ui, "discovery cache", format!("{} ms", s.registry.discovery_cache_ms));
                    });
                }
                NodeKind::Client => {
                    ui.heading("Client (workload)");
                    if let Some(w) = &s.workload {
                        egui::Grid::new("wl").num_columns(2).show(ui, |ui| {
                            row(ui, "duration", format!("{} s", w.duration_s));
                            row(ui, "arrival", format!("{:?}", w.arrival));
                            row(
                                ui,
                                "origin",
                                w.origin.as_ref().map_or("—".into(), |o| o.name.clone()),
                            );
                        });
                        ui.label(RichText::new("Mix").strong());
                        for m in &w.mix {
                            ui.label(into_plain(format!(
                                "{}.{} × {}",
                                m.service.name, m.endpoint.name, m.weight
                            )));
                        }
                    }
                }
            }
            let mine: Vec<&Finding> =
                findings.iter().copied().filter(|f| f.nodes.contains(i)).collect();
            if !mine.is_empty() {
                ui.separator();
                ui.label(RichText::new(format!("Findings ({})", mine.len())).strong());
                for f in mine {
                    let colour = if f.severity == fusebench_model::Severity::Error {
                        theme::FAIL
                    } else {
                        theme::WARN
                    };
                    ui.label(
                        RichText::new(into_plain(format!("[{}] {}", f.id, f.text))).color(colour),
                    );
                }
            }
        }
        Some(Element::Edge(i)) => {
            let Some(e) = d.edges.get(*i) else { return };
            let (from, to) = (&d.nodes[e.from].name, &d.nodes[e.to].name);
            ui.heading(into_plain(format!("Edge {from} → {to}")));
            egui::Grid::new("edge").num_columns(2).show(ui, |ui| {
                row(ui, "kind", format!("{:?}", e.kind));
                if let Some(ch) = e.channel.as_ref().and_then(|c| s.channel(c)) {
                    row(ui, "channel", format!("{} ({})", ch.name, ch.kind.name()));
                    row(ui, "timeout", format!("{} ms", ch.timeout_ms));
                    if ch.kind.is_sync() {
                        row(
                            ui,
                            "retries",
                            format!("{} (backoff {} ms)", ch.retries, ch.backoff_ms),
                        );
                    } else {
                        row(ui, "delivery", format!("{:?}", ch.delivery));
                    }
                }
                let carried = run.and_then(|r| r.traffic.get(*i)).copied();
                row(
                    ui,
                    "traffic (last run)",
                    carried.map_or("no run yet".into(), |n| format!("{n} messages")),
                );
                super::mesh::edge_mesh_rows(ui, run, *i);
            });
            for ep in &e.endpoints {
                let mut parts = ep.splitn(2, '.');
                let (Some(sv), Some(en)) = (parts.next(), parts.next()) else { continue };
                let Some(endpoint) = s.service(sv).and_then(|x| x.endpoint(en)) else { continue };
                ui.separator();
                ui.label(RichText::new(into_plain(format!("{ep} v{}", endpoint.version))).strong());
                ui.label(format!("request  {}", shape(&endpoint.request)));
                ui.label(format!("response {}", shape(&endpoint.response)));
                let caller = s.service(&d.nodes[e.from].name);
                for c in caller
                    .iter()
                    .flat_map(|c| c.calls.iter())
                    .filter(|c| c.service.name == sv && c.endpoint.name == en)
                {
                    ui.label(into_plain(format!(
                        "caller wants {}, sends [{}], uses [{}]",
                        c.version,
                        c.sends.join(", "),
                        c.uses.join(", ")
                    )));
                }
            }
        }
    }
}

fn api(a: &Api) -> String {
    match a {
        Api::Rest { method, path } => format!("{method:?} {path}").to_uppercase_first(),
        Api::Grpc { method } => format!("gRPC {method}"),
        Api::Message => "message".to_owned(),
    }
}

trait UpperFirst {
    fn to_uppercase_first(self) -> String;
}

impl UpperFirst for String {
    /// `Get /x` → `GET /x`: the method as HTTP writes it.
    fn to_uppercase_first(self) -> String {
        match self.split_once(' ') {
            Some((m, rest)) => format!("{} {rest}", m.to_uppercase()),
            None => self,
        }
    }
}

fn tier_name(t: fusebench_model::scenario::Tier) -> &'static str {
    use fusebench_model::scenario::Tier;
    match t {
        Tier::Cloud => "cloud",
        Tier::RegionalEdge => "regional edge",
        Tier::LocalEdge => "local edge",
    }
}

fn service_ui(ui: &mut egui::Ui, s: &Scenario, svc: &Service, design: &Design) {
    ui.heading(into_plain(format!("Service {}", svc.name)));
    egui::Grid::new("svc").num_columns(2).show(ui, |ui| {
        row(ui, "bounded context", svc.context.name.clone());
        row(ui, "version", svc.version.to_string());
        row(
            ui,
            "placement",
            format!(
                "{} ({})",
                svc.node.name,
                s.node(&svc.node.name).map_or("?", |n| tier_name(n.tier))
            ),
        );
        row(
            ui,
            "replicas",
            format!(
                "{} × concurrency {} (queue {})",
                svc.replicas, svc.concurrency, svc.queue_capacity
            ),
        );
        row(ui, "instances", format!("{:?}", svc.instance_policy));
        row(ui, "owns", names(&svc.owns));
        row(ui, "reads", names(&svc.reads));
        row(ui, "publishes", names(&svc.publishes));
        let caps: Vec<&str> = svc.capabilities.iter().map(|c| c.name()).collect();
        row(ui, "capabilities", if caps.is_empty() { "—".into() } else { caps.join(", ") });
        row(ui, "fuel budget", s.fuel_budget(svc).to_string());
        row(ui, "memory limit", format!("{} KiB", s.memory_max_kib(svc)));
        row(
            ui,
            "module",
            svc.module
                .as_ref()
                .map_or("abstract (declared service time)".into(), |m| m.name.clone()),
        );
    });
    ui.separator();
    ui.label(RichText::new(format!("Endpoints ({})", svc.endpoints.len())).strong());
    for e in &svc.endpoints {
        let mut flags = Vec::new();
        if e.public {
            flags.push("public".to_owned());
        }
        if e.idempotent {
            flags.push(match &e.idempotency_key {
                Some(k) => format!("idempotent by {k}"),
                None => "idempotent".to_owned(),
            });
        }
        ui.label(
            RichText::new(into_plain(format!("{} — {} v{}", e.name, api(&e.api), e.version)))
                .monospace(),
        );
        if !flags.is_empty() {
            ui.weak(flags.join(" · "));
        }
        ui.label(format!("  request  {}", shape(&e.request)));
        ui.label(format!("  response {}", shape(&e.response)));
    }
    if !svc.calls.is_empty() || !svc.subscriptions.is_empty() {
        ui.separator();
        for c in &svc.calls {
            ui.label(into_plain(format!(
                "calls {}.{} over {} ({})",
                c.service.name, c.endpoint.name, c.channel.name, c.version
            )));
        }
        for sub in &svc.subscriptions {
            ui.label(into_plain(format!("consumes {} → {}", sub.channel.name, sub.endpoint.name)));
        }
    }
    if !svc.links.is_empty() {
        ui.separator();
        super::composition::composition_ui(ui, s, svc, &design.loaded.modules);
    }
    if let Some(m) = &svc.module {
        ui.separator();
        match design.loaded.modules.get(&m.name) {
            Some(Ok(info)) => module_ui(ui, info),
            Some(Err(why)) => {
                ui.colored_label(theme::FAIL, into_plain(format!("module invalid: {why}")));
            }
            None => {
                ui.weak("module not inspected");
            }
        }
    }
}

/// WASM = (T, F, M, G, E, I).
fn module_ui(ui: &mut egui::Ui, m: &ModuleInfo) {
    ui.label(RichText::new("Module WASM = (T, F, M, G, E, I)").strong());
    egui::Grid::new("module").num_columns(2).show(ui, |ui| {
        row(ui, "size", format!("{} bytes", m.size_bytes));
        row(ui, "T types", m.types.len().to_string());
        row(
            ui,
            "F functions",
            format!(
                "{} ({} imported)",
                m.functions.len(),
                m.functions.iter().filter(|f| f.imported).count()
            ),
        );
        let mem: Vec<String> = m
            .memories
            .iter()
            .map(|x| {
                format!(
                    "{}..{} pages",
                    x.min_pages,
                    x.max_pages.map_or("∞".into(), |p| p.to_string())
                )
            })
            .collect();
        row(ui, "M memories", if mem.is_empty() { "none".into() } else { mem.join(", ") });
        row(ui, "G globals", m.globals.len().to_string());
        row(ui, "E exports", m.exports.len().to_string());
        row(ui, "I imports", m.imports.len().to_string());
    });
    egui::CollapsingHeader::new(format!("Exports ({})", m.exports.len())).default_open(true).show(
        ui,
        |ui| {
            for e in &m.exports {
                let sig = e.sig.as_ref().map_or(String::new(), |s| format!(" {s}"));
                ui.label(
                    RichText::new(into_plain(format!("export {} {}{sig}", e.kind, e.name)))
                        .monospace(),
                );
            }
        },
    );
    egui::CollapsingHeader::new(format!("Imports ({})", m.imports.len())).default_open(true).show(
        ui,
        |ui| {
            for i in &m.imports {
                let sig = i.sig.as_ref().map_or(String::new(), |s| format!(" {s}"));
                ui.label(
                    RichText::new(into_plain(format!(
                        "import {} {}.{}{sig}",
                        i.kind, i.module, i.name
                    )))
                    .monospace(),
                );
            }
        },
    );
}

fn store_ui(ui: &mut egui::Ui, s: &Scenario, name: &str, run: Option<&LiveRun>) {
    let Some(st) = s.store(name) else { return };
    ui.heading(into_plain(format!("Store {name}")));
    egui::Grid::new("store").num_columns(2).show(ui, |ui| {
        row(ui, "kind", st.kind.name());
        row(ui, "replicas", st.replicas.to_string());
        row(ui, "placed on", names(&st.nodes));
        row(ui, "consistency", format!("{:?}", st.consistency));
        row(ui, "conflicts", format!("{:?}", st.conflict));
        row(ui, "replication lag", format!("{:?}", st.replication_lag));
        row(ui, "latency", format!("{:?}", st.latency));
        let owners: Vec<&str> = s
            .services
            .iter()
            .filter(|x| x.owns.iter().any(|o| o.name == name))
            .map(|x| x.name.as_str())
            .collect();
        row(ui, "owned by", if owners.is_empty() { "—".into() } else { owners.join(", ") });
        if let Some(r) = run.and_then(|r| r.report.as_ref()).and_then(|r| r.stores.get(name)) {
            row(ui, "reads / writes", format!("{} / {}", r.reads, r.writes));
            row(ui, "replication lag max", format!("{:.2} ms", r.replication_lag_max_ms));
        }
    });
}
