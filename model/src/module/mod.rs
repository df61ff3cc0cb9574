//! The structure of a WebAssembly module, WASM = (T, F, M, G, E, I), read from its bytes.
//!
//! Everything fusebench decides about a service before running it (does it export the endpoints
//! the scenario declares, does it import only granted capabilities, is its memory exported)
//! is a question about this structure, so it is read once, validated, and handed on as plain
//! data. The validator runs first: a structure read from an invalid module would be a guess.
//!
//! Pure like the rest of the crate: callers read the file and pass its name and bytes.

mod read;
mod sig;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde::Serialize;

pub use sig::{FuncSig, ValType};

/// Why a module could not be read. Every variant is bad input; none is a bug in fusebench.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    /// Neither binary (`\0asm`) nor WebAssembly text: most often the wrong file was passed.
    #[error("not a WebAssembly module: {reason}")]
    NotWasm { reason: String },
    /// The text format did not parse; `message` is the `wat` crate's rendering, which shows the
    /// file, line, column and the offending line. `line`/`column` are 1-based, when known.
    #[error("invalid WebAssembly text: {message}")]
    Wat { message: String, line: Option<usize>, column: Option<usize> },
    /// Components wrap core modules in another binary layer that fusebench does not run.
    #[error(
        "this is a WebAssembly component, not a core module: fusebench services are core \
         WebAssembly modules (build for a core target such as wasm32-unknown-unknown or \
         wasm32-wasip1, not wasm32-wasip2)"
    )]
    Component,
    /// The validator's verdict, with the byte offset it points at.
    #[error("invalid module at offset {offset:#x}: {message}")]
    Invalid { message: String, offset: u64 },
    /// Valid WebAssembly that uses a construct this model has no representation for.
    #[error("unsupported at offset {offset:#x}: {what}")]
    Unsupported { what: String, offset: u64 },
}

/// Everything fusebench needs to know about a module without running it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleInfo {
    /// The module's size, for reports and for instantiation-cost estimates.
    pub size_bytes: u64,
    /// The module name from the `name` custom section, if any.
    pub name: Option<String>,
    /// T: the type section; `type_index` elsewhere indexes this list.
    pub types: Vec<FuncSig>,
    /// F: the function index space, imported functions first as in the binary.
    pub functions: Vec<Function>,
    pub tables: Vec<Table>,
    /// M: the memory index space, imported memories first.
    pub memories: Vec<Memory>,
    /// G: the global index space, imported globals first.
    pub globals: Vec<Global>,
    /// Exception tags (exception-handling proposal), imported first.
    pub tags: Vec<Tag>,
    /// E: exports in section order.
    pub exports: Vec<Export>,
    /// I: imports in section order.
    pub imports: Vec<Import>,
    /// The start function's index: code that runs at instantiation, before any endpoint.
    pub start: Option<u32>,
    pub data_segments: u32,
    pub element_segments: u32,
    pub custom_sections: Vec<CustomSection>,
    /// The `producers` section: which languages and tools built the module (polyglot reports).
    pub producers: Vec<Producer>,
    /// Every section in file order, with `wasm-objdump -h` semantics.
    pub sections: Vec<Section>,
    /// Problems in custom sections. They never make a module invalid (the spec says custom
    /// sections must not affect validation), but a report should still mention them.
    pub warnings: Vec<String>,
}

/// An entry of the function index space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    pub index: u32,
    pub type_index: u32,
    pub sig: FuncSig,
    /// From the `name` custom section; stripped release builds have none.
    pub name: Option<String>,
    pub imported: bool,
    /// Every name it is exported under (one function can be exported more than once).
    pub export_names: Vec<String>,
}

impl Function {
    #[must_use]
    pub fn is_exported(&self) -> bool {
        !self.export_names.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub index: u32,
    pub element: ValType,
    pub min: u64,
    pub max: Option<u64>,
    pub table64: bool,
    pub imported: bool,
}

/// A linear memory; sizes are in 64 KiB pages, the unit the binary uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Memory {
    pub index: u32,
    pub min_pages: u64,
    pub max_pages: Option<u64>,
    pub memory64: bool,
    pub shared: bool,
    pub imported: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Global {
    pub index: u32,
    pub val_type: ValType,
    pub mutable: bool,
    pub imported: bool,
    /// From the `name` custom section (e.g. `__stack_pointer`).
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub index: u32,
    pub type_index: u32,
    pub sig: FuncSig,
    pub imported: bool,
}

/// What an import or export refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ExternKind {
    Func,
    Table,
    Memory,
    Global,
    Tag,
}

impl ExternKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExternKind::Func => "func",
            ExternKind::Table => "table",
            ExternKind::Memory => "memory",
            ExternKind::Global => "global",
            ExternKind::Tag => "tag",
        }
    }
}

impl std::fmt::Display for ExternKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Export {
    pub name: String,
    pub kind: ExternKind,
    /// Index into the index space of `kind`.
    pub index: u32,
    /// The signature, for function exports: endpoints are checked against it.
    pub sig: Option<FuncSig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub kind: ExternKind,
    /// The index this import takes in the index space of `kind`.
    pub index: u32,
    /// The signature, for function imports: capabilities are checked against it.
    pub sig: Option<FuncSig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomSection {
    pub name: String,
    /// Payload size, name included, as `wasm-objdump -h` counts it.
    pub size_bytes: u64,
}

/// One `field: name version` entry of the `producers` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Producer {
    /// `language`, `processed-by` or `sdk`.
    pub field: String,
    pub name: String,
    pub version: String,
}

/// One section as `wasm-objdump -h` prints it, so the two can be compared line by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// The section id byte (0 for custom sections).
    pub id: u8,
    /// wabt's name for the id: `Type`, `Import`, …, `DataCount`, `Tag`, `Custom`.
    pub name: &'static str,
    /// For custom sections, the name stored in the section.
    pub custom_name: Option<String>,
    /// Offset of the payload (after the id and size bytes), like objdump's `start=`.
    pub offset: u64,
    pub size_bytes: u64,
    /// The vector length the payload starts with; `None` where objdump prints no `count:`
    /// (custom and start sections).
    pub count: Option<u32>,
}

impl ModuleInfo {
    /// The signature of the function exported as `name`; `None` if there is no such export or
    /// it is not a function.
    #[must_use]
    pub fn export_func(&self, name: &str) -> Option<&FuncSig> {
        self.exports
            .iter()
            .find(|e| e.kind == ExternKind::Func && e.name == name)
            .and_then(|e| e.sig.as_ref())
    }

    /// Whether any memory is exported: the host can only copy requests in and responses out
    /// through an exported memory.
    #[must_use]
    pub fn exported_memory(&self) -> bool {
        self.exports.iter().any(|e| e.kind == ExternKind::Memory)
    }

    /// `(module, name, signature)` of every imported function, in import order: what the
    /// capability check compares with what the scenario grants.
    pub fn func_imports(&self) -> impl Iterator<Item = (&str, &str, &FuncSig)> {
        self.imports.iter().filter_map(|i| match (&i.kind, &i.sig) {
            (ExternKind::Func, Some(sig)) => Some((i.module.as_str(), i.name.as_str(), sig)),
            _ => None,
        })
    }

    /// The number of imported functions, i.e. the index of the first defined one.
    #[must_use]
    pub fn imported_func_count(&self) -> usize {
        self.functions.iter().filter(|f| f.imported).count()
    }
}

/// The bytes of a binary module, from a file that holds either a binary or WebAssembly text.
///
/// Binary is recognised by its `\0asm` magic rather than by extension, because build tools name
/// outputs freely; text is accepted from a `.wat`/`.wast` file or from any file that reads as
/// WAT, so a misnamed file still works. `file_name` only labels error messages.
///
/// # Errors
/// [`ModuleError::Wat`] if WAT does not parse, [`ModuleError::NotWasm`] if the bytes are neither.
pub fn module_bytes(file_name: &str, bytes: &[u8]) -> Result<Vec<u8>, ModuleError> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes.to_vec());
    }
    let path = Path::new(file_name);
    let text_by_name = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("wat") || ext.eq_ignore_ascii_case("wast"));
    let text_by_content = matches!(wat::Detect::from_bytes(bytes), wat::Detect::WasmText);
    if !text_by_name && !text_by_content {
        return Err(ModuleError::NotWasm { reason: not_wasm_reason(bytes) });
    }
    match wat::Parser::new().parse_bytes(Some(path), bytes) {
        Ok(binary) => Ok(binary.into_owned()),
        Err(err) => {
            let message = err.to_string();
            let (line, column) = wat_line_col(&message).unzip();
            Err(ModuleError::Wat { message, line, column })
        }
    }
}

fn not_wasm_reason(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".to_owned();
    }
    let looks_like_text = std::str::from_utf8(bytes)
        .is_ok_and(|text| text.chars().all(|c| !c.is_control() || c.is_ascii_whitespace()));
    if looks_like_text {
        "it is text but not WebAssembly text (a module starts with `(module`); binary modules \
         start with the bytes `\\0asm`"
            .to_owned()
    } else {
        let shown: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!(
            "it starts with the bytes {} instead of the `\\0asm` magic (00 61 73 6d)",
            shown.join(" ")
        )
    }
}

/// Recovers `line:column` from the `wat` crate's rendering (`--> file:3:7`, or `at file:3:7`
/// for very long lines), because its error type does not expose the position itself.
fn wat_line_col(message: &str) -> Option<(usize, usize)> {
    let located = message
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .or_else(|| message.lines().next())?;
    let mut parts = located.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    Some((line, column))
}

/// Validates `bytes` as a core module and reads its structure.
///
/// # Errors
/// [`ModuleError::Invalid`] with the validator's message and offset; [`ModuleError::Component`]
/// for a component binary.
pub fn inspect(bytes: &[u8]) -> Result<ModuleInfo, ModuleError> {
    if is_component(bytes) {
        return Err(ModuleError::Component);
    }
    let mut validator = wasmparser::Validator::new_with_features(features());
    validator.validate_all(bytes).map_err(|e| invalid(&e))?;
    read::module_info(bytes)
}

/// The header's layer field (bytes 6..8) is 1 for components and 0 for core modules; checking
/// it first gives a clearer message than the validator's "unknown binary version".
fn is_component(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm") && bytes.get(6..8) == Some(&[1, 0][..])
}

/// WebAssembly 2.0 plus the standardised proposals that LLVM (clang, rustc), Binaryen
/// (AssemblyScript, emscripten) and friends emit when asked: threads (shared memory and
/// atomics, `-pthread`), tail calls, extended constant expressions, multiple memories,
/// memory64, relaxed SIMD and exception handling in both the standard and the legacy encoding
/// (emscripten's `-fwasm-exceptions` still emits the legacy one).
///
/// GC and typed function references are left out on purpose: fusebench's guest ABI is linear
/// memory, and leaving them out keeps every value type inside [`ValType`]. Compact imports
/// stay off so an import section's count is its number of imports, as in every tool.
fn features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::WASM2
        | F::TAIL_CALL
        | F::EXTENDED_CONST
        | F::MULTI_MEMORY
        | F::MEMORY64
        | F::THREADS
        | F::RELAXED_SIMD
        | F::EXCEPTIONS
        | F::LEGACY_EXCEPTIONS
}

fn invalid(err: &wasmparser::BinaryReaderError) -> ModuleError {
    ModuleError::Invalid { message: err.message().to_owned(), offset: err.offset() as u64 }
}
