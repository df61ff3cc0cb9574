//! Hostile inputs (issue 17): a module and a scenario whose names carry terminal control
//! sequences go through every command and output format, and only their escaped form comes out.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{code, fusebench, stderr, stdout};

/// Clears the screen, turns text red, sets the terminal title: what an attacker names things.
const EVIL: &str = "\x1b[2J\x1b[31m EVIL \x1b]0;pwned\x07";
/// The same as every plain-text output must show it.
const SHOWN: &str = "\\x1b[2J\\x1b[31m EVIL \\x1b]0;pwned\\x07";
/// `EVIL` inside a TOML basic string.
const EVIL_TOML: &str = "\\u001b[2J\\u001b[31m EVIL \\u001b]0;pwned\\u0007";

/// A fresh, empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    crate::support::scratch("hostile", name)
}

/// Every byte as a WAT `\hh` escape: any bytes at all, as a WAT string.
fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A custom `name` section whose module name is `name`.
fn name_section(name: &[u8]) -> Vec<u8> {
    let mut module_name = Vec::new();
    leb(name.len(), &mut module_name);
    module_name.extend_from_slice(name);
    let mut content = Vec::new();
    leb(4, &mut content);
    content.extend_from_slice(b"name");
    content.push(0); // subsection 0: the module name
    leb(module_name.len(), &mut content);
    content.extend(module_name);
    let mut section = vec![0];
    leb(content.len(), &mut section);
    section.extend(content);
    section
}

/// A working guest (`handle_get` logs hostile bytes, some not UTF-8, and answers JSON holding a
/// control character and a bidi override) whose name section and an extra export are `EVIL`,
/// and, with `evil_import`, which also imports a function named `EVIL` from a module `EVIL`.
fn module(evil_import: bool) -> Vec<u8> {
    let response = r#"{"id":"\u001b[2J\u202e","value":1}"#;
    let log = [EVIL.as_bytes(), b" \xff\xfe \xc2\x9b"].concat();
    let evil = wat_bytes(EVIL.as_bytes());
    let import =
        if evil_import { format!("(import \"{evil}\" \"{evil}\" (func))") } else { String::new() };
    let wat = format!(
        r#"(module
  (import "fusebench" "log" (func $log (param i32 i32 i32)))
  {import}
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (data (i32.const 16) "{response}")
  (data (i32.const 256) "{log}")
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $p))
  (func (export "handle_get") (param i32 i32) (result i64)
    (call $log (i32.const 1) (i32.const 256) (i32.const {log_len}))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const {response_len})))
  (func (export "{evil}")))"#,
        response = wat_bytes(response.as_bytes()),
        log = wat_bytes(&log),
        log_len = log.len(),
        response_len = response.len(),
    );
    let mut bytes = wat::parse_str(&wat).expect("the WAT parses");
    bytes.extend(name_section(EVIL.as_bytes()));
    bytes
}

/// A scenario whose system and only service are named `EVIL`, running `module.wasm`.
fn scenario(dir: &Path, evil_import: bool) -> String {
    std::fs::write(dir.join("module.wasm"), module(evil_import)).expect("module written");
    let toml = format!(
        r#"[system]
name = "{EVIL_TOML}"

[[context]]
name = "{EVIL_TOML}"

[[node]]
name = "cloud"
tier = "cloud"

[gateway]
node = "cloud"

[[service]]
name = "{EVIL_TOML}"
context = "{EVIL_TOML}"
node = "cloud"
module = "module.wasm"
capabilities = ["log"]

  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/get"
  public = true

[workload]
duration_s = 1
arrival = {{ kind = "poisson", rate_rps = 20 }}

  [[workload.mix]]
  service = "{EVIL_TOML}"
  endpoint = "get"
"#
    );
    let path = dir.join("evil.toml");
    std::fs::write(&path, toml).expect("scenario written");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Whether `c` is a C0 or C1 control character (other than a line break or a tab, which
/// structure the output) or a bidi control.
fn hazard(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `bytes` are UTF-8 with no raw control character or bidi override, and show `shown`.
fn assert_safe(what: &str, bytes: &[u8], shown: &str) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    let raw: Vec<char> = text.chars().filter(|&c| hazard(c)).collect();
    assert!(raw.is_empty(), "{what}: raw {raw:?} in\n{text}");
    assert!(text.contains(shown), "{what}: `{shown}` not in\n{text}");
}

fn both(o: &Output) -> Vec<u8> {
    [o.stdout.as_slice(), o.stderr.as_slice()].concat()
}

#[test]
fn inspect_shows_the_names_escaped() {
    let dir = scratch("inspect");
    let file = dir.join("module.wasm");
    std::fs::write(&file, module(true)).expect("module written");
    let path = file.to_str().expect("utf-8");
    let o = fusebench(&["inspect", path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_safe("inspect", &both(&o), SHOWN);
    let text = stdout(&o);
    assert!(text.contains(&format!("name   {SHOWN}\n")), "{text}");
    assert!(text.contains(&format!("\"{SHOWN}\" func")), "{text}");
    assert!(text.contains(&format!("{SHOWN}.{SHOWN} func")), "{text}");
    // The forged lines an attacker would print do not exist: one `valid` line, ours.
    assert_eq!(text.matches("\nvalid").count(), 1, "{text}");

    let o = fusebench(&["inspect", path, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_safe("inspect --json", &o.stdout, &SHOWN.replace('\\', "\\\\"));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(json["name"], SHOWN);

    // A name section that is not UTF-8 is a warning; none of its bytes reach the output raw.
    let mut bytes = wat::parse_str("(module)").expect("WAT");
    bytes.extend(name_section(b"\xff\x1b[2J\xc2\x9b"));
    std::fs::write(&file, bytes).expect("module written");
    let o = fusebench(&["inspect", path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_safe("inspect (not UTF-8)", &both(&o), "warning: ");
    assert!(!stdout(&o).contains("\nname "), "{}", stdout(&o));
}

#[test]
fn check_shows_the_names_escaped_in_text_json_and_junit() {
    let dir = scratch("check");
    let scenario = scenario(&dir, true);
    let out = dir.join("out");
    let out = out.to_str().expect("utf-8");
    // The import is a sandbox violation: a failed check (exit 1) quoting the import's name.
    let import = format!("`{SHOWN}` imports `{SHOWN}.{SHOWN}`");
    let o = fusebench(&["check", &scenario, "--static"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_safe("check", &both(&o), &import);
    assert!(stdout(&o).starts_with(&format!("{SHOWN} (")), "{}", stdout(&o));

    let o = fusebench(&["check", &scenario, "--static", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_safe("check --format json", &o.stdout, &import.replace('\\', "\\\\"));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(json["system"], SHOWN);

    let o = fusebench(&["check", &scenario, "--static", "--format", "junit"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_safe("check --format junit", &o.stdout, &format!("{SHOWN}.static"));
    assert!(stdout(&o).contains(&import), "{}", stdout(&o));

    // Without the import the design passes; the dynamic part runs and says so, escaped.
    let scenario = self::scenario(&dir, false);
    for format in ["text", "json", "junit"] {
        let o = fusebench(&["check", &scenario, "--cases", "1", "--format", format, "--out", out]);
        assert_eq!(code(&o), 0, "{format}: {}{}", stdout(&o), stderr(&o));
        let shown = if format == "json" { SHOWN.replace('\\', "\\\\") } else { SHOWN.to_owned() };
        assert_safe(&format!("check --format {format}"), &both(&o), &shown);
    }
}

#[test]
fn run_report_and_summary_show_the_names_escaped() {
    let dir = scratch("run");
    let scenario = scenario(&dir, false);
    let out = dir.join("out");
    let o = fusebench(&["run", &scenario, "--out", out.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_safe("run", &both(&o), &format!("{SHOWN} · seed 1"));
    let md = std::fs::read(out.join("report.md")).expect("report.md");
    assert_safe("report.md", &md, "\\\\x1b\\[2J\\\\x1b\\[31m EVIL \\\\x1b\\]0;pwned\\\\x07");
    let json = std::fs::read(out.join("report.json")).expect("report.json");
    assert_safe("report.json", &json, &SHOWN.replace('\\', "\\\\"));
    let svg = std::fs::read(out.join("latency.svg")).expect("latency.svg");
    assert_safe("latency.svg", &svg, SHOWN);

    // With the import, the host would refuse the module: `run` says so as `check` does,
    // located, escaped, and exits 2.
    let scenario = self::scenario(&dir, true);
    let o = fusebench(&["run", &scenario]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_safe("run (refused)", &both(&o), &format!("`{SHOWN}` imports `{SHOWN}.{SHOWN}`"));
    assert!(stderr(&o).contains("evil.toml:"), "{}", stderr(&o));
}

#[test]
fn invoke_shows_what_the_guest_says_escaped() {
    let dir = scratch("invoke");
    let scenario = scenario(&dir, false);
    let o = fusebench(&["invoke", &scenario, EVIL, "get", "--data", "{}"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The log line: the service's name, the level, the message (bytes that are not UTF-8 are
    // replaced by the host when it reads them; the C1 control U+009B is shown escaped).
    assert_safe(
        "invoke",
        &both(&o),
        &format!("log: {SHOWN} [Info] {SHOWN} \u{fffd}\u{fffd} \\u{{9b}}"),
    );
    assert!(stdout(&o).contains(&format!("{SHOWN}.get  {{}}")), "{}", stdout(&o));
    assert!(stdout(&o).contains("\\\\x1b[2J\\\\u{202e}"), "{}", stdout(&o));
    let o = fusebench(&["invoke", &scenario, EVIL, "get", "--data", "{}", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_safe("invoke --json", &o.stdout, &SHOWN.replace('\\', "\\\\"));
    // An unknown service named by the attacker is quoted escaped in the error.
    let o = fusebench(&["invoke", &scenario, &format!("{EVIL}x"), "get", "--data", "{}"]);
    assert_eq!(code(&o), 2);
    assert_safe("invoke (unknown)", &both(&o), &format!("no service `{SHOWN}x`"));
}

#[test]
fn graph_shows_the_names_escaped() {
    let dir = scratch("graph");
    let scenario = scenario(&dir, false);
    let o = fusebench(&["graph", &scenario, "--format", "dot"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dot = SHOWN.replace('\\', "\\\\");
    assert_safe(
        "graph dot",
        &both(&o),
        &format!("\"{dot}\" [shape=box, label=\"{dot}\\nv1.0.0\"]"),
    );
    let o = fusebench(&["graph", &scenario, "--format", "mermaid"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mermaid = "\\x1b#91;2J\\x1b#91;31m EVIL \\x1b#93;0#59;pwned\\x07";
    assert_safe("graph mermaid", &both(&o), &format!("svc0[\"{mermaid} v1.0.0\"]"));
}
