//! Issue 17: inputs are untrusted. Every file fusebench reads — scenario, module, store-init
//! file, replay file — must be a regular file within a size limit: a device, FIFO or directory
//! is refused by name at once (not read until memory runs out, not waited on), an oversize file
//! without being read whole, and text that is not UTF-8 at its line and byte offset. Each is
//! bad input (exit 2) with a located one-line message that says its cause once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{code, root, stderr};

/// A fresh directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    crate::support::scratch("inputs", test)
}

/// Runs `fusebench ARGS`, killing it after 60 s: a FIFO or device that is waited on or read
/// forever must fail the test, not hang it.
fn fusebench_bounded(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fusebench"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fusebench binary runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("fusebench {args:?} did not finish in 60 s; stderr: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Exit 2, and every line of stderr says each thing once: no `a: b: b` chains, and the cause
/// (`needle`) on exactly one line, which also names `located` (the file, or file:line:col).
fn assert_bad_input(out: &Output, located: &str, needle: &str) {
    let err = stderr(out);
    assert_eq!(code(out), 2, "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(needle)).collect();
    assert_eq!(lines.len(), 1, "the cause once, on one line:\n{err}");
    assert!(lines[0].contains(located), "`{located}` not in {:?}", lines[0]);
    for line in err.lines() {
        let parts: Vec<&str> = line.split(": ").collect();
        for pair in parts.windows(2) {
            assert_ne!(pair[0].trim(), pair[1].trim(), "a repeated cause in {line:?}");
        }
        assert!(line.matches(needle).count() <= 1, "the cause twice in {line:?}");
    }
}

/// The flawed `module-abi` scenario (one service, one module) with its module at `module`.
fn scenario_with_module(dir: &Path, module: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("scenarios/flawed/static/module-abi.toml"))
        .expect("scenario");
    let path = dir.join("one.toml");
    std::fs::write(&path, text.replace("modules/wrong-abi.wat", module)).expect("write");
    path
}

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_as_scenario_module_store_init_and_replay_file() {
    let out = fusebench_bounded(&["check", "/dev/zero"]);
    assert_bad_input(&out, "scenario /dev/zero", "a character device, not a regular file");
    let out = fusebench_bounded(&["run", "/dev/zero"]);
    assert_bad_input(&out, "scenario /dev/zero", "a character device, not a regular file");
    let out = fusebench_bounded(&["inspect", "/dev/zero"]);
    assert_bad_input(&out, "module /dev/zero", "a character device, not a regular file");
    let out = fusebench_bounded(&["replay", "/dev/zero"]);
    assert_bad_input(&out, "replay file /dev/zero", "a character device, not a regular file");
    let out = fusebench_bounded(&[
        "invoke",
        "scenarios/shop/shop.toml",
        "catalog",
        "get_product",
        "--data",
        r#"{"sku":"sku-1"}"#,
        "--store-init",
        "/dev/zero",
    ]);
    assert_bad_input(&out, "store-init file /dev/zero", "a character device, not a regular file");

    // A scenario naming /dev/zero (through a link) as a module: located at the scenario line.
    let dir = scratch_dir("dev-zero-module");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.wasm")).expect("symlink");
    let scenario = scenario_with_module(&dir, "zero.wasm");
    let text = std::fs::read_to_string(&scenario).expect("scenario");
    let line = text.lines().position(|l| l.contains("zero.wasm")).expect("line") + 1;
    let scenario = scenario.to_str().expect("utf-8");
    let out = fusebench_bounded(&["check", scenario]);
    assert_bad_input(
        &out,
        &format!("{scenario}:{line}:"),
        "a character device, not a regular file",
    );
    assert!(stderr(&out).contains("service `orders`: module "), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = scratch_dir("fifo");
    let fifo = dir.join("pipe.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let fifo = fifo.to_str().expect("utf-8");
    let out = fusebench_bounded(&["check", fifo]);
    assert_bad_input(&out, &format!("scenario {fifo}"), "a FIFO, not a regular file");
    let out = fusebench_bounded(&["graph", fifo]);
    assert_bad_input(&out, &format!("scenario {fifo}"), "a FIFO, not a regular file");
}

#[test]
fn a_directory_is_refused_by_name() {
    let out = fusebench_bounded(&["check", "scenarios"]);
    assert_bad_input(&out, "scenario scenarios", "a directory, not a regular file");
    let dir = scratch_dir("directory-module");
    std::fs::create_dir_all(dir.join("module.wasm")).expect("dir");
    let scenario = scenario_with_module(&dir, "module.wasm");
    let out = fusebench_bounded(&["check", scenario.to_str().expect("utf-8")]);
    assert_bad_input(&out, "module.wasm", "a directory, not a regular file");
}

#[test]
fn an_oversize_file_is_refused_without_reading_it() {
    let dir = scratch_dir("oversize");
    let big = dir.join("big.toml");
    // Sparse: 8 MiB + 1 byte on paper, nothing on disk.
    let file = std::fs::File::create(&big).expect("create");
    file.set_len((8 << 20) + 1).expect("set_len");
    let big = big.to_str().expect("utf-8");
    let out = fusebench_bounded(&["check", big]);
    assert_bad_input(&out, &format!("scenario {big}"), "over the 8 MiB limit for a scenario");

    let module = dir.join("big.wasm");
    std::fs::File::create(&module).expect("create").set_len((64 << 20) + 1).expect("set_len");
    let scenario = scenario_with_module(&dir, "big.wasm");
    let out = fusebench_bounded(&["check", scenario.to_str().expect("utf-8")]);
    assert_bad_input(&out, "big.wasm", "over the 64 MiB limit for a module");
}

#[test]
fn invalid_utf8_names_the_line_and_byte_offset() {
    let dir = scratch_dir("utf8");
    let path = dir.join("latin1.toml");
    // Line 2, column 12, byte offset 20: the 0xe9 of a Latin-1 "é".
    std::fs::write(&path, b"[system]\nname = \"caf\xe9\"\n").expect("write");
    let path = path.to_str().expect("utf-8");
    let out = fusebench_bounded(&["check", path]);
    assert_bad_input(
        &out,
        &format!("{path}:2:12:"),
        "the scenario is not UTF-8 (invalid byte 0xe9 at byte offset 20)",
    );
    let out = fusebench_bounded(&["graph", path]);
    assert_bad_input(&out, &format!("{path}:2:12:"), "is not UTF-8");
}
