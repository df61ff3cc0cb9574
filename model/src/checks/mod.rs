//! Static checks: everything about a design decidable without running it.
//!
//! Each check has a stable id (used in reports, JUnit output and tests), and reports
//! [`Diagnostic`]s pointing at the scenario element concerned. Checks never stop at the first
//! finding.

mod authz;
mod capacity;
mod contexts;
mod contracts;
mod coupling;
mod cycles;
mod filter;
#[cfg(test)]
mod fixture;
mod links;
mod mesh;
mod modules;
mod mtls;
mod ownership;
mod policy;
mod rollout;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity, Span};
use crate::module::ModuleInfo;
use crate::scenario::Scenario;

pub use coupling::{cohesion, coupling, coupling_matrix};

/// A static check: its stable id and what it verifies.
#[derive(Debug, Clone, Copy)]
pub struct CheckInfo {
    pub id: &'static str,
    pub summary: &'static str,
}

/// The id of the check that every module reads and validates: a module failing it is unusable
/// input (exit 2 from every command), not a design finding.
pub const MODULE_VALID: &str = modules::VALID_ID;
pub use filter::{REQUEST_HANDLER, RESPONSE_HANDLER};

/// Every static check, in the order they run.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        id: contexts::ID,
        summary: "every service in exactly one bounded context; no empty context",
    },
    CheckInfo {
        id: ownership::ID, summary: "data ownership disjoint: Data(s_i) ∩ Data(s_k) = ∅"
    },
    CheckInfo {
        id: ownership::SHARED_READ_ID,
        summary: "services reading a store another service owns (read-only sharing)",
    },
    CheckInfo {
        id: coupling::COUPLING_ID,
        summary: "Coupling(s_i, s_j) ≤ quality.coupling_max for every pair",
    },
    CheckInfo {
        id: coupling::COHESION_ID,
        summary: "Cohesion(s) > quality.cohesion_min for every service",
    },
    CheckInfo { id: cycles::SYNC_ID, summary: "no cycle of synchronous calls" },
    CheckInfo { id: cycles::ASYNC_ID, summary: "cycles through async channels (warning)" },
    CheckInfo {
        id: contracts::VERSION_ID,
        summary: "a caller's version requirement matches the callee endpoint's version",
    },
    CheckInfo {
        id: contracts::FIELDS_ID,
        summary: "a caller sends every required request field and uses only provided response fields",
    },
    CheckInfo { id: modules::VALID_ID, summary: "every module reads and validates" },
    CheckInfo {
        id: modules::ABI_ID,
        summary: "every module exports memory (within its limit), alloc and handle_<endpoint> with the ABI signatures",
    },
    CheckInfo {
        id: links::UNRESOLVED_ID,
        summary: "every import of a composed service's modules is resolved by the host or by a linked library's export",
    },
    CheckInfo {
        id: links::SIGNATURE_ID,
        summary: "a linked import and the library export resolving it have equal function signatures",
    },
    CheckInfo { id: links::CYCLE_ID, summary: "libraries link no cycle" },
    CheckInfo {
        id: capacity::MEMORY_ID,
        summary: "the instances placed on each node fit in its memory_mib (replicas × concurrency × memory_max_kib)",
    },
    CheckInfo {
        id: modules::CAPABILITY_ID,
        summary: "every import is covered by a granted capability (sandbox by construction)",
    },
    CheckInfo { id: rollout::VALID, summary: "a rollout's new module reads and validates" },
    CheckInfo {
        id: rollout::ABI,
        summary: "a rollout's new module exports what the service's module must (memory, alloc, every endpoint's handler)",
    },
    CheckInfo {
        id: rollout::CAPABILITY,
        summary: "a rollout's new module imports only what the service is granted",
    },
    CheckInfo {
        id: rollout::CONTRACT,
        summary: "every caller fits the endpoints as a rollout changes them (version, request and response fields and their types)",
    },
    CheckInfo {
        id: mesh::TIMEOUT_ID,
        summary: "a mesh retry policy's attempts × per-try timeout fit in the caller's own timeout",
    },
    CheckInfo {
        id: mesh::AMPLIFICATION_ID,
        summary: "tries multiplied along a call path stay within quality.retry_amplification_max (warning)",
    },
    CheckInfo {
        id: authz::DENIED_ID,
        summary: "no mesh authorization policy denies a declared call or a public endpoint's gateway route",
    },
    CheckInfo {
        id: authz::UNENFORCED_ID,
        summary: "every mesh authorization policy protects a service with a sidecar (which enforces it); a DENY naming a caller with no identity is bypassed (warning)",
    },
    CheckInfo {
        id: mtls::PLAINTEXT_ID,
        summary: "no declared call goes plaintext (from a caller without a sidecar) to a service whose mTLS mode is strict",
    },
];

/// The modules a scenario refers to, keyed by the `module` path as written in the scenario,
/// each either inspected or the reason it could not be (unreadable, invalid).
pub type Modules = BTreeMap<String, Result<ModuleInfo, String>>;

/// Runs every static check.
#[must_use]
pub fn run(s: &Scenario, modules: &Modules) -> Vec<Diagnostic> {
    let mut out = Findings { s, diags: Vec::new() };
    contexts::check(&mut out);
    ownership::check(&mut out);
    coupling::check(&mut out);
    cycles::check(&mut out);
    contracts::check(&mut out);
    modules::check(&mut out, modules);
    links::check(&mut out, modules);
    filter::check(&mut out, modules);
    policy::check(&mut out, modules);
    rollout::check(&mut out, modules);
    capacity::check(&mut out);
    mesh::check(&mut out);
    authz::check(&mut out);
    mtls::check(&mut out);
    let mut diags = out.diags;
    diags.sort_by(|a, b| {
        a.location
            .cmp(&b.location)
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    diags
}

/// One static check's outcome: its findings, and whether none of them is an error (warnings
/// do not fail a check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    pub id: &'static str,
    pub summary: &'static str,
    pub passed: bool,
    pub findings: Vec<Diagnostic>,
}

/// Runs every check and groups the findings by check, in [`CHECKS`] order: what the CLI
/// reports and the GUI lists.
#[must_use]
pub fn outcomes(s: &Scenario, modules: &Modules) -> Vec<CheckOutcome> {
    let found = run(s, modules);
    CHECKS
        .iter()
        .map(|c| {
            let findings: Vec<Diagnostic> =
                found.iter().filter(|d| d.code == c.id).cloned().collect();
            let passed = !findings.iter().any(|d| d.severity == Severity::Error);
            CheckOutcome { id: c.id, summary: c.summary, passed, findings }
        })
        .collect()
}

/// Whether a module check (`module-valid`, `module-abi`, `module-capability`, `link-*`, or one
/// of the first three on a rollout's new module) failed: then the host would refuse the module,
/// and the system cannot be run.
#[must_use]
pub fn module_check_failed(outcomes: &[CheckOutcome]) -> bool {
    const MODULE_CHECKS: [&str; 9] = [
        modules::VALID_ID,
        modules::ABI_ID,
        modules::CAPABILITY_ID,
        rollout::VALID,
        rollout::ABI,
        rollout::CAPABILITY,
        links::UNRESOLVED_ID,
        links::SIGNATURE_ID,
        links::CYCLE_ID,
    ];
    outcomes.iter().any(|c| !c.passed && MODULE_CHECKS.contains(&c.id))
}

/// Collects findings, each located in the scenario's source.
struct Findings<'a> {
    s: &'a Scenario,
    diags: Vec<Diagnostic>,
}

impl Findings<'_> {
    fn push(
        &mut self,
        severity: Severity,
        id: &str,
        span: Span,
        message: String,
    ) -> &mut Diagnostic {
        let d = Diagnostic::new(severity, id, message).at(self.s.locate(span));
        self.diags.push(d);
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn error(&mut self, id: &str, span: Span, message: String) -> &mut Diagnostic {
        self.push(Severity::Error, id, span, message)
    }

    fn warning(&mut self, id: &str, span: Span, message: String) -> &mut Diagnostic {
        self.push(Severity::Warning, id, span, message)
    }
}
