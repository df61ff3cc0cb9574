//! Integration tests of the `fusebench` command line, driven as a user would drive it.

mod dynamic;
mod graph;
mod guests;
mod gui;
mod hostile;
mod inspect;
mod invoke;
mod layering;
mod run;
mod scenario_errors;
mod static_checks;
mod support;
