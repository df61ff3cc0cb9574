//! One file per panel; each `*_ui` function reads state and pushes [`crate::command::Command`]s.

pub mod counterexample;
pub mod files;
pub mod graph;
pub mod inspector;
pub mod properties;
pub mod simulation;
pub mod whatif;
