//! Bounded contexts partition the services: each service belongs to exactly one context (the
//! scenario format gives each service one `context`, and parsing rejects unknown ones), and a
//! context without services is a modelling mistake.

use super::Findings;

pub(super) const ID: &str = "context-partition";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    for ctx in &s.contexts {
        if !s.services.iter().any(|svc| svc.context.name == ctx.name) {
            f.error(ID, ctx.span, format!("bounded context `{}` has no services", ctx.name)).hint =
                Some("remove it, or move the services that implement it into it".into());
        }
    }
    for svc in &s.services {
        if !s.contexts.iter().any(|c| c.name == svc.context.name) {
            f.error(
                ID,
                svc.context.span,
                format!(
                    "service `{}` is in no declared bounded context (`{}`)",
                    svc.name, svc.context.name
                ),
            );
        }
    }
}
