//! What-if: change Q thresholds, replicas, placement or the fault plan; the scenario is
//! re-parsed and re-checked at once; the next run is compared side by side with the run
//! before the change; the edited scenario can be saved back to TOML (comments kept).

use fusebench_model::text::into_plain;
use std::collections::BTreeMap;

use eframe::egui::{self, RichText};
use fusebench_model::edit::{Edit, FaultSpec, QualityField, SloField};
use fusebench_model::scenario::{FaultKind, FaultTarget, NameRef};
use fusebench_sim::report::Report;

use crate::command::Command;
use crate::diagram::{Element, NodeKind};
use crate::session::Design;
use crate::theme;
use crate::view::ViewState;
use crate::workbench::Baseline;

/// Fault kinds the form offers, with the kind of target each takes.
const FAULT_KINDS: [(&str, Target); 7] = [
    ("crash", Target::Service),
    ("partition", Target::Link),
    ("latency-spike", Target::Link),
    ("loss", Target::Link),
    ("duplication", Target::Channel),
    ("reorder", Target::Channel),
    ("replica-lag", Target::Store),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Service,
    Link,
    Channel,
    Store,
}

/// A number field with an Apply button; `draft` keeps what is typed between frames.
fn number_row(
    ui: &mut egui::Ui,
    drafts: &mut BTreeMap<String, f64>,
    key: &str,
    label: &str,
    current: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Option<f64> {
    let mut applied = None;
    let value = drafts.entry(key.to_owned()).or_insert(current);
    let speed = (current.abs() / 100.0).max(0.01);
    super::labelled(ui, label, egui::DragValue::new(value).range(range).speed(speed));
    let changed = (*value - current).abs() > 1e-12;
    if ui
        .add_enabled(changed, egui::Button::new("Apply"))
        .on_hover_text(format!("apply {label}"))
        .clicked()
    {
        applied = Some(*value);
    }
    ui.end_row();
    if applied.is_some() {
        drafts.remove(key);
    }
    applied
}

/// What the what-if panel shows.
#[derive(Debug, Clone, Copy)]
pub struct WhatIf<'a> {
    pub design: &'a Design,
    pub selection: Option<&'a Element>,
    /// Changes applied and not saved, described.
    pub edits: &'a [String],
    pub baseline: Option<&'a Baseline>,
    /// The latest finished run.
    pub current: Option<&'a Report>,
}

#[allow(clippy::too_many_lines)]
pub fn what_if_ui(
    ui: &mut egui::Ui,
    w: WhatIf<'_>,
    view: &mut ViewState,
    drafts: &mut BTreeMap<String, f64>,
    out: &mut Vec<Command>,
) {
    let WhatIf { design, selection, edits, baseline, current } = w;
    let s = design.scenario();
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        egui::ScrollArea::vertical().id_salt("whatif-forms").show(ui, |ui| {
            let selected = match selection {
                Some(Element::Node(i)) => design.diagram.nodes.get(*i),
                _ => None,
            };
            egui::Grid::new("whatif-grid").num_columns(3).show(ui, |ui| {
                match selected {
                    Some(n) if n.kind == NodeKind::Service => {
                        if let Some(svc) = s.service(&n.name) {
                            ui.label(
                                RichText::new(into_plain(format!("service {}", svc.name))).strong(),
                            );
                            ui.end_row();
                            let name = svc.name.clone();
                            if let Some(v) = number_row(
                                ui,
                                drafts,
                                &format!("{name}.replicas"),
                                "replicas",
                                f64::from(svc.replicas),
                                1.0..=1000.0,
                            ) {
                                out.push(Command::Edit(Edit::Replicas {
                                    service: name.clone(),
                                    replicas: v as u32,
                                }));
                            }
                            if let Some(v) = number_row(
                                ui,
                                drafts,
                                &format!("{name}.concurrency"),
                                "concurrency",
                                f64::from(svc.concurrency),
                                1.0..=10_000.0,
                            ) {
                                out.push(Command::Edit(Edit::Concurrency {
                                    service: name.clone(),
                                    concurrency: v as u32,
                                }));
                            }
                            ui.label("placement");
                            egui::ComboBox::from_id_salt("placement")
                                .selected_text(into_plain(svc.node.name.clone()))
                                .show_ui(ui, |ui| {
                                    for node in &s.nodes {
                                        if ui
                                            .selectable_label(
                                                node.name == svc.node.name,
                                                into_plain(format!(
                                                    "{} ({:?})",
                                                    node.name, node.tier
                                                )),
                                            )
                                            .clicked()
                                            && node.name != svc.node.name
                                        {
                                            out.push(Command::Edit(Edit::Placement {
                                                service: name.clone(),
                                                node: node.name.clone(),
                                            }));
                                        }
                                    }
                                });
                            ui.end_row();
                        }
                    }
                    Some(n)
                        if matches!(
                            n.kind,
                            NodeKind::Store | NodeKind::Cache | NodeKind::Broker
                        ) =>
                    {
                        if let Some(st) = s.store(&n.name) {
                            ui.label(
                                RichText::new(into_plain(format!("store {}", st.name))).strong(),
                            );
                            ui.end_row();
                            if let Some(v) = number_row(
                                ui,
                                drafts,
                                &format!("{}.replicas", st.name),
                                "replicas",
                                f64::from(st.replicas),
                                1.0..=100.0,
                            ) {
                                out.push(Command::Edit(Edit::StoreReplicas {
                                    store: st.name.clone(),
                                    replicas: v as u32,
                                }));
                            }
                        }
                    }
                    _ => {
                        ui.weak("select a service or store to change its replicas or placement");
                        ui.end_row();
                    }
                }
                ui.label(RichText::new("quality targets (Q)").strong());
                ui.end_row();
                for field in QualityField::ALL {
                    let current = match field {
                        QualityField::CouplingMax => s.quality.coupling_max,
                        QualityField::CohesionMin => s.quality.cohesion_min,
                        QualityField::ConvergenceMs => s.quality.convergence_ms,
                    };
                    let range =
                        if field == QualityField::ConvergenceMs { 0.0..=3.6e6 } else { 0.0..=1.0 };
                    if let Some(v) =
                        number_row(ui, drafts, field.key(), field.key(), current, range)
                    {
                        out.push(Command::Edit(Edit::Quality { field, value: v }));
                    }
                }
                for (i, slo) in s.quality.slos.iter().enumerate() {
                    ui.label(
                        RichText::new(into_plain(format!(
                            "SLO {}.{}",
                            slo.service.name, slo.endpoint.name
                        )))
                        .italics(),
                    );
                    ui.end_row();
                    for field in SloField::ALL {
                        let current = match field {
                            SloField::P50Ms => slo.p50_ms,
                            SloField::P99Ms => slo.p99_ms,
                            SloField::Availability => slo.availability,
                            SloField::ThroughputMinRps => slo.throughput_min_rps,
                        };
                        let Some(current) = current else { continue };
                        let range =
                            if field == SloField::Availability { 0.0..=1.0 } else { 0.0..=1e7 };
                        if let Some(v) = number_row(
                            ui,
                            drafts,
                            &format!("slo{i}.{}", field.key()),
                            field.key(),
                            current,
                            range,
                        ) {
                            out.push(Command::Edit(Edit::Slo { index: i, field, value: Some(v) }));
                        }
                    }
                }
                if let Some(rate) = s.workload.as_ref().and_then(|w| arrival_rate(&w.arrival)) {
                    ui.label(RichText::new("workload").strong());
                    ui.end_row();
                    if let Some(v) = number_row(ui, drafts, "rate", "rate_rps", rate, 0.001..=1e7) {
                        out.push(Command::Edit(Edit::ArrivalRate { rate_rps: v }));
                    }
                }
            });
            ui.separator();
            faults_ui(ui, design, view, out);
        });
        let ui = &mut cols[1];
        ui.label(RichText::new("Changes not saved").strong());
        if edits.is_empty() {
            ui.weak("none");
        }
        for e in edits {
            ui.label(format!("• {e}"));
        }
        ui.horizontal(|ui| {
            if ui.add_enabled(!edits.is_empty(), egui::Button::new("Save changes")).clicked() {
                out.push(Command::Save(None));
            }
            if ui.add_enabled(!edits.is_empty(), egui::Button::new("Revert changes")).clicked() {
                out.push(Command::Revert);
            }
        });
        ui.separator();
        compare_ui(ui, baseline, current);
    });
}

fn arrival_rate(a: &fusebench_model::scenario::Arrival) -> Option<f64> {
    use fusebench_model::scenario::Arrival;
    match a {
        Arrival::Poisson { rate_rps }
        | Arrival::Constant { rate_rps }
        | Arrival::OnOff { rate_rps, .. } => Some(*rate_rps),
        _ => None,
    }
}

fn faults_ui(ui: &mut egui::Ui, design: &Design, view: &mut ViewState, out: &mut Vec<Command>) {
    let s = design.scenario();
    ui.label(RichText::new(format!("Fault plan ({})", s.faults.len())).strong());
    for (i, f) in s.faults.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(format!("#{i} {}", FaultSpec::from(f)));
            if ui.small_button("remove").clicked() {
                out.push(Command::Edit(Edit::RemoveFault { index: i }));
            }
        });
    }
    let form = &mut view.what_if;
    let (kind, target_kind) = FAULT_KINDS[form.fault_kind.min(FAULT_KINDS.len() - 1)];
    let targets: Vec<(String, FaultTarget)> = match target_kind {
        Target::Service => s
            .services
            .iter()
            .map(|x| {
                (
                    x.name.clone(),
                    FaultTarget::Service { service: NameRef::new(&x.name), replica: Some(0) },
                )
            })
            .collect(),
        Target::Link => s
            .links
            .iter()
            .map(|l| {
                let (a, b) = (&l.between[0].name, &l.between[1].name);
                (
                    format!("{a} ↔ {b}"),
                    FaultTarget::Link { between: [NameRef::new(a), NameRef::new(b)] },
                )
            })
            .collect(),
        Target::Channel => s
            .channels
            .iter()
            .filter(|c| !c.kind.is_sync())
            .map(|c| (c.name.clone(), FaultTarget::Channel { channel: NameRef::new(&c.name) }))
            .collect(),
        Target::Store => s
            .stores
            .iter()
            .map(|st| (st.name.clone(), FaultTarget::Store { store: NameRef::new(&st.name) }))
            .collect(),
    };
    ui.horizontal_wrapped(|ui| {
        ui.label("add");
        egui::ComboBox::from_id_salt("fault-kind").selected_text(kind).show_ui(ui, |ui| {
            for (i, (k, _)) in FAULT_KINDS.iter().enumerate() {
                if ui.selectable_value(&mut form.fault_kind, i, *k).changed() {
                    form.fault_target = 0;
                }
            }
        });
        let chosen = targets.get(form.fault_target).map_or("(none)", |t| t.0.as_str());
        egui::ComboBox::from_id_salt("fault-target").selected_text(chosen).show_ui(ui, |ui| {
            for (i, (name, _)) in targets.iter().enumerate() {
                ui.selectable_value(&mut form.fault_target, i, name);
            }
        });
        super::labelled(
            ui,
            "at s",
            egui::DragValue::new(&mut form.fault_at_s).range(0.0..=3600.0).speed(0.1),
        );
        let amount_label = match kind {
            "crash" => "restart after s",
            "loss" | "duplication" => "rate",
            "latency-spike" | "replica-lag" => "extra ms",
            "reorder" => "jitter ms",
            _ => "",
        };
        if kind != "crash" {
            let d =
                egui::DragValue::new(&mut form.fault_duration_s).range(0.01..=3600.0).speed(0.1);
            super::labelled(ui, "for s", d);
        }
        if !amount_label.is_empty() {
            let a = egui::DragValue::new(&mut form.fault_amount).range(0.0..=1e6).speed(0.1);
            super::labelled(ui, amount_label, a);
        }
        let amount = form.fault_amount;
        let fault_kind = match kind {
            "crash" => FaultKind::Crash { restart_after_s: Some(amount) },
            "partition" => FaultKind::Partition,
            "latency-spike" => FaultKind::LatencySpike { extra_ms: amount },
            "loss" => FaultKind::Loss { rate: amount.min(1.0) },
            "duplication" => FaultKind::Duplication { rate: amount.min(1.0) },
            "reorder" => FaultKind::Reorder { jitter_ms: amount },
            _ => FaultKind::ReplicaLag { extra_ms: amount },
        };
        let target = targets.get(form.fault_target).map(|t| t.1.clone());
        if ui.add_enabled(target.is_some(), egui::Button::new("Add fault")).clicked()
            && let Some(target) = target
        {
            let duration_s = (kind != "crash").then_some(form.fault_duration_s);
            let spec = FaultSpec { kind: fault_kind, target, at_s: form.fault_at_s, duration_s };
            out.push(Command::Edit(Edit::AddFault(spec)));
        }
    });
}

/// The run before the change and the run after, side by side.
fn compare_ui(ui: &mut egui::Ui, baseline: Option<&Baseline>, current: Option<&Report>) {
    ui.label(RichText::new("Compare runs").strong());
    let Some(base) = baseline else {
        ui.weak("Run, change something, run again: the two runs appear here side by side.");
        return;
    };
    let Some(now) = current else {
        ui.weak(format!("Baseline kept ({}); run the changed scenario to compare.", base.label));
        return;
    };
    ui.label(format!(
        "before: seed {} · after: seed {} ({})",
        base.report.seed, now.seed, base.label
    ));
    egui::ScrollArea::vertical().id_salt("compare").show(ui, |ui| {
        egui::Grid::new("compare-grid").striped(true).num_columns(5).show(ui, |ui| {
            for h in [
                "endpoint",
                "p50 ms before → after",
                "p99 ms before → after",
                "avail % before → after",
                "req/s",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for (name, b) in &base.report.endpoints {
                let a = now.endpoints.get(name);
                ui.label(name);
                let pair = |x: f64, y: Option<f64>, better_low: bool| {
                    let y_text = y.map_or("–".to_owned(), |y| format!("{y:.2}"));
                    let colour = y.map(|y| {
                        let better = if better_low { y < x } else { y > x };
                        if (y - x).abs() < 1e-9 {
                            ui.visuals().text_color()
                        } else if better {
                            theme::PASS
                        } else {
                            theme::FAIL
                        }
                    });
                    (format!("{x:.2} → {y_text}"), colour)
                };
                for (text, colour) in [
                    pair(b.latency.p50_ms, a.map(|a| a.latency.p50_ms), true),
                    pair(b.latency.p99_ms, a.map(|a| a.latency.p99_ms), true),
                    pair(b.availability * 100.0, a.map(|a| a.availability * 100.0), false),
                    pair(b.throughput_rps, a.map(|a| a.throughput_rps), false),
                ] {
                    match colour {
                        Some(c) => ui.colored_label(c, text),
                        None => ui.label(text),
                    };
                }
                ui.end_row();
            }
        });
        let verdicts = |r: &Report| {
            r.slos.iter().filter(|v| v.verdict == fusebench_sim::report::SloStatus::Pass).count()
        };
        ui.label(format!(
            "SLO objectives met: {}/{} before → {}/{} after",
            verdicts(&base.report),
            base.report.slos.len(),
            verdicts(now),
            now.slos.len()
        ));
    });
}
