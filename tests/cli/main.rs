//! Integration tests of the `fusebench` command line, driven as a user would drive it.

mod bad_input;
mod corpus;
mod docs;
mod dynamic;
mod graph;
mod guests;
mod gui;
mod halves;
mod hostile;
mod idempotence;
mod inputs;
mod inspect;
mod invoke;
mod layering;
mod limits;
mod replay_travel;
mod run;
mod scenario_errors;
mod static_checks;
mod support;
mod temporal;
mod verdicts;
