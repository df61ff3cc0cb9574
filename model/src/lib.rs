//! fusebench-model: the scenario model M = (S, I, D, C, Q), the structure of WebAssembly
//! modules WASM = (T, F, M, G, E, I), and every check decidable without running anything.
//!
//! **Pure**: this crate parses the text and bytes it is handed and returns values and
//! diagnostics. It reads no files, has no clock, no randomness and no threads, so the same input
//! always gives the same output (see `ARCHITECTURE.md`).

pub mod abi;
pub mod capability;
pub mod checks;
pub mod contract;
pub mod diagnostic;
pub mod edit;
pub mod expr;
pub mod graph;
pub mod module;
pub mod scenario;
pub mod text;

pub use capability::Capability;
pub use diagnostic::{Diagnostic, LineIndex, Location, Severity, Span};
pub use scenario::{Parsed, Scenario, parse};
