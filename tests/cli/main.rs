//! Integration tests of the `fusebench` command line, driven as a user would drive it.

mod graph;
mod inspect;
mod layering;
mod scenario_errors;
mod static_checks;
mod support;
