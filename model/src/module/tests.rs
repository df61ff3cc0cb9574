use proptest::prelude::*;

use super::*;

/// A service in the shape of the guest ABI that touches every WebAssembly 2.0 section kind.
const SERVICE_WAT: &str = r#"
(module $svc
  (type $handler (func (param i32 i32) (result i64)))
  (import "fusebench" "log" (func $log (param i32 i32)))
  (import "fusebench" "kv_get" (func $kv_get (param i32 i32) (result i64)))
  (import "fusebench" "seed" (global $seed i64))
  (memory $memory 2 32)
  (table $t 1 funcref)
  (global $heap (mut i32) (i32.const 1024))
  (func $init)
  (start $init)
  (func $alloc (export "alloc") (param i32) (result i32)
    (global.get $heap))
  (func $handle_get (export "handle_get") (type $handler)
    (call $kv_get (local.get 0) (local.get 1)))
  (func (export "pair") (param f64) (result i32 i64)
    (i32.const 1) (i64.const 2))
  (elem (table $t) (i32.const 0) func $handle_get)
  (data (i32.const 0) "hello")
  (data $passive "x")
  (export "memory" (memory $memory))
  (export "get_again" (func $handle_get))
  (export "seed" (global $seed)))
"#;

fn service() -> Vec<u8> {
    module_bytes("svc.wat", SERVICE_WAT.as_bytes()).expect("the test module is valid WAT")
}

fn inspect_wat(wat: &str) -> Result<ModuleInfo, ModuleError> {
    inspect(&module_bytes("test.wat", wat.as_bytes()).expect("test WAT parses"))
}

#[test]
fn reads_t_f_m_g_e_i() {
    let info = inspect(&service()).expect("valid");
    let handler = FuncSig::new([ValType::I32, ValType::I32], [ValType::I64]);

    assert_eq!(info.name.as_deref(), Some("svc"));
    assert_eq!(info.types[0], handler);

    assert_eq!(info.functions.len(), 6);
    assert_eq!(info.imported_func_count(), 2);
    let log = &info.functions[0];
    assert!(log.imported && !log.is_exported());
    assert_eq!(log.name.as_deref(), Some("log"));
    let get = &info.functions[4];
    assert_eq!((get.index, get.name.as_deref()), (4, Some("handle_get")));
    assert_eq!(get.export_names, ["handle_get", "get_again"]);
    assert_eq!(get.sig, handler);

    assert_eq!(
        info.memories,
        [Memory {
            index: 0,
            min_pages: 2,
            max_pages: Some(32),
            memory64: false,
            shared: false,
            imported: false
        }]
    );
    assert_eq!(info.globals.len(), 2);
    assert!(info.globals[0].imported && !info.globals[0].mutable);
    assert_eq!(info.globals[0].val_type, ValType::I64);
    assert_eq!(info.globals[1].name.as_deref(), Some("heap"));
    assert!(info.globals[1].mutable && !info.globals[1].imported);

    assert_eq!(info.tables.len(), 1);
    assert_eq!(info.tables[0].element, ValType::FuncRef);
    assert_eq!(info.start, Some(2));
    assert_eq!((info.data_segments, info.element_segments), (2, 1));
    assert_eq!(info.imports.len(), 3);
    assert_eq!(info.imports[2].kind, ExternKind::Global);
    assert_eq!(info.exports.len(), 6);
    assert_eq!(info.size_bytes, service().len() as u64);
    assert!(info.warnings.is_empty());
}

#[test]
fn accessors_answer_the_abi_questions() {
    let info = inspect(&service()).expect("valid");
    assert_eq!(info.export_func("alloc").map(ToString::to_string).as_deref(), Some("(i32) -> i32"));
    assert_eq!(
        info.export_func("pair").map(ToString::to_string).as_deref(),
        Some("(f64) -> (i32, i64)")
    );
    assert_eq!(info.export_func("memory"), None, "a memory export is not a function");
    assert_eq!(info.export_func("missing"), None);
    assert!(info.exported_memory());

    let imports: Vec<String> =
        info.func_imports().map(|(m, n, sig)| format!("{m}.{n} {sig}")).collect();
    assert_eq!(imports, ["fusebench.log (i32, i32) -> ()", "fusebench.kv_get (i32, i32) -> i64"]);

    let no_memory = inspect_wat("(module (memory 1))").expect("valid");
    assert!(!no_memory.exported_memory());
}

#[test]
fn section_table_has_objdump_counts() {
    let info = inspect(&service()).expect("valid");
    let table: Vec<(&str, Option<u32>)> = info.sections.iter().map(|s| (s.name, s.count)).collect();
    assert_eq!(
        table,
        [
            ("Type", Some(5)),
            ("Import", Some(3)),
            ("Function", Some(4)),
            ("Table", Some(1)),
            ("Memory", Some(1)),
            ("Global", Some(1)),
            ("Export", Some(6)),
            ("Start", None),
            ("Elem", Some(1)),
            ("Code", Some(4)),
            ("Data", Some(2)),
            ("Custom", None),
        ]
    );
    let custom = info.sections.last().expect("a name section");
    assert_eq!((custom.id, custom.custom_name.as_deref()), (0, Some("name")));
    assert_eq!(info.custom_sections[0].size_bytes, custom.size_bytes);
    // Sections tile the file: each payload starts after its id byte and size LEB.
    let first = &info.sections[0];
    assert_eq!((first.offset, first.id), (10, 1));
}

#[test]
fn signatures_display_like_the_text_format() {
    assert_eq!(
        FuncSig::new([ValType::I32, ValType::I32], [ValType::I64]).to_string(),
        "(i32, i32) -> i64"
    );
    assert_eq!(FuncSig::default().to_string(), "() -> ()");
    assert_eq!(
        FuncSig::new([ValType::V128], [ValType::FuncRef, ValType::ExternRef]).to_string(),
        "(v128) -> (funcref, externref)"
    );
    let json = serde_json::to_string(&FuncSig::new([ValType::F32], [ValType::F64])).expect("json");
    assert_eq!(json, r#"{"params":["f32"],"results":["f64"]}"#);
}

#[test]
fn binary_is_recognised_by_magic_not_by_name() {
    let binary = service();
    assert_eq!(module_bytes("misnamed.wat", &binary).expect("binary"), binary);
    let from_text_named_wasm =
        module_bytes("svc.wasm", SERVICE_WAT.as_bytes()).expect("WAT content is recognised");
    assert_eq!(from_text_named_wasm, binary);
}

#[test]
fn wat_errors_carry_line_and_column() {
    let err = module_bytes("bad.wat", b"(module\n  (func (result i32)\n    (i32.const oops)))")
        .expect_err("not valid WAT");
    let ModuleError::Wat { message, line, column } = &err else {
        panic!("expected a WAT error, got {err:?}");
    };
    assert_eq!((*line, *column), (Some(3), Some(16)), "{message}");
    assert!(message.contains("bad.wat:3:16"), "{message}");
}

#[test]
fn other_files_are_not_wasm() {
    let text = module_bytes("notes.txt", b"hello, this is not a module\n").expect_err("text");
    assert!(matches!(&text, ModuleError::NotWasm { reason } if reason.contains("text")), "{text}");
    let empty = module_bytes("empty.wasm", b"").expect_err("empty");
    assert!(empty.to_string().contains("empty"), "{empty}");
    let elf = module_bytes("a.out", b"\x7fELF\x02\x01\x01\x00").expect_err("binary");
    assert!(elf.to_string().contains("7f 45 4c 46"), "{elf}");
}

#[test]
fn invalid_modules_report_the_validator_offset() {
    let bytes = module_bytes("m.wat", b"(module (func (result i32) (i64.const 0)))").expect("wat");
    let err = inspect(&bytes).expect_err("type mismatch");
    let ModuleError::Invalid { message, offset } = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert!(message.contains("type mismatch"), "{message}");
    assert!(*offset > 8 && *offset < bytes.len() as u64, "{offset}");
    assert!(err.to_string().starts_with(&format!("invalid module at offset {offset:#x}: ")));

    let bad_magic = inspect(b"\0asx\x01\0\0\0").expect_err("bad magic");
    assert!(matches!(bad_magic, ModuleError::Invalid { offset: 0, .. }), "{bad_magic}");

    let full = service();
    let truncated = inspect(&full[..full.len() / 2]).expect_err("truncated");
    assert!(matches!(truncated, ModuleError::Invalid { .. }), "{truncated}");
}

#[test]
fn components_are_named_as_such() {
    let component = b"\0asm\x0d\0\x01\0";
    assert_eq!(inspect(component), Err(ModuleError::Component));
}

#[test]
fn accepts_what_toolchains_emit() {
    for (feature, wat) in [
        (
            "threads",
            "(module (memory 1 1 shared) (func (result i32) (i32.atomic.load (i32.const 0))))",
        ),
        ("tail calls", "(module (func $f (return_call $f)))"),
        ("simd", "(module (func (result v128) (v128.const i64x2 0 0)))"),
        ("reference types", "(module (table 1 externref) (func (param externref)))"),
        (
            "bulk memory",
            "(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))",
        ),
        ("multi-value", "(module (func (result i32 i32) (i32.const 0) (i32.const 1)))"),
        ("memory64", "(module (memory i64 1))"),
        ("multi-memory", "(module (memory 1) (memory 1))"),
        ("exceptions", "(module (tag $e (param i32)) (func (throw $e (i32.const 0))))"),
        ("extended const", "(module (global i32 (i32.add (i32.const 1) (i32.const 2))))"),
    ] {
        let info = inspect_wat(wat);
        assert!(info.is_ok(), "{feature}: {info:?}");
    }
    let shared = inspect_wat("(module (memory 1 2 shared))").expect("threads");
    assert!(shared.memories[0].shared);
    let tagged = inspect_wat("(module (tag (param i32 i64)))").expect("exceptions");
    assert_eq!(tagged.tags[0].sig.to_string(), "(i32, i64) -> ()");
    let wide = inspect_wat("(module (memory i64 3 5))").expect("memory64");
    assert!(wide.memories[0].memory64);
}

#[test]
fn rejects_gc_with_the_validator_message() {
    let err = inspect_wat("(module (type (struct (field i32))))").expect_err("gc is off");
    assert!(matches!(err, ModuleError::Invalid { .. }), "{err}");
}

#[test]
fn a_malformed_name_section_is_a_warning() {
    let mut bytes = service();
    bytes.extend_from_slice(&[0, 7, 4, b'n', b'a', b'm', b'e', 1, 0xff]);
    let info = inspect(&bytes).expect("custom sections never invalidate a module");
    assert_eq!(info.warnings.len(), 1, "{:?}", info.warnings);
    assert!(info.warnings[0].contains("`name`"), "{:?}", info.warnings);
}

fn header_then_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..256).prop_map(|tail| {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.extend(tail);
        bytes
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, value: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Flip { at, value }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1..8usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip { at, value } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = *value;
                }
            }
            Mutation::Truncate { at } => bytes.truncate(at % len),
            Mutation::Insert { at, bytes: new } => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Remove { at, len: n } => {
                let at = (at % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = inspect(&bytes);
        let _ = module_bytes("any.wasm", &bytes);
    }

    #[test]
    fn bytes_after_a_valid_header_never_panic(bytes in header_then_bytes()) {
        let _ = inspect(&bytes);
    }

    #[test]
    fn mutated_modules_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let bytes = mutate(service(), &mutations);
        if let Ok(info) = inspect(&bytes) {
            // Whatever survives mutation must still describe itself consistently.
            prop_assert_eq!(info.size_bytes, bytes.len() as u64);
            for (i, f) in info.functions.iter().enumerate() {
                prop_assert_eq!(f.index as usize, i);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = module_bytes("any.wat", text.as_bytes());
        let _ = module_bytes("any.wat", format!("(module {text})").as_bytes());
    }
}
