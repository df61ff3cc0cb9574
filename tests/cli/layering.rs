//! Architecture invariants: `model` is pure — its normal dependency tree holds no WebAssembly
//! runtime, GUI, plotting, randomness or async runtime — and `sim` knows nothing of the GUI.

use std::process::Command;

/// The crates in `package`'s normal dependency tree.
fn tree(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["tree", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sim_depends_on_no_gui() {
    let tree = tree("fusebench-sim");
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"wasmi"), "sanity: the tree lists sim's dependencies:\n{tree}");
    for banned in ["egui", "eframe", "winit", "wgpu", "fusebench-gui"] {
        assert!(!crates.contains(&banned), "fusebench-sim must not depend on `{banned}`:\n{tree}");
    }
}

#[test]
fn model_depends_on_no_runtime_gui_plotting_rng_or_async() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "fusebench-model",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"wasmparser"), "sanity: the tree lists model's dependencies:\n{tree}");
    for banned in [
        "wasmi",
        "wasmtime",
        "egui",
        "eframe",
        "plotters",
        "rand",
        "rand_core",
        "tokio",
        "getrandom",
    ] {
        assert!(
            !crates.contains(&banned),
            "fusebench-model must not depend on `{banned}`:\n{tree}"
        );
    }
}
