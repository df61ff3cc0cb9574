//! Frame time of the workbench: one whole frame of the app (logic, every panel, the graph)
//! plus egui's tessellation into triangles, on a generated 1,000-service scenario and on the
//! shop. GPU upload and rasterisation are not included (they run on the GPU, or lavapipe).
//!
//! `cargo bench -p fusebench-gui --bench frame`; figures in benches/README.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use eframe::egui;
use fusebench_gui::App;
use fusebench_gui::command::Command;
use fusebench_gui::diagram::Element;
use fusebench_gui::recent::Recent;

fn input() -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1600.0, 1000.0))),
        ..egui::RawInput::default()
    }
}

/// One frame: run the app, tessellate its shapes.
fn frame(ctx: &egui::Context, app: &mut App) -> usize {
    let out = ctx.run_ui(input(), |ui| {
        app.tick(ui.ctx());
        app.draw(ui);
    });
    ctx.tessellate(out.shapes, out.pixels_per_point).len()
}

fn open(ctx: &egui::Context, path: &Path) -> App {
    let mut app = App::new(ctx, Some(path), Recent::default());
    // Settle: fonts, the first fit of the graph.
    for _ in 0..3 {
        frame(ctx, &mut app);
    }
    app
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("fusebench-frame-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = dir.join("synthetic-1000.toml");
    std::fs::write(&big, fusebench_gui::synthetic::scenario(1000)).expect("write scenario");
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/shop/shop.toml");

    let mut g = c.benchmark_group("frame");
    g.sample_size(30);
    let ctx = egui::Context::default();
    let mut app = open(&ctx, &big);
    g.bench_function("1000 services, whole graph in view", |b| {
        b.iter(|| black_box(frame(&ctx, &mut app)));
    });
    // Zoomed to 100 %: labels drawn, most nodes culled.
    app.view.camera.zoom = 1.0;
    frame(&ctx, &mut app);
    g.bench_function("1000 services, 100 % zoom with labels", |b| {
        b.iter(|| black_box(frame(&ctx, &mut app)));
    });
    // A service selected: the inspector and its findings too.
    let node = app
        .bench
        .session
        .as_ref()
        .and_then(|s| s.design())
        .and_then(|d| d.diagram.service("svc-500"));
    app.apply(Command::Select(node.map(Element::Node)));
    frame(&ctx, &mut app);
    g.bench_function("1000 services, one selected", |b| {
        b.iter(|| black_box(frame(&ctx, &mut app)));
    });

    let ctx = egui::Context::default();
    let mut app = open(&ctx, &shop);
    g.bench_function("shop, idle", |b| b.iter(|| black_box(frame(&ctx, &mut app))));
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
