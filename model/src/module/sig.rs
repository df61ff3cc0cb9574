//! Value types and function signatures, in the shape fusebench reasons about.
//!
//! wasmparser's own types carry the whole GC type system (concrete heap types, rec groups);
//! fusebench's guests use linear memory and at most the WebAssembly 2.0 reference types, so a
//! small closed enum keeps every later check (ABI shape, capability signatures) a plain `match`.

use std::fmt;

use serde::Serialize;

/// A WebAssembly value type as it can appear in a signature, a global, a table or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
    /// The exception reference of the exception-handling proposal (accepted because toolchains
    /// emit it for C++ and Rust unwinding).
    ExnRef,
}

impl ValType {
    /// The text-format spelling, the same one `wasm-objdump` and the WAT grammar use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
            ValType::ExnRef => "exnref",
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A function type: what the ABI and capability checks compare against.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct FuncSig {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl FuncSig {
    #[must_use]
    pub fn new(params: impl Into<Vec<ValType>>, results: impl Into<Vec<ValType>>) -> Self {
        FuncSig { params: params.into(), results: results.into() }
    }
}

/// `(i32, i32) -> i64`; no results print as `()` and several as a tuple, so the text reads the
/// same way in reports, diagnostics and the GUI.
impl fmt::Display for FuncSig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tuple(f, &self.params)?;
        f.write_str(" -> ")?;
        match self.results.as_slice() {
            [single] => write!(f, "{single}"),
            many => write_tuple(f, many),
        }
    }
}

fn write_tuple(f: &mut fmt::Formatter<'_>, types: &[ValType]) -> fmt::Result {
    f.write_str("(")?;
    for (i, ty) in types.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{ty}")?;
    }
    f.write_str(")")
}
