//! The inspector's control plane view (Istio's istiod pushing configuration over xDS): the
//! pushes as declared and, as a run goes, one timeline per proxy — the gateway and each meshed
//! service's sidecar, every one from the start, whether a push reached it yet or not — with a
//! band per configuration it applied (0 is the scenario's own),
//! the push instants marked, and what each configuration changed; for a destination with
//! version subsets, the requests each configuration sent to each subset (the report's "Mesh
//! routes" numbers). Only the scenario's `[mesh]` and the run's
//! [`MeshConfigs`](crate::mesh_config::MeshConfigs) are shown: nothing here decides.

use eframe::egui::{self, Align2, Color32, FontId, RichText, Sense, Stroke, vec2};
use fusebench_model::Scenario;
use fusebench_model::scenario::Mesh;
use fusebench_model::text::into_plain;
use fusebench_sim::time::SimTime;

use crate::live::{LiveRun, RunState};
use crate::mesh_config::{Band, MeshConfigs};
use crate::theme;

/// A timeline row's height.
const ROW_H: f32 = 18.0;

/// The width of the proxy names left of the rows.
const NAME_W: f32 = 110.0;

/// The heading of the per-proxy timelines (for the panel and its tests).
pub const TIMELINES: &str = "Configuration per proxy over the run";

/// What the view says under the timelines while the run has pushed nothing yet.
pub const NO_PUSH_YET: &str = "no push yet: every proxy holds the scenario's own configuration";

/// What the view says of a mesh without pushes.
pub const NO_CONTROL_PLANE: &str =
    "No control plane: nothing is pushed, every proxy keeps the scenario's own mesh configuration.";

fn secs(t: SimTime) -> String {
    format!("{:.3} s", t.as_secs_f64())
}

/// The pushes as declared, in the order they apply: configuration `k` is the `k`-th.
#[must_use]
pub fn declared_lines(mesh: &Mesh) -> Vec<String> {
    mesh.push_order()
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let p = &mesh.pushes[p];
            format!("config {} at {} s: {}: {}", i + 1, p.at_s, p.subject(), p.describe())
        })
        .collect()
}

/// A band's accessible label and hover text's first line: `gateway: config 1 from 10.200 s
/// to 21.000 s` (`to the end` once the run finished, `so far` while it runs).
#[must_use]
pub fn band_label(proxy: &str, b: &Band, finished: bool) -> String {
    let until = match b.until {
        Some(t) => format!("to {}", secs(t)),
        None if finished => "to the end".to_owned(),
        None => "so far".to_owned(),
    };
    format!("{proxy}: config {} from {} {until}", b.config, secs(b.from))
}

/// One line per push of the run: when it left, what it changed, when its proxies applied it.
#[must_use]
pub fn change_lines(c: &MeshConfigs) -> Vec<String> {
    let mut out = vec!["config 0: the scenario's own routes, policies and filters".to_owned()];
    for p in c.pushes() {
        let applied =
            match (p.applied.iter().map(|a| a.1).min(), p.applied.iter().map(|a| a.1).max()) {
                (Some(first), Some(last)) => format!(
                    "applied by {} prox{} from {} to {}",
                    p.applied.len(),
                    if p.applied.len() == 1 { "y" } else { "ies" },
                    secs(first),
                    secs(last)
                ),
                _ => "applied by no proxy yet".to_owned(),
            };
        out.push(format!(
            "config {} pushed at {}: {}: {}; {applied}",
            p.config,
            secs(p.pushed),
            p.service,
            p.change
        ));
    }
    out
}

/// `proxy`'s configurations over the run so far: what it applied, or — for a proxy that
/// applied no push yet — the scenario's own (0) from the start, as every proxy begins.
#[must_use]
pub fn proxy_bands(c: &MeshConfigs, proxy: &str) -> Vec<Band> {
    let bands = c.bands(proxy);
    if bands.is_empty() {
        vec![Band { config: 0, from: SimTime::ZERO, until: None }]
    } else {
        bands
    }
}

/// Which configurations `proxy` applied and from when: `config 0, 1 from 10.200 s, 2 from
/// 21.000 s` (`config 0` alone while it applied no push).
#[must_use]
pub fn proxy_line(c: &MeshConfigs, proxy: &str) -> String {
    let parts: Vec<String> = proxy_bands(c, proxy)
        .iter()
        .map(|b| {
            if b.config == 0 {
                "config 0".to_owned()
            } else {
                format!("{} from {}", b.config, secs(b.from))
            }
        })
        .collect();
    parts.join(", ")
}

/// The requests the run sent to `service`'s subsets: per configuration when there were
/// pushes (the report's "Mesh routes" rows and shares), else per subset only.
#[must_use]
pub fn routed_lines(c: &MeshConfigs, service: &str) -> Vec<String> {
    let routed = c.routed(service);
    routed
        .iter()
        .map(|r| {
            let total: u64 =
                routed.iter().filter(|x| x.config == r.config).map(|x| x.requests).sum();
            let share = 100.0 * r.requests as f64 / total.max(1) as f64;
            let header = if r.by_header > 0 {
                format!(", {} by header", r.by_header)
            } else {
                String::new()
            };
            let config =
                if c.has_pushes() { format!("config {} → ", r.config) } else { String::new() };
            format!("{config}{}: {} ({share:.1} %){header}", r.subset, r.requests)
        })
        .collect()
}

/// The control plane section of the inspector's system view.
pub fn control_plane_ui(ui: &mut egui::Ui, s: &Scenario, run: Option<&LiveRun>) {
    let Some(mesh) = &s.mesh else { return };
    ui.separator();
    ui.label(RichText::new("Control plane").strong());
    if mesh.pushes.is_empty() {
        ui.weak(NO_CONTROL_PLANE);
        return;
    }
    if let Some(cp) = &mesh.control_plane {
        ui.label(into_plain(format!("propagation to each proxy: {:?}", cp.propagation)));
    }
    for line in declared_lines(mesh) {
        ui.label(RichText::new(into_plain(line)).monospace());
    }
    let Some(run) = run else {
        ui.weak("Run it to see when each proxy applied each push.");
        return;
    };
    ui.label(TIMELINES);
    timelines_ui(ui, s, run);
    if !run.configs.has_pushes() {
        ui.weak(NO_PUSH_YET);
        return;
    }
    ui.label(RichText::new("What each configuration changed").weak());
    for line in change_lines(&run.configs) {
        ui.label(into_plain(format!("  {line}")));
    }
}

/// The proxies a push reaches, in the order their rows are drawn: the gateway first (where
/// clients' requests enter), then each meshed service's sidecar by name — every one from the
/// start of a run, whether it applied a push yet or not (`system/mesh/control.rs` sends each
/// push to exactly these), and any other proxy the trace names.
#[must_use]
pub fn rows(c: &MeshConfigs, s: &Scenario) -> Vec<String> {
    let mut rows: Vec<String> = vec!["gateway".to_owned()];
    if let Some(mesh) = &s.mesh {
        rows.extend(s.services.iter().filter(|x| mesh.contains(&x.name)).map(|x| x.name.clone()));
    }
    rows.extend(c.proxies().iter().cloned());
    rows.sort_by(|a, b| (a != "gateway", a).cmp(&(b != "gateway", b)));
    rows.dedup();
    rows
}

/// One row per proxy: a band per configuration, coloured and numbered, each hoverable (its
/// span, what its push changed) and labelled for accessibility; the push instants as vertical
/// marks; the run's time below.
fn timelines_ui(ui: &mut egui::Ui, s: &Scenario, run: &LiveRun) {
    let c = &run.configs;
    let finished = run.state == RunState::Finished;
    let end = run.end.as_secs_f64();
    let now = run.now();
    for proxy in rows(c, s) {
        let proxy = &proxy;
        ui.horizontal(|ui| {
            ui.allocate_ui_with_layout(
                vec2(NAME_W, ROW_H),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| {
                    ui.set_min_width(NAME_W);
                    ui.add(
                        egui::Label::new(RichText::new(into_plain(proxy.clone())).monospace())
                            .truncate(),
                    );
                },
            );
            let width = ui.available_width().max(120.0);
            let (rect, _) = ui.allocate_exact_size(vec2(width, ROW_H), Sense::hover());
            let x = |t: SimTime| {
                let f = if end > 0.0 { (t.as_secs_f64() / end).clamp(0.0, 1.0) } else { 0.0 };
                rect.left() + f as f32 * rect.width()
            };
            let painter = ui.painter_at(rect.expand(2.0));
            painter.rect_filled(rect, 2.0, theme::BAND);
            for (i, b) in proxy_bands(c, proxy).iter().enumerate() {
                let until = b.until.unwrap_or(now).max(b.from);
                let r = egui::Rect::from_min_max(
                    egui::pos2(x(b.from), rect.top()),
                    egui::pos2(x(until), rect.bottom()),
                );
                painter.rect_filled(r, 2.0, theme::series(b.config as usize).gamma_multiply(0.8));
                if r.width() > 14.0 {
                    painter.text(
                        r.center(),
                        Align2::CENTER_CENTER,
                        b.config.to_string(),
                        FontId::monospace(11.0),
                        Color32::WHITE,
                    );
                }
                let label = into_plain(band_label(proxy, b, finished));
                let change = c.push(b.config).map_or_else(
                    || "the scenario's own routes, policies and filters".to_owned(),
                    |p| format!("pushed at {}: {}: {}", secs(p.pushed), p.service, p.change),
                );
                let response = ui.interact(
                    r,
                    ui.make_persistent_id(("config-band", proxy.as_str(), i)),
                    Sense::hover(),
                );
                response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
                response.on_hover_text(format!("{label}\n{}", into_plain(change)));
            }
            for p in c.pushes() {
                let px = x(p.pushed);
                painter.vline(px, rect.y_range(), Stroke::new(2.0, theme::PULSE));
            }
        });
    }
    ui.horizontal(|ui| {
        ui.add_space(NAME_W + ui.spacing().item_spacing.x);
        ui.weak(format!("0 s … {end:.3} s; ┃ a push leaves istiod; hover a band for its change"));
    });
}

/// A proxy's own line in its inspector view (the gateway's, a meshed service's sidecar's):
/// which configurations it applied in the last run, and when.
pub fn proxy_config_ui(ui: &mut egui::Ui, s: &Scenario, proxy: &str, run: Option<&LiveRun>) {
    let Some(mesh) = &s.mesh else { return };
    if mesh.pushes.is_empty() {
        return;
    }
    let Some(run) = run else { return };
    let line = proxy_line(&run.configs, proxy);
    ui.label(RichText::new("Configuration applied (last run)").weak());
    ui.label(into_plain(format!("  {line}")));
}

/// The requests the last run sent to each of `service`'s subsets (per configuration), with
/// their share of that configuration's.
pub fn routed_ui(ui: &mut egui::Ui, service: &str, run: Option<&LiveRun>) {
    let Some(run) = run else { return };
    let lines = routed_lines(&run.configs, service);
    if lines.is_empty() {
        return;
    }
    ui.label(RichText::new("Requests per subset (last run)").weak());
    for line in lines {
        ui.label(into_plain(format!("  {line}")));
    }
}

#[cfg(test)]
mod tests {
    use fusebench_sim::trace::{TraceEvent, TraceLine};

    use super::*;

    fn route(ms: u64, proxy: &str, action: &str, config: u32, detail: &str) -> TraceLine {
        TraceLine {
            t: SimTime(ms * 1_000_000),
            event: TraceEvent::MeshRoute {
                proxy: proxy.into(),
                service: "payments".into(),
                action: action.into(),
                config,
                req: 0,
                detail: detail.into(),
            },
        }
    }

    /// The canary shop: a mesh of every service (`all = true`) with two pushes.
    fn canary() -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/mesh/shop-canary.toml");
        let text = std::fs::read_to_string(path).expect("the canary shop reads");
        fusebench_model::scenario::parse(path, &text).ok().expect("the canary shop parses")
    }

    fn fed(lines: &[TraceLine]) -> MeshConfigs {
        let mut c = MeshConfigs::new();
        for l in lines {
            c.note(l);
        }
        c
    }

    #[test]
    fn a_push_not_yet_applied_everywhere_is_shown_as_such() {
        let c = fed(&[
            route(1_000, "istiod", "push", 1, "v1=50,v2=50"),
            route(1_250, "orders", "applied", 1, "v1=50,v2=50"),
            route(1_500, "gateway", "applied", 1, "v1=50,v2=50"),
            route(5_000, "istiod", "push", 2, "v2=100"),
            route(5_400, "orders", "applied", 2, "v2=100"),
        ]);
        let s = canary();
        let mut sidecars: Vec<String> = s.services.iter().map(|x| x.name.clone()).collect();
        sidecars.sort();
        assert!(sidecars.len() >= 4 && sidecars.contains(&"orders".to_owned()), "{sidecars:?}");
        let expected: Vec<String> = std::iter::once("gateway".to_owned()).chain(sidecars).collect();
        assert_eq!(rows(&c, &s), expected, "every proxy, the gateway first, then by name");
        let gateway = c.bands("gateway");
        assert_eq!(
            band_label("gateway", &gateway[0], false),
            "gateway: config 0 from 0.000 s to 1.500 s"
        );
        assert_eq!(
            band_label("gateway", &gateway[1], false),
            "gateway: config 1 from 1.500 s so far"
        );
        assert_eq!(
            band_label("gateway", &gateway[1], true),
            "gateway: config 1 from 1.500 s to the end"
        );
        assert_eq!(proxy_line(&c, "gateway"), "config 0, 1 from 1.500 s");
        assert_eq!(proxy_line(&c, "orders"), "config 0, 1 from 1.250 s, 2 from 5.400 s");
        // A proxy the pushes have not reached yet holds the scenario's own from the start.
        assert_eq!(proxy_line(&c, "catalog"), "config 0");
        let catalog = proxy_bands(&c, "catalog");
        assert_eq!(catalog, [Band { config: 0, from: SimTime::ZERO, until: None }]);
        assert_eq!(
            band_label("catalog", &catalog[0], false),
            "catalog: config 0 from 0.000 s so far"
        );
        assert_eq!(
            change_lines(&c),
            [
                "config 0: the scenario's own routes, policies and filters",
                "config 1 pushed at 1.000 s: payments: v1=50,v2=50; applied by 2 proxies from 1.250 s to 1.500 s",
                "config 2 pushed at 5.000 s: payments: v2=100; applied by 1 proxy from 5.400 s to 5.400 s",
            ]
        );
        let c = fed(&[route(1_000, "istiod", "push", 1, "v2=100")]);
        assert_eq!(
            change_lines(&c)[1],
            "config 1 pushed at 1.000 s: payments: v2=100; applied by no proxy yet"
        );
        assert_eq!(rows(&c, &s), expected, "a row per proxy before any applied a push");
        // Only meshed services have a sidecar: with the mesh cut to one service, the rows are
        // the gateway's and that sidecar's.
        let mut one = s.clone();
        if let Some(mesh) = one.mesh.as_mut() {
            mesh.all = false;
            mesh.services = vec![fusebench_model::scenario::NameRef::new("payments")];
        }
        assert_eq!(rows(&MeshConfigs::new(), &one), ["gateway", "payments"]);
    }

    #[test]
    fn requests_per_subset_name_the_configuration_only_when_something_was_pushed() {
        let lines = [
            route(10, "orders", "routed", 0, "v1"),
            route(11, "orders", "routed", 0, "v1"),
            route(12, "orders", "matched", 0, "v2"),
        ];
        let c = fed(&lines);
        assert_eq!(routed_lines(&c, "payments"), ["v1: 2 (66.7 %)", "v2: 1 (33.3 %), 1 by header"]);
        let mut pushed = vec![route(1, "istiod", "push", 1, "v2=100")];
        pushed.extend(lines);
        pushed.push(route(20, "orders", "routed", 1, "v2"));
        assert_eq!(
            routed_lines(&fed(&pushed), "payments"),
            [
                "config 0 → v1: 2 (66.7 %)",
                "config 0 → v2: 1 (33.3 %), 1 by header",
                "config 1 → v2: 1 (100.0 %)",
            ]
        );
        assert!(routed_lines(&c, "catalog").is_empty());
    }
}
