//! `fusebench inspect` driven as a user would, on modules built by real toolchains
//! (`tests/fixtures/modules/`, rebuilt by `regenerate.sh` there).
//!
//! The section table is checked against wabt's `wasm-objdump -h`: the output recorded next to
//! each fixture always, and a live run too when `wasm-objdump` is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const TOOLCHAIN_FIXTURES: [&str; 6] = [
    "c-probe.wasm",
    "rust-probe.wasm",
    "rust-probe-wasip1.wasm",
    "as-probe.wasm",
    "emcc-probe.wasm",
    "wat-echo.wasm",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modules")
}

fn fusebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fusebench"))
        .args(args)
        .output()
        .expect("the fusebench binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn inspect_json(path: &Path) -> Value {
    let path = path.to_str().expect("fixture paths are UTF-8");
    let output = fusebench(&["inspect", "--json", path]);
    assert!(output.status.success(), "inspect --json {path} failed: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("inspect --json prints JSON")
}

/// A scratch file in Cargo's per-test-target temporary directory.
fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).expect("write scratch file");
    path
}

/// One line of `wasm-objdump -h`, e.g.
/// `     Type start=0x0000000a end=0x00000019 (size=0x0000000f) count: 3`.
#[derive(Debug, PartialEq, Eq)]
struct SectionLine {
    name: String,
    start: u64,
    size: u64,
    /// `count: N`; absent for custom sections and the start section.
    count: Option<u64>,
    custom_name: Option<String>,
}

fn hex(field: &str, prefix: &str) -> Option<u64> {
    u64::from_str_radix(field.strip_prefix(prefix)?.trim_end_matches(')'), 16).ok()
}

fn parse_objdump_h(text: &str) -> Vec<SectionLine> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?.to_owned();
            let start = hex(words.next()?, "start=0x")?;
            let _end = hex(words.next()?, "end=0x")?;
            let size = hex(words.next()?, "(size=0x")?;
            let rest: Vec<&str> = words.collect();
            let count = match rest.as_slice() {
                ["count:", n] => Some(n.parse().expect("count is a number")),
                _ => None,
            };
            let custom_name = (name == "Custom")
                .then(|| rest.join(" ").trim_matches('"').to_owned())
                .filter(|n| !n.is_empty());
            Some(SectionLine { name, start, size, count, custom_name })
        })
        .collect()
}

fn sections_of(info: &Value) -> Vec<SectionLine> {
    info["sections"]
        .as_array()
        .expect("sections is a list")
        .iter()
        .map(|s| SectionLine {
            name: s["name"].as_str().expect("name").to_owned(),
            start: s["offset"].as_u64().expect("offset"),
            size: s["size_bytes"].as_u64().expect("size"),
            count: s["count"].as_u64(),
            custom_name: s["custom_name"].as_str().map(str::to_owned),
        })
        .collect()
}

/// Section by section, so a mismatch names the section rather than dumping two tables.
fn assert_same_sections(wasm: &Path, ours: &[SectionLine], objdump: &[SectionLine]) {
    for (i, (a, b)) in ours.iter().zip(objdump).enumerate() {
        assert_eq!(
            a,
            b,
            "{}: section #{i} differs (left fusebench, right objdump)",
            wasm.display()
        );
    }
    assert_eq!(ours.len(), objdump.len(), "{}: number of sections", wasm.display());
}

fn wasm_fixtures() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixture folder")
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    found.sort();
    for expected in TOOLCHAIN_FIXTURES {
        assert!(
            found.iter().any(|p| p.ends_with(expected)),
            "fixture {expected} is missing; run tests/fixtures/modules/regenerate.sh"
        );
    }
    found
}

#[test]
fn section_counts_match_recorded_objdump() {
    for wasm in wasm_fixtures() {
        let recorded_path = PathBuf::from(format!("{}.objdump-h.txt", wasm.display()));
        let recorded = std::fs::read_to_string(&recorded_path)
            .unwrap_or_else(|e| panic!("{}: {e}", recorded_path.display()));
        let expected = parse_objdump_h(&recorded);
        assert!(!expected.is_empty(), "{}: no sections parsed", recorded_path.display());
        let info = inspect_json(&wasm);
        assert_same_sections(&wasm, &sections_of(&info), &expected);
        let size = std::fs::metadata(&wasm).expect("fixture metadata").len();
        assert_eq!(info["size_bytes"].as_u64(), Some(size), "{}", wasm.display());
    }
}

#[test]
fn section_counts_match_live_objdump() {
    let available = Command::new("wasm-objdump").arg("--version").output().is_ok();
    if !available {
        eprintln!(
            "wasm-objdump is not on PATH: live comparison skipped (recorded outputs checked)"
        );
        return;
    }
    for wasm in wasm_fixtures() {
        let live = Command::new("wasm-objdump").arg("-h").arg(&wasm).output().expect("objdump");
        assert!(live.status.success(), "wasm-objdump -h {}: {}", wasm.display(), stderr(&live));
        let expected = parse_objdump_h(&String::from_utf8_lossy(&live.stdout));
        assert_same_sections(&wasm, &sections_of(&inspect_json(&wasm)), &expected);
    }
}

#[test]
fn text_report_shows_every_part_of_the_tuple() {
    for wasm in wasm_fixtures() {
        let output = fusebench(&["inspect", wasm.to_str().expect("UTF-8")]);
        assert!(output.status.success(), "{}: {}", wasm.display(), stderr(&output));
        let text = String::from_utf8(output.stdout).expect("UTF-8 report");
        for heading in ["valid  yes", "\nT  types", "\nF  functions", "\nM  memories"] {
            assert!(text.contains(heading), "{}: no {heading:?} in\n{text}", wasm.display());
        }
        for heading in ["\nG  globals", "\nE  exports", "\nI  imports", "\nsections ("] {
            assert!(text.contains(heading), "{}: no {heading:?} in\n{text}", wasm.display());
        }
    }
}

#[test]
fn toolchain_modules_follow_the_guest_abi() {
    for name in TOOLCHAIN_FIXTURES {
        let info = inspect_json(&fixtures().join(name));
        let exports = info["exports"].as_array().expect("exports");
        let echo = exports
            .iter()
            .find(|e| e["name"] == "handle_echo")
            .unwrap_or_else(|| panic!("{name}: no handle_echo export"));
        assert_eq!(echo["kind"], "func", "{name}");
        assert_eq!(echo["sig"]["params"], serde_json::json!(["i32", "i32"]), "{name}");
        assert_eq!(echo["sig"]["results"], serde_json::json!(["i64"]), "{name}");
        assert!(exports.iter().any(|e| e["kind"] == "memory"), "{name}: no memory export");
        let imports = info["imports"].as_array().expect("imports");
        assert!(
            imports.iter().any(|i| i["module"] == "fusebench" && i["name"] == "log"),
            "{name}: no fusebench.log import"
        );
    }
}

#[test]
fn a_wat_file_reads_like_its_wabt_build() {
    let from_wat = inspect_json(&fixtures().join("src/echo.wat"));
    let from_wabt = inspect_json(&fixtures().join("wat-echo.wasm"));
    for part in ["types", "functions", "memories", "globals", "tables", "exports", "imports"] {
        assert_eq!(from_wat[part], from_wabt[part], "{part} differs between wat and wat2wasm");
    }
    assert_eq!(from_wat["start"], 2);
    assert_eq!(from_wat["name"], "echo");
}

#[test]
fn an_invalid_module_exits_2_with_the_offset() {
    let path = fixtures().join("invalid/type-mismatch.wasm");
    let path = path.to_str().expect("UTF-8");
    let output = fusebench(&["inspect", path]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {path}: invalid module at offset 0x26: type mismatch: expected i32, found i64\n"
        )
    );
    assert!(output.stdout.is_empty(), "nothing on stdout for an invalid module");
}

#[test]
fn a_truncated_module_exits_2_with_the_offset() {
    let full = std::fs::read(fixtures().join("rust-probe.wasm")).expect("fixture");
    let path = scratch("truncated.wasm", &full[..full.len() * 2 / 3]);
    let output = fusebench(&["inspect", "--json", path.to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.starts_with(&format!("error: {}: invalid module at offset 0x", path.display()))
    );
}

#[test]
fn a_bad_wat_file_names_line_and_column() {
    let path = scratch("bad.wat", b"(module\n  (func (result i32)\n    (i32.const oops)))\n");
    let output = fusebench(&["inspect", path.to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("invalid WebAssembly text"), "{message}");
    assert!(message.contains("bad.wat:3:16"), "{message}");
}

#[test]
fn a_missing_file_is_named() {
    let output = fusebench(&["inspect", "no/such/service.wasm"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.starts_with("error: cannot read module no/such/service.wasm: "), "{message}");
}

#[test]
fn a_text_file_is_not_a_module() {
    let path = scratch("notes.txt", b"These are release notes, not a module.\n");
    let output = fusebench(&["inspect", path.to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.starts_with(&format!("error: {}: not a WebAssembly module: ", path.display())),
        "{message}"
    );
}
