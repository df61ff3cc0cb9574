//! The committed guest modules are what their sources build, and the guests' own tests pass.
//! `guests/` is a separate Cargo workspace (built for wasm32), so it is driven from here.

use std::process::Command;

use crate::support::root;

#[test]
fn committed_modules_match_their_sources() {
    let out = Command::new("bash")
        .arg("guests/check.sh")
        .current_dir(root())
        .output()
        .expect("bash runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Say plainly what was compared and what was skipped (a missing toolchain).
    eprintln!("guests/check.sh:\n{text}");
    assert!(out.status.success(), "committed modules differ from a rebuild:\n{text}");
}

#[test]
fn guest_unit_and_conformance_tests_pass() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["test", "--quiet", "--manifest-path", "guests/Cargo.toml"])
        .env_remove("CARGO_TARGET_DIR")
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "guests' tests failed:\n{text}");
    assert!(text.contains("test result: ok"), "no guest test ran:\n{text}");
}
