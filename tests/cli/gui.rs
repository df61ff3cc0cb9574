//! `fusebench gui`: the subcommand exists, documents its options, and without a display fails
//! with a clear error and exit 2 instead of a crash (the workbench itself is tested headless in
//! `gui/tests/`).

use std::process::Command;

use crate::support::{code, fusebench, root, stderr, stdout};

#[test]
fn gui_help_lists_the_scripting_options() {
    let o = fusebench(&["gui", "--help"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let help = stdout(&o);
    for opt in ["--select", "--run", "--check", "--counterexample", "--screenshot", "[SCENARIO]"] {
        assert!(help.contains(opt), "{opt} in:\n{help}");
    }
}

#[test]
fn without_a_display_gui_fails_cleanly() {
    let o = Command::new(env!("CARGO_BIN_EXE_fusebench"))
        .args(["gui", "scenarios/shop/shop.toml"])
        .current_dir(root())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("the fusebench binary runs");
    assert_eq!(code(&o), 2, "exit 2 on no display: {}", stderr(&o));
    assert!(stderr(&o).contains("cannot open the workbench window"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
