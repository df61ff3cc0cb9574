//! The inspector's service mesh views: for a service, its sidecar, the policies and filter
//! chain applied to requests sent to it, the authorization rules its sidecar enforces, and,
//! after a run, its replicas' ejections and circuit breaker refusals over time; for the
//! gateway, the filters it runs; for an edge, what the mesh refused on it.
//!
//! Only the scenario's `[mesh]` (model/src/scenario/mesh.rs) and the run's
//! [`MeshActivity`](crate::mesh_activity::MeshActivity) are shown: nothing here decides.

use eframe::egui::{self, RichText};
use egui_plot::{Line, Plot};
use fusebench_model::Scenario;
use fusebench_model::scenario::{AuthzAction, Mesh, MeshPolicy, MtlsMode};
use fusebench_model::text::into_plain;

use crate::live::LiveRun;
use crate::mesh_activity::{DENIALS, Ejection};
use crate::theme;

/// Ejections listed by name at most (the plot shows them all).
const EJECTIONS_LISTED: usize = 8;

fn ms(v: f64) -> String {
    format!("{v} ms")
}

/// One line per filter a policy sets, in the order a request meets them.
#[must_use]
pub fn policy_lines(p: &MeshPolicy) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &p.rate_limit {
        out.push(format!(
            "rate limit: {} tokens, +{} every {}",
            r.max_tokens,
            r.tokens_per_fill,
            ms(r.fill_interval_ms)
        ));
    }
    if let Some(f) = &p.fault {
        if let Some(d) = &f.delay {
            out.push(format!("fault: delay {} % by {}", d.percentage, ms(d.fixed_delay_ms)));
        }
        if let Some(a) = &f.abort {
            out.push(format!("fault: abort {} % with {}", a.percentage, a.http_status));
        }
    }
    if let Some(c) = &p.circuit_breaker {
        if let Some(max) = c.max_requests {
            out.push(format!("circuit breaker: at most {max} requests in flight"));
        }
        if let Some(connections) = c.max_connections {
            out.push(format!(
                "connection pool: {connections} connections, {} more waiting",
                c.max_pending_requests.unwrap_or(0)
            ));
        }
    }
    if let Some(r) = &p.retries {
        let on: Vec<&str> = r.retry_on.iter().map(|o| o.name()).collect();
        out.push(format!(
            "retries: {} attempts{}, back-off {}–{}, on {}",
            r.attempts,
            r.per_try_timeout_ms.map_or(String::new(), |t| format!(", {} per try", ms(t))),
            ms(r.base_interval_ms),
            ms(r.max_interval_ms),
            on.join(", ")
        ));
    }
    if let Some(b) = &p.retry_budget {
        out.push(format!(
            "retry budget: {} % of active requests, at least {}",
            b.budget_percent, b.min_retry_concurrency
        ));
    }
    if let Some(o) = &p.outlier_detection {
        out.push(format!(
            "outlier detection: eject after {} consecutive 5xx for {} × times ejected, at most {} %",
            o.consecutive_5xx,
            ms(o.base_ejection_time_ms),
            o.max_ejection_percent
        ));
    }
    out
}

/// The filters requests to `service` meet, in chain order, with where they run.
fn filter_chain(mesh: &Mesh, service: &str) -> Vec<String> {
    mesh.filters
        .iter()
        .filter(|f| f.services.is_empty() || f.services.iter().any(|s| s.name == service))
        .map(|f| format!("{} ({}, at {})", f.name, f.module.name, f.at.name()))
        .collect()
}

/// `service`'s version subsets, its route and the control plane's pushes of it (Istio's
/// DestinationRule subsets and VirtualService weights, as the scenario declares them).
pub fn route_lines(mesh: &Mesh, service: &str) -> Vec<String> {
    let weights = |r: &fusebench_model::scenario::Route| {
        let w: Vec<String> =
            r.weights.iter().map(|w| format!("{} {} %", w.subset.name, w.percent)).collect();
        let m: Vec<String> = r
            .matches
            .iter()
            .map(|m| {
                let h: Vec<String> = m.headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("; {} → {}", h.join(" "), m.subset.name)
            })
            .collect();
        format!("{}{}", w.join(", "), m.concat())
    };
    let mut out: Vec<String> = mesh
        .subsets
        .iter()
        .filter(|x| x.service.name == service)
        .map(|x| match x.replicas {
            None => format!("subset {}: its declared replicas", x.name.name),
            Some(n) => format!(
                "subset {}: {n} replica(s) of {}",
                x.name.name,
                x.module.as_ref().map_or("its declared module", |m| m.name.as_str())
            ),
        })
        .collect();
    out.extend(
        mesh.routes
            .iter()
            .filter(|r| r.service.name == service)
            .map(|r| format!("route: {}", weights(r))),
    );
    out.extend(mesh.pushes.iter().filter_map(|p| {
        let r = p.route.as_ref().filter(|r| r.service.name == service)?;
        Some(format!("pushed at {} s: {}", p.at_s, weights(r)))
    }));
    // Pushed policies and filter modules of this destination.
    out.extend(mesh.pushes.iter().flat_map(|p| {
        let policies = p.policies.iter().filter(|x| x.service.name == service).map(move |x| {
            let what = if x.sets_nothing() { "removed" } else { "replaced" };
            format!("pushed at {} s: policy {} {what}", p.at_s, x.target())
        });
        let filters =
            p.filters.iter().filter(|f| f.applies_to(service)).map(move |f| {
                format!("pushed at {} s: filter {} ({})", p.at_s, f.name, f.module.name)
            });
        policies.chain(filters)
    }));
    out
}

/// What `service`'s inbound sidecar accepts (Istio `PeerAuthentication`).
pub fn mtls_line(mode: MtlsMode) -> String {
    let what = match mode {
        MtlsMode::Strict => "callers without a sidecar are refused",
        MtlsMode::Permissive => "plaintext accepted, without an identity",
        MtlsMode::Disable => "plaintext only: no caller has an identity",
    };
    format!("inbound mTLS {}: {what}", mode.name())
}

/// Who may call `service`, as the rules its sidecar enforces say.
fn authorization_lines(mesh: &Mesh, service: &str) -> Vec<String> {
    let list = |names: Option<&Vec<fusebench_model::scenario::NameRef>>, any: &str| {
        names.map_or(any.to_owned(), |ns| {
            ns.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
        })
    };
    mesh.authorization
        .iter()
        .filter(|a| a.service.name == service)
        .map(|a| {
            format!(
                "{} from {} to {}",
                match a.action {
                    AuthzAction::Allow => "ALLOW",
                    AuthzAction::Deny => "DENY",
                },
                list(a.from.as_ref(), "any source"),
                list(a.endpoints.as_ref(), "every endpoint")
            )
        })
        .collect()
}

/// The service's mesh section of the inspector.
pub fn service_mesh_ui(
    ui: &mut egui::Ui,
    s: &Scenario,
    service: &str,
    node: usize,
    run: Option<&LiveRun>,
) {
    let Some(mesh) = &s.mesh else { return };
    ui.separator();
    ui.label(RichText::new("Service mesh").strong());
    if mesh.contains(service) {
        ui.label(format!("sidecar on every replica, {} each way", ms(mesh.sidecar_latency_ms)));
        if mesh.sidecar_cpu_us > 0.0 {
            ui.label(format!(
                "  {} µs of its node's CPU per message through it",
                mesh.sidecar_cpu_us
            ));
        }
        ui.label(mtls_line(mesh.mtls_of(service)));
    } else {
        ui.weak("no sidecar: its own calls leave unfiltered, it enforces no authorization");
    }
    let policies: Vec<&MeshPolicy> =
        mesh.policies.iter().filter(|p| p.service.name == service).collect();
    for p in &policies {
        let scope = p.endpoint.as_ref().map_or("every endpoint".to_owned(), |e| e.name.clone());
        ui.label(RichText::new(into_plain(format!("Requests to {scope}"))).weak());
        for line in policy_lines(p) {
            ui.label(into_plain(format!("  {line}")));
        }
    }
    let chain = filter_chain(mesh, service);
    if !chain.is_empty() {
        ui.label(RichText::new("Filter chain (callers' proxies)").weak());
        for (i, f) in chain.iter().enumerate() {
            ui.label(into_plain(format!("  {}. {f}", i + 1)));
        }
    }
    let routes = route_lines(mesh, service);
    if !routes.is_empty() {
        ui.label(RichText::new("Version subsets and routes (callers' proxies)").weak());
        for r in &routes {
            ui.label(into_plain(format!("  {r}")));
        }
    }
    super::control_plane::routed_ui(ui, service, run);
    if mesh.contains(service) {
        super::control_plane::proxy_config_ui(ui, s, service, run);
    }
    let rules = authorization_lines(mesh, service);
    if !rules.is_empty() {
        ui.label(RichText::new("Authorization (its sidecar)").weak());
        for r in rules {
            ui.label(into_plain(format!("  {r}")));
        }
    }
    if policies.is_empty() && chain.is_empty() && routes.is_empty() {
        ui.weak("no mesh policy or filter for requests to it");
    }
    let Some(run) = run else { return };
    let (kept, seen) = run.mesh.ejections(node);
    let breaker = run.mesh.breaker_rate(node);
    if seen == 0 && breaker.is_none() {
        ui.weak("last run: no ejection, no circuit breaker refusal");
        return;
    }
    ui.label(RichText::new(format!("Last run: {seen} ejections")).strong());
    for e in kept.iter().take(EJECTIONS_LISTED) {
        ui.label(into_plain(ejection_text(e)));
    }
    if seen > EJECTIONS_LISTED as u64 {
        ui.weak(format!("… and {} more", seen - EJECTIONS_LISTED as u64));
    }
    ui.label("Ejected replicas and circuit breaker refusals (per s) over the run");
    let ejected = run.mesh.ejected_over_time(node);
    Plot::new(("mesh-state", node)).height(120.0).allow_scroll(false).show(ui, |p| {
        if !ejected.is_empty() {
            p.line(Line::new("replicas ejected", ejected).color(theme::WARN));
        }
        if let Some(rate) = breaker {
            p.line(Line::new("breaker refusals / s", rate).color(theme::FAIL));
        }
    });
}

fn ejection_text(e: &Ejection) -> String {
    format!(
        "  replica {} by {} from {:.3} s to {:.3} s",
        e.replica,
        e.caller,
        e.from.as_secs_f64(),
        e.until.as_secs_f64()
    )
}

/// The filters the gateway runs on client requests, in chain order.
pub fn gateway_mesh_ui(ui: &mut egui::Ui, s: &Scenario) {
    let Some(mesh) = &s.mesh else { return };
    ui.separator();
    ui.label(RichText::new("Gateway filter chain").strong());
    let at_gateway: Vec<String> = mesh
        .filters
        .iter()
        .filter(|f| f.at.gateway())
        .map(|f| {
            let to = if f.services.is_empty() {
                "every service".to_owned()
            } else {
                f.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            };
            format!("{} ({}) on requests to {to}", f.name, f.module.name)
        })
        .collect();
    if at_gateway.is_empty() {
        ui.weak("no WebAssembly filter; destinations' policies apply");
    }
    for (i, f) in at_gateway.iter().enumerate() {
        ui.label(into_plain(format!("{}. {f}", i + 1)));
    }
}

/// Rows of the edge grid: what the mesh refused on this edge in the last run.
pub fn edge_mesh_rows(ui: &mut egui::Ui, run: Option<&LiveRun>, edge: usize) {
    let Some(run) = run else { return };
    let refused = run.mesh.refused(edge);
    if refused.is_empty() {
        return;
    }
    let denied = run.mesh.denied(edge);
    if denied > 0 {
        ui.label(RichText::new("denied (last run)").weak());
        ui.colored_label(theme::FAIL, format!("{denied} requests (authorization, mTLS)"));
        ui.end_row();
    }
    let others: Vec<String> = refused
        .iter()
        .filter(|(f, _)| !DENIALS.contains(&f.as_str()))
        .map(|(f, n)| format!("{f} {n}"))
        .collect();
    if !others.is_empty() {
        ui.label(RichText::new("refused by the mesh").weak());
        ui.label(into_plain(others.join(", ")));
        ui.end_row();
    }
}
