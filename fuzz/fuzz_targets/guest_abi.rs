//! The guest ABI: a guest module generated from the fuzz input (a sequence of host calls with
//! arguments drawn from in-bounds pointers, names the scenario knows, edge values and raw
//! words; a hostile `alloc`; any packed response), invoked through the same path as
//! `fusebench invoke`. Whatever the guest does, the host answers with a value or a guest fault —
//! it never panics (architecture invariant).
#![no_main]

use std::fmt::Write as _;
use std::sync::OnceLock;

use fusebench_model::Scenario;
use fusebench_sim::invoke::{initial_stores, invoke};
use fusebench_sim::setup::{ModuleFiles, build_runtime};
use libfuzzer_sys::fuzz_target;

const SCENARIO: &str = include_str!("../scenarios/guest.toml");

fn scenario() -> &'static Scenario {
    static S: OnceLock<Scenario> = OnceLock::new();
    S.get_or_init(|| {
        let parsed = fusebench_model::parse("fuzz/scenarios/guest.toml", SCENARIO);
        let diags: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
        parsed.ok().unwrap_or_else(|| panic!("the fuzz scenario must parse: {diags:?}"))
    })
}

/// Names laid out in the data segment at 1024: (offset, length).
const NAMES: &[(&str, i32)] = &[
    ("db", 1024),
    ("cache", 1026),
    ("events", 1031),
    ("guest", 1037),
    ("run", 1042),
    ("k", 1045),
    (r#"{"a":1}"#, 1046),
    ("rest", 1053),
    ("\u{fffd}\u{0}", 1057),
];

/// (import name, module, params, result)
const IMPORTS: &[(&str, &str, &str, &str)] = &[
    ("kv_get", "fusebench", "i32 i32 i32 i32", "i64"),
    ("kv_put", "fusebench", "i32 i32 i32 i32 i32 i32", "i32"),
    ("kv_delete", "fusebench", "i32 i32 i32 i32", "i32"),
    ("cache_get", "fusebench", "i32 i32 i32 i32", "i64"),
    ("cache_put", "fusebench", "i32 i32 i32 i32 i32 i32", "i32"),
    ("publish", "fusebench", "i32 i32 i32 i32", "i32"),
    ("call", "fusebench", "i32 i32 i32 i32 i32 i32", "i64"),
    ("log", "fusebench", "i32 i32 i32", ""),
    ("now", "fusebench", "", "i64"),
    ("random", "fusebench", "", "i64"),
    ("fd_write", "wasi_snapshot_preview1", "i32 i32 i32 i32", "i32"),
    ("clock_time_get", "wasi_snapshot_preview1", "i32 i64 i32", "i32"),
    ("random_get", "wasi_snapshot_preview1", "i32 i32", "i32"),
    ("environ_sizes_get", "wasi_snapshot_preview1", "i32 i32", "i32"),
    ("args_sizes_get", "wasi_snapshot_preview1", "i32 i32", "i32"),
    ("sched_yield", "wasi_snapshot_preview1", "", "i32"),
    ("proc_exit", "wasi_snapshot_preview1", "i32", ""),
    ("abort", "env", "i32 i32 i32 i32", ""),
];

/// Reads the fuzz input as a little program.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn word(&mut self) -> i32 {
        i32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// One i32 argument: mostly meaningful values, sometimes edges or raw words.
    fn arg(&mut self) -> String {
        let b = self.byte();
        let n = NAMES.len() as u8;
        match b {
            _ if b < n * 2 => {
                let (name, at) = NAMES[usize::from(b % n)];
                // Pointer or length of a known name.
                if b < n { at.to_string() } else { name.len().to_string() }
            }
            _ if b < 0xc0 => ["0", "1", "8", "64", "4096", "65535", "65536", "131072"]
                [usize::from(b % 8)]
            .to_owned(),
            0xc0..=0xcf => "(local.get 0)".to_owned(),
            0xd0..=0xdf => "(local.get 1)".to_owned(),
            0xe0..=0xef => {
                ["-1", "2147483647", "-2147483648", "-4096"][usize::from(b % 4)].to_owned()
            }
            _ => self.word().to_string(),
        }
    }
}

/// The module's WebAssembly text.
fn module(data: &[u8]) -> (String, Vec<u8>) {
    let mut input = Input(data);
    let mut wat = String::from("(module\n");
    for (name, module, params, result) in IMPORTS {
        let result = if result.is_empty() { String::new() } else { format!(" (result {result})") };
        let _ = writeln!(
            wat,
            "  (import \"{module}\" \"{name}\" (func ${name} (param {params}){result}))"
        );
    }
    wat.push_str(
        "  (memory (export \"memory\") 2 4)\n  (global $next (mut i32) (i32.const 8192))\n",
    );
    let mut data_seg = String::new();
    for (name, _) in NAMES {
        for b in name.bytes() {
            let _ = write!(data_seg, "\\{b:02x}");
        }
    }
    let _ = writeln!(wat, "  (data (i32.const 1024) \"{data_seg}\")");
    // alloc: a bump allocator, or a hostile answer.
    let alloc = match input.byte() % 8 {
        0 => "(i32.const 0)".to_owned(),
        1 => "(i32.const 131070)".to_owned(),
        2 => "(i32.const -8)".to_owned(),
        3 => "(unreachable)".to_owned(),
        _ => "(global.get $next) (global.set $next (i32.add (global.get $next) (local.get 0))) (global.get $next)".to_owned(),
    };
    let _ = writeln!(wat, "  (func (export \"alloc\") (param i32) (result i32) {alloc})");
    wat.push_str("  (func (export \"handle_run\") (param i32 i32) (result i64)\n");
    let ops = usize::from(input.byte() % 24);
    for _ in 0..ops {
        let op = usize::from(input.byte());
        if op < IMPORTS.len() * 10 {
            let (name, _, params, result) = IMPORTS[op % IMPORTS.len()];
            let args: Vec<String> = params
                .split_whitespace()
                .map(|p| {
                    let a = input.arg();
                    if p == "i64" { format!("(i64.extend_i32_u {a})") } else { a }
                })
                .map(|a| if a.starts_with('(') { a } else { format!("(i32.const {a})") })
                .collect();
            let call = format!("(call ${name} {})", args.join(" "));
            if result.is_empty() {
                let _ = writeln!(wat, "    {call}");
            } else {
                let _ = writeln!(wat, "    (drop {call})");
            }
        } else if op < 200 {
            let _ = writeln!(wat, "    (drop (memory.grow (i32.const {})))", input.byte() % 8);
        } else if op < 210 {
            // Burn fuel: a loop the fuel budget ends.
            wat.push_str("    (loop $l (br $l))\n");
        } else {
            let a = input.arg();
            let a = if a.starts_with('(') { a } else { format!("(i32.const {a})") };
            let _ = writeln!(wat, "    (drop (i32.load {a}))");
        }
    }
    let response = match input.byte() % 4 {
        0 => "(i64.const 0)".to_owned(),
        1 => format!("(i64.const {})", (1046_i64 << 32) | 7),
        2 => "(i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32)) (i64.extend_i32_u (local.get 1)))".to_owned(),
        _ => format!("(i64.const {})", i64::from(input.word()) << 16 | i64::from(input.word())),
    };
    let _ = writeln!(wat, "    {response})\n)");
    (wat, input.0.to_vec())
}

fuzz_target!(|data: &[u8]| {
    let s = scenario();
    let (wat, request) = module(data);
    let mut files = ModuleFiles::new();
    files.insert("guest.wat".to_owned(), wat.into_bytes());
    let Ok(mut runtime) = build_runtime(s, &files) else { return };
    let mut stores = initial_stores(s);
    let _ = invoke(s, &mut runtime, "guest", "run", &request, &mut stores);
});
