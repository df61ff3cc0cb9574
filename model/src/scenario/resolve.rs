//! Name resolution: duplicate names and references to elements that do not exist (or are of
//! the wrong kind), each reported where the reference is written, with a "did you mean" hint.

use std::collections::BTreeMap;

use super::reader::Cx;
use super::{FaultTarget, NameRef, Scenario, StoreKind};
use crate::diagnostic::{Span, did_you_mean};

/// Reports duplicates among `(name, span)` items of one kind.
fn duplicates<'a>(cx: &mut Cx<'_>, kind: &str, items: impl IntoIterator<Item = (&'a str, Span)>) {
    let mut first: BTreeMap<&str, Span> = BTreeMap::new();
    for (name, span) in items {
        if let Some(prev) = first.get(name) {
            let prev = cx.locate(*prev);
            let msg =
                format!("duplicate {kind} name `{name}` (first defined at line {})", prev.line);
            cx.error("parse.duplicate", span, kind, msg);
        } else {
            first.insert(name, span);
        }
    }
}

/// `gateway` names the API gateway wherever a service name could stand: its mesh identity in
/// authorization `from` lists and mTLS, the client side of the coupling graph, a call's
/// `caller` in the trace. A service of that name would be taken for it (allowed where the
/// gateway is, coupled to every public endpoint), so it is refused.
fn reserved_service_names(cx: &mut Cx<'_>, s: &Scenario) {
    for x in s.services.iter().filter(|x| x.name == crate::scenario::GATEWAY_IDENTITY) {
        cx.error_hint(
            "parse.reserved-name",
            x.span,
            "service.name",
            "a service cannot be named `gateway`: the name stands for the API gateway (its mesh identity, the caller of public endpoints)",
            Some("rename the service, e.g. `edge-router`; the API gateway itself is the `[gateway]` table".to_owned()),
        );
    }
}

/// Checks that `r` names one of `known`; reports it (with a hint) otherwise.
/// [`expect`], for the mesh's modules.
pub(crate) fn expect_name(
    cx: &mut Cx<'_>,
    r: &NameRef,
    what: &str,
    field: &str,
    known: &[&str],
) -> bool {
    expect(cx, r, what, field, known)
}

pub(super) fn expect(
    cx: &mut Cx<'_>,
    r: &NameRef,
    what: &str,
    field: &str,
    known: &[&str],
) -> bool {
    if known.contains(&r.name.as_str()) {
        return true;
    }
    if r.name.is_empty() && r.span == Span::default() {
        // A required name that was missing; already reported where it should have been.
        return false;
    }
    let hint = did_you_mean(&r.name, known.iter().copied()).map(|n| format!("did you mean `{n}`?"));
    let hint = hint.or_else(|| (!known.is_empty()).then(|| format!("known: {}", known.join(", "))));
    cx.error_hint(
        "parse.unknown-reference",
        r.span,
        field,
        format!("unknown {what} `{}`", r.name),
        hint,
    );
    false
}

pub(crate) fn resolve(cx: &mut Cx<'_>, s: &Scenario) {
    duplicates(cx, "context", s.contexts.iter().map(|c| (c.name.as_str(), c.span)));
    duplicates(cx, "node", s.nodes.iter().map(|n| (n.name.as_str(), n.span)));
    duplicates(cx, "service", s.services.iter().map(|x| (x.name.as_str(), x.span)));
    reserved_service_names(cx, s);
    duplicates(cx, "store", s.stores.iter().map(|x| (x.name.as_str(), x.span)));
    duplicates(cx, "channel", s.channels.iter().map(|x| (x.name.as_str(), x.span)));
    duplicates(cx, "library", s.libraries.iter().map(|x| (x.name.as_str(), x.span)));
    resolve_links(cx, s);

    let contexts: Vec<&str> = s.contexts.iter().map(|c| c.name.as_str()).collect();
    let nodes: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
    let services: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
    let stores: Vec<&str> = s.stores.iter().map(|x| x.name.as_str()).collect();
    let channels: Vec<&str> = s.channels.iter().map(|x| x.name.as_str()).collect();
    let brokers: Vec<&str> =
        s.stores.iter().filter(|x| x.kind == StoreKind::Broker).map(|x| x.name.as_str()).collect();
    let sync: Vec<&str> =
        s.channels.iter().filter(|c| c.kind.is_sync()).map(|c| c.name.as_str()).collect();
    let asynch: Vec<&str> =
        s.channels.iter().filter(|c| !c.kind.is_sync()).map(|c| c.name.as_str()).collect();

    for link in &s.links {
        for end in &link.between {
            expect(cx, end, "node", "link.between", &nodes);
        }
    }
    let kvs: Vec<&str> =
        s.stores.iter().filter(|x| x.kind == StoreKind::Kv).map(|x| x.name.as_str()).collect();
    for store in &s.stores {
        let f = format!("store[{}].nodes", store.name);
        for n in &store.nodes {
            expect(cx, n, "node", &f, &nodes);
        }
        let f = format!("store[{}].of", store.name);
        if let Some(of) = &store.of
            && expect(cx, of, "store", &f, &stores)
            && !kvs.contains(&of.name.as_str())
        {
            cx.error(
                "parse.wrong-kind",
                of.span,
                &f,
                format!(
                    "store `{}` is not a key-value store (kind = \"kv\"): a cache fronts one",
                    of.name
                ),
            );
        }
    }
    for c in &s.channels {
        if let Some(b) = &c.broker
            && expect(cx, b, "store", &format!("channel[{}].broker", c.name), &stores)
            && !brokers.contains(&b.name.as_str())
        {
            cx.error(
                "parse.wrong-kind",
                b.span,
                &format!("channel[{}].broker", c.name),
                format!("store `{}` is not a broker (kind = \"broker\")", b.name),
            );
        }
    }
    for svc in &s.services {
        let f = |field: &str| format!("service[{}].{field}", svc.name);
        expect(cx, &svc.context, "bounded context", &f("context"), &contexts);
        expect(cx, &svc.node, "node", &f("node"), &nodes);
        duplicates(cx, "endpoint", svc.endpoints.iter().map(|e| (e.name.as_str(), e.span)));
        for r in svc.owns.iter().chain(&svc.reads) {
            expect(cx, r, "store", &f("owns/reads"), &stores);
        }
        for p in &svc.publishes {
            if expect(cx, p, "channel", &f("publishes"), &channels)
                && !asynch.contains(&p.name.as_str())
            {
                cx.error(
                    "parse.wrong-kind",
                    p.span,
                    &f("publishes"),
                    format!(
                        "`{}` is a synchronous channel; publish to a queue or event-stream",
                        p.name
                    ),
                );
            }
        }
        for call in &svc.calls {
            if expect(cx, &call.service, "service", &f("call.service"), &services)
                && let Some(callee) = s.service(&call.service.name)
            {
                let eps: Vec<&str> = callee.endpoints.iter().map(|e| e.name.as_str()).collect();
                expect(
                    cx,
                    &call.endpoint,
                    &format!("endpoint of `{}`", callee.name),
                    &f("call.endpoint"),
                    &eps,
                );
            }
            if expect(cx, &call.channel, "channel", &f("call.channel"), &channels)
                && !sync.contains(&call.channel.name.as_str())
            {
                cx.error(
                    "parse.wrong-kind",
                    call.channel.span,
                    &f("call.channel"),
                    format!(
                        "`{}` is asynchronous; a call needs a rest or grpc channel",
                        call.channel.name
                    ),
                );
            }
        }
        for (ei, ep) in svc.endpoints.iter().enumerate() {
            let field = |k: &str| format!("service[{}].endpoint[{ei}].effect.{k}", svc.name);
            if svc.module.is_some() && !ep.effects.is_empty() {
                let msg = format!(
                    "`{}.{}` has a module: its effects are what its code does; only abstract services declare effects",
                    svc.name, ep.name
                );
                cx.error("parse.value", ep.effects[0].span, &field("call"), msg);
                continue;
            }
            for effect in &ep.effects {
                resolve_effect(cx, svc, &effect.action, &field);
            }
        }
        let own_eps: Vec<&str> = svc.endpoints.iter().map(|e| e.name.as_str()).collect();
        for sub in &svc.subscriptions {
            if expect(cx, &sub.channel, "channel", &f("subscribe.channel"), &channels)
                && !asynch.contains(&sub.channel.name.as_str())
            {
                cx.error(
                    "parse.wrong-kind",
                    sub.channel.span,
                    &f("subscribe.channel"),
                    format!(
                        "`{}` is synchronous; subscribe to a queue or event-stream",
                        sub.channel.name
                    ),
                );
            }
            expect(
                cx,
                &sub.endpoint,
                &format!("endpoint of `{}`", svc.name),
                &f("subscribe.endpoint"),
                &own_eps,
            );
        }
    }
    let public = s.services.iter().any(|x| x.endpoints.iter().any(|e| e.public));
    match &s.gateway {
        Some(g) => {
            expect(cx, &g.node, "node", "gateway.node", &nodes);
        }
        None if public || s.workload.is_some() => {
            let at = s.services.first().map(|x| x.span).unwrap_or_default();
            cx.error("parse.missing-field", at, "gateway", "public endpoints and workloads go through the API gateway: add a `[gateway]` table with its `node`");
        }
        None => {}
    }
    for slo in &s.quality.slos {
        resolve_endpoint(cx, s, &slo.service, &slo.endpoint, "quality.slo", &services, false);
    }
    if let Some(w) = &s.workload {
        if let Some(origin) = &w.origin {
            expect(cx, origin, "node", "workload.origin", &nodes);
        }
        for m in &w.mix {
            resolve_endpoint(cx, s, &m.service, &m.endpoint, "workload.mix", &services, true);
        }
        for (i, j) in w.journeys.iter().enumerate() {
            for (k, st) in j.steps.iter().enumerate() {
                let field = format!("workload.journey[{i}].step[{k}]");
                resolve_endpoint(cx, s, &st.service, &st.endpoint, &field, &services, true);
            }
        }
        super::journey::check(cx, s);
    }
    resolve_mesh(cx, s, &services);
    for fault in &s.faults {
        let field = "fault";
        match &fault.target {
            FaultTarget::Service { service, replica } => {
                if expect(cx, service, "service", field, &services)
                    && let (Some(r), Some(svc)) = (replica, s.service(&service.name))
                    && *r >= s.replicas_of(svc)
                {
                    cx.error(
                        "parse.range",
                        fault.span,
                        "fault.replica",
                        format!(
                            "replica {r} does not exist: `{}` has {} replica(s), numbered from 0",
                            svc.name,
                            s.replicas_of(svc)
                        ),
                    );
                }
            }
            FaultTarget::Node { node } => {
                expect(cx, node, "node", field, &nodes);
            }
            FaultTarget::Link { between } => {
                for n in between {
                    expect(cx, n, "node", field, &nodes);
                }
            }
            FaultTarget::Channel { channel } => {
                expect(cx, channel, "channel", field, &channels);
            }
            FaultTarget::Store { store } => {
                expect(cx, store, "store", field, &stores);
            }
        }
    }
}

/// `[mesh]`: the meshed services and each policy's destination exist; one policy per
/// destination (service, or service and endpoint); a policy some sidecar or the gateway applies.
/// Every `links` entry names a `[[library]]`; only a service with a module links anything.
fn resolve_links(cx: &mut Cx<'_>, s: &Scenario) {
    let libraries: Vec<&str> = s.libraries.iter().map(|l| l.name.as_str()).collect();
    for lib in &s.libraries {
        for l in &lib.links {
            expect(cx, l, "library", &format!("library[{}].links", lib.name), &libraries);
        }
    }
    for svc in &s.services {
        let field = format!("service[{}].links", svc.name);
        for l in &svc.links {
            expect(cx, l, "library", &field, &libraries);
        }
        if svc.module.is_none()
            && let Some(first) = svc.links.first()
        {
            let msg = format!(
                "service `{}` links library `{}` but has no `module` to link it to",
                svc.name, first.name
            );
            cx.error("parse.value", first.span, &field, msg);
        }
    }
}

fn resolve_mesh(cx: &mut Cx<'_>, s: &Scenario, services: &[&str]) {
    let Some(mesh) = &s.mesh else { return };
    resolve_authorization(cx, s, mesh, services);
    super::mesh::resolve_mtls(cx, mesh, services);
    for m in &mesh.services {
        expect(cx, m, "service", "mesh.services", services);
    }
    super::mesh::resolve_filters(cx, &mesh.filters, services);
    super::mesh::resolve_routes(cx, s, services);
    super::mesh::resolve_pushes(cx, s, services);
    let mut seen: BTreeMap<(&str, Option<&str>), Span> = BTreeMap::new();
    for (i, p) in mesh.policies.iter().enumerate() {
        resolve_policy(cx, s, mesh, p, &format!("mesh.policy[{i}]"), services, &mut seen);
    }
}

/// One `[[mesh.policy]]` (or a push's, at `field`): its destination exists, it is the only
/// one for that destination among those `seen`, and a sidecar or the gateway applies it.
pub(super) fn resolve_policy<'a>(
    cx: &mut Cx<'_>,
    s: &Scenario,
    mesh: &crate::scenario::Mesh,
    p: &'a crate::scenario::MeshPolicy,
    field: &str,
    services: &[&str],
    seen: &mut BTreeMap<(&'a str, Option<&'a str>), Span>,
) {
    let field = field.to_owned();
    if !expect(cx, &p.service, "service", &format!("{field}.service"), services) {
        return;
    }
    let Some(svc) = s.service(&p.service.name) else { return };
    if let Some(e) = &p.endpoint {
        let eps: Vec<&str> = svc.endpoints.iter().map(|e| e.name.as_str()).collect();
        let what = format!("endpoint of `{}`", svc.name);
        if !expect(cx, e, &what, &format!("{field}.endpoint"), &eps) {
            return;
        }
    }
    let key = (p.service.name.as_str(), p.endpoint.as_ref().map(|e| e.name.as_str()));
    if let Some(first) = seen.get(&key) {
        let line = cx.locate(*first).line;
        let target = key.1.map_or(key.0.to_owned(), |e| format!("{}.{e}", key.0));
        let msg = format!("a second mesh policy for `{target}` (the first is at line {line})");
        cx.error("parse.duplicate", p.span, &field, msg);
        return;
    }
    seen.insert(key, p.span);
    // The gateway applies policies to the public endpoints; a meshed caller's sidecar to
    // its calls. A policy neither applies would configure nothing.
    let reached = |endpoint: &str| {
        let public = svc.endpoint(endpoint).is_some_and(|e| e.public);
        public
            || s.services.iter().any(|caller| {
                mesh.contains(&caller.name)
                    && caller
                        .calls
                        .iter()
                        .any(|c| c.service.name == svc.name && c.endpoint.name == endpoint)
            })
    };
    let applied = match &p.endpoint {
        Some(e) => reached(&e.name),
        None => svc.endpoints.iter().any(|e| reached(&e.name)),
    };
    if !applied {
        let msg = format!(
            "no sidecar applies this policy: `{}` has no public endpoint it covers and no caller in the mesh",
            svc.name
        );
        cx.error_hint(
            "parse.mesh-unused",
            p.span,
            &field,
            msg,
            Some("add its callers to `mesh.services` (or set `mesh.all = true`)".into()),
        );
    }
}

/// `[[mesh.authorization]]`: each policy resolves ([`resolve_authz_policy`]) and no two share
/// a name (a name is the Kubernetes object's, unique in its namespace).
fn resolve_authorization(
    cx: &mut Cx<'_>,
    s: &Scenario,
    mesh: &crate::scenario::Mesh,
    services: &[&str],
) {
    for (i, p) in mesh.authorization.iter().enumerate() {
        resolve_authz_policy(cx, s, p, &format!("mesh.authorization[{i}]"), services);
    }
    unique_authz_names(cx, &mesh.authorization, "mesh.authorization");
}

/// Two policies of `policies` (declared, or one push's) with the same name are an error.
pub(crate) fn unique_authz_names(
    cx: &mut Cx<'_>,
    policies: &[crate::scenario::Authorization],
    field: &str,
) {
    for (i, p) in policies.iter().enumerate() {
        let Some(n) = &p.name else { continue };
        if policies[..i].iter().any(|q| q.name.as_ref().is_some_and(|m| m.name == n.name)) {
            let msg = format!("two authorization policies are named `{}`", n.name);
            cx.error("parse.duplicate", n.span, &format!("{field}[{i}].name"), msg);
        }
    }
}

/// One authorization policy (declared or pushed, at `field`): the destination and its
/// endpoints exist; every source is a service or the gateway.
pub(crate) fn resolve_authz_policy(
    cx: &mut Cx<'_>,
    s: &Scenario,
    p: &crate::scenario::Authorization,
    field: &str,
    services: &[&str],
) {
    let mut sources = services.to_vec();
    sources.push(crate::scenario::GATEWAY_IDENTITY);
    for f in p.from.iter().flatten() {
        let what = "source identity (a service, or `gateway`)";
        expect(cx, f, what, &format!("{field}.from"), &sources);
    }
    if !expect(cx, &p.service, "service", &format!("{field}.service"), services) {
        return;
    }
    let Some(svc) = s.service(&p.service.name) else { return };
    let eps: Vec<&str> = svc.endpoints.iter().map(|e| e.name.as_str()).collect();
    let what = format!("endpoint of `{}`", svc.name);
    for e in p.endpoints.iter().flatten() {
        expect(cx, e, &what, &format!("{field}.endpoints"), &eps);
    }
}

/// An effect may only do what its service declares: a declared call, a channel in
/// `publishes`, a store in `owns` — so the static checks (coupling, ownership) see it.
fn resolve_effect(
    cx: &mut Cx<'_>,
    svc: &crate::scenario::Service,
    action: &crate::scenario::EffectAction,
    field: &dyn Fn(&str) -> String,
) {
    use crate::scenario::EffectAction;
    match action {
        EffectAction::Call { service, endpoint } => {
            let declared = svc
                .calls
                .iter()
                .any(|c| c.service.name == service.name && c.endpoint.name == endpoint.name);
            if !declared {
                let msg = format!(
                    "`{}` does not declare a call to `{}.{}`: add it under [[service.call]]",
                    svc.name, service.name, endpoint.name
                );
                cx.error("parse.undeclared", service.span, &field("call"), msg);
            }
        }
        EffectAction::Publish { channel } => {
            if !svc.publishes.iter().any(|p| p.name == channel.name) {
                let msg = format!(
                    "`{}` does not publish to `{}`: add it to `publishes`",
                    svc.name, channel.name
                );
                cx.error("parse.undeclared", channel.span, &field("publish"), msg);
            }
        }
        EffectAction::Write { store, .. } => {
            if !svc.owns.iter().any(|o| o.name == store.name) {
                let msg = format!("`{}` does not own `{}`: add it to `owns`", svc.name, store.name);
                cx.error("parse.undeclared", store.span, &field("write"), msg);
            }
        }
    }
}

fn resolve_endpoint(
    cx: &mut Cx<'_>,
    s: &Scenario,
    service: &NameRef,
    endpoint: &NameRef,
    field: &str,
    services: &[&str],
    must_be_public: bool,
) {
    if !expect(cx, service, "service", &format!("{field}.service"), services) {
        return;
    }
    let Some(svc) = s.service(&service.name) else { return };
    let eps: Vec<&str> = svc.endpoints.iter().map(|e| e.name.as_str()).collect();
    if !expect(
        cx,
        endpoint,
        &format!("endpoint of `{}`", svc.name),
        &format!("{field}.endpoint"),
        &eps,
    ) {
        return;
    }
    if must_be_public && svc.endpoint(&endpoint.name).is_some_and(|e| !e.public) {
        let msg = format!(
            "clients reach only public endpoints; `{}.{}` is not `public = true`",
            svc.name, endpoint.name
        );
        cx.error("parse.not-public", endpoint.span, &format!("{field}.endpoint"), msg);
    }
}
