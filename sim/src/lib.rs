//! fusebench-sim: executes a fusebench `System`.
//!
//! # Layering
//!
//! `sim` depends on `fusebench-model` (scenario types, capabilities and the import→capability
//! mapping) and never the other way round. [`runtime`] is the wasmi host; the discrete-event
//! engine and the components sit on top of it and reach services only through its trait.
//!
//! The runtime is **sans-IO**: it never reads a clock, sleeps, draws entropy or touches files or
//! sockets. Virtual time, the seeded random stream and the log sink come in with each call
//! ([`runtime::HostContext`]), and a guest that needs something that takes virtual time (a
//! store read, a publish, a downstream call) comes back as [`runtime::SliceOutcome::Pending`] with a
//! [`runtime::HostOp`]; the engine performs it on its own schedule and resumes the guest.
//!
//! The engine talks to services only through the [`runtime::ServiceHost`] trait and the
//! [`runtime::Slice`]/[`runtime::SliceOutcome`] values it returns, so engine tests can substitute a
//! scripted fake that produces the same steps without any WebAssembly.

pub mod atomic;
pub mod dist;
pub mod engine;
pub mod explore;
pub mod invoke;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod properties;
pub mod report;
pub mod rng;
pub mod runtime;
pub mod setup;
mod spare;
pub mod system;
pub mod time;
pub mod trace;

pub use system::{RunOptions, RunResult, Sim};
