//! S and I: services, their endpoints (interfaces = API, contract, version) and their declared
//! dependencies (synchronous calls, published channels, subscriptions).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::NameRef;
use super::autoscale::Autoscale;
use super::reader::{Cx, Obj, type_name};
use super::topology::Distribution;
use crate::capability::Capability;
use crate::contract::{Field, FieldType, Shape};
use crate::diagnostic::{Span, did_you_mean};

/// How instances serve requests (seed §8.3, serverless WASM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstancePolicy {
    /// A fresh instance per request; state lives only in stores.
    PerRequest,
    /// Instances are reused; an instance that faulted is discarded.
    Pooled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancing {
    RoundRobin,
    Random,
    LeastOutstanding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// The API of an endpoint: a REST route or a gRPC method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "style", rename_all = "lowercase")]
pub enum Api {
    Rest {
        method: Method,
        path: String,
    },
    Grpc {
        method: String,
    },
    /// Reached only through a subscription (an async consumer).
    Message,
}

/// One endpoint: the interface I_s = (API, Contract, Version) of seed §2.2.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub api: Api,
    pub version: semver::Version,
    pub request: Shape,
    pub response: Shape,
    /// Declared idempotent: f(f(r)) = f(r) must hold (checked dynamically).
    pub idempotent: bool,
    /// The request field that identifies a logical request across retries.
    pub idempotency_key: Option<String>,
    /// Exposed through the API gateway.
    pub public: bool,
    /// Application error codes (`{"error": "<code>"}`) that are business answers, not
    /// failures (`not_found`, `out_of_stock`): they count as available. Every other
    /// application error counts against availability.
    pub expected_errors: Vec<String>,
    /// What an abstract endpoint does before it answers (`[[service.endpoint.effect]]`): a
    /// module's effects are its code, so only abstract services declare them.
    pub effects: Vec<Effect>,
    #[serde(skip)]
    pub span: Span,
}

/// One declared effect of an abstract endpoint, performed in order after its service time,
/// each with its own probability — so fan-out and downstream load can be modelled without a
/// module.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub action: EffectAction,
    /// The chance it happens on one request (0..=1).
    pub probability: f64,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EffectAction {
    /// A synchronous call to one of the service's declared calls, with a request generated
    /// from the callee's contract.
    Call { service: NameRef, endpoint: NameRef },
    /// A message on one of the channels it publishes to, generated from its consumers'
    /// contract.
    Publish { channel: NameRef },
    /// A write to a store it owns: the key is the request field `key` names (a generated one
    /// without it), the value the request itself.
    Write { store: NameRef, key: Option<String> },
}

/// A declared synchronous dependency on another service's endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub service: NameRef,
    pub endpoint: NameRef,
    /// The sync channel (REST or gRPC) the call travels on.
    pub channel: NameRef,
    /// The callee versions this caller is written against.
    pub version: semver::VersionReq,
    /// Request fields the caller sends.
    pub sends: Vec<String>,
    /// Response fields the caller relies on.
    pub uses: Vec<String>,
    #[serde(skip)]
    pub span: Span,
}

/// A consumer of an async channel: messages become requests to one of the service's endpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    pub channel: NameRef,
    pub endpoint: NameRef,
    /// Consumer group; each message goes to one member of a group (default: the service).
    pub group: String,
    #[serde(skip)]
    pub span: Span,
}

/// Service time: CPU cost from the fuel a handler burns, plus an optional declared
/// distribution (alone, for abstract services without a module).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServiceTime {
    pub ns_per_fuel: f64,
    pub distribution: Option<Distribution>,
    /// What the declared distribution's time is spent on.
    pub resource: TimeResource,
}

/// What a declared service time is spent on: CPU demand shares the node's cores with every
/// other invocation computing there (it stretches under contention); waiting (I/O, an external
/// dependency) does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeResource {
    Cpu,
    Wait,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    pub context: NameRef,
    /// Module file, relative to the scenario file; `None` for an abstract service.
    pub module: Option<NameRef>,
    /// `[[library]]` names whose exports satisfy the module's imports from those import
    /// modules (a composed service, `library.rs`). Left out of the canonical form when empty,
    /// so scenario hashes of designs without links are unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<NameRef>,
    pub version: semver::Version,
    pub node: NameRef,
    pub replicas: u32,
    pub instance_policy: InstancePolicy,
    pub load_balancing: LoadBalancing,
    pub capabilities: BTreeSet<Capability>,
    /// Stores this service owns (writes); Data(s) of seed §2.3.
    pub owns: Vec<NameRef>,
    /// Stores this service reads but does not own.
    pub reads: Vec<NameRef>,
    /// Async channels it publishes to.
    pub publishes: Vec<NameRef>,
    pub calls: Vec<Call>,
    pub subscriptions: Vec<Subscription>,
    pub endpoints: Vec<Endpoint>,
    pub service_time: ServiceTime,
    /// Explicit limits; `None` fields fall back to the quality budgets.
    pub fuel_budget: Option<u64>,
    pub memory_max_kib: Option<u64>,
    pub concurrency: u32,
    pub queue_capacity: u32,
    /// `[service.autoscale]`: the replica count follows the load (`replicas` is the start).
    /// Left out of the canonical form when absent, so scenario hashes of designs without it
    /// are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<Autoscale>,
    #[serde(skip)]
    pub span: Span,
}

impl Service {
    #[must_use]
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }
}

pub(crate) const VERSION_DEFAULT: semver::Version = semver::Version::new(1, 0, 0);

pub(super) fn read_version(
    cx: &mut Cx<'_>,
    o: &mut Obj<'_, '_>,
    key: &'static str,
) -> Option<semver::Version> {
    let (s, span) = o.opt_str(cx, key)?;
    match semver::Version::parse(&s) {
        Ok(v) => Some(v),
        Err(e) => {
            cx.error(
                "parse.version",
                span,
                &o.field(key),
                format!("`{key}` = \"{s}\" is not a semantic version: {e}"),
            );
            None
        }
    }
}

fn names(list: Vec<(String, Span)>) -> Vec<NameRef> {
    list.into_iter().map(NameRef::from).collect()
}

impl Service {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Service> {
        let name = o.req_str(cx, "name", "the service's name");
        let context = o.req_str(cx, "context", "its bounded context");
        let module = o.opt_str(cx, "module").map(NameRef::from);
        let links = super::library::read_links(cx, &mut o);
        let version = read_version(cx, &mut o, "version").unwrap_or(VERSION_DEFAULT);
        let node = o.req_str(cx, "node", "the topology node it is placed on");
        let replicas = o.opt_u64(cx, "replicas", 1, 10_000).unwrap_or(1);
        let instance_policy = o
            .opt_enum(
                cx,
                "instance_policy",
                &[("per-request", InstancePolicy::PerRequest), ("pooled", InstancePolicy::Pooled)],
            )
            .unwrap_or(InstancePolicy::Pooled);
        let load_balancing = o
            .opt_enum(
                cx,
                "load_balancing",
                &[
                    ("round-robin", LoadBalancing::RoundRobin),
                    ("random", LoadBalancing::Random),
                    ("least-outstanding", LoadBalancing::LeastOutstanding),
                ],
            )
            .unwrap_or(LoadBalancing::RoundRobin);
        let mut capabilities = BTreeSet::new();
        for (cap, span) in o.str_list(cx, "capabilities") {
            match cap.parse::<Capability>() {
                Ok(c) => {
                    capabilities.insert(c);
                }
                Err(e) => {
                    let hint = did_you_mean(&cap, Capability::ALL.iter().map(|c| c.name()))
                        .map(|n| format!("did you mean `{n}`?"));
                    let all: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
                    cx.error_hint(
                        "parse.value",
                        span,
                        &o.field("capabilities"),
                        format!("{e} (known: {})", all.join(", ")),
                        hint,
                    );
                }
            }
        }
        let owns = names(o.str_list(cx, "owns"));
        let reads = names(o.str_list(cx, "reads"));
        let publishes = names(o.str_list(cx, "publishes"));
        let endpoints: Vec<Endpoint> = o
            .table_list(cx, "endpoint")
            .into_iter()
            .filter_map(|t| Endpoint::read(cx, t, &version))
            .collect();
        if !o.has("endpoint") {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("endpoint"),
                "a service needs at least one `[[service.endpoint]]`",
            );
        }
        let calls =
            o.table_list(cx, "call").into_iter().filter_map(|t| Call::read(cx, t)).collect();
        let mut subscriptions: Vec<Subscription> = o
            .table_list(cx, "subscribe")
            .into_iter()
            .filter_map(|t| Subscription::read(cx, t))
            .collect();
        if let Some((n, _)) = &name {
            for s in subscriptions.iter_mut().filter(|s| s.group.is_empty()) {
                s.group.clone_from(n);
            }
        }
        let fallback = ServiceTime {
            ns_per_fuel: ServiceTime::NS_PER_FUEL_DEFAULT,
            distribution: None,
            resource: TimeResource::Cpu,
        };
        let service_time = match o.opt_table(cx, "service_time") {
            Some(t) => ServiceTime::read(cx, t).unwrap_or(fallback),
            None => fallback,
        };
        let fuel_budget = o.opt_u64(cx, "fuel_budget", 1_000, 1 << 40);
        let memory_max_kib = o.opt_u64(cx, "memory_max_kib", 64, 4 << 20);
        let concurrency = o.opt_u64(cx, "concurrency", 1, 100_000).unwrap_or(4);
        let queue_capacity = o.opt_u64(cx, "queue_capacity", 0, 1_000_000).unwrap_or(64);
        let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let autoscale = o
            .opt_table(cx, "autoscale")
            .and_then(|t| Autoscale::read(cx, t, to_u32(replicas), !subscriptions.is_empty()));
        let span = o.span;
        o.finish(cx);
        if module.is_none() && service_time.distribution.is_none() {
            let msg = "a service needs a `module`, or a `service_time.distribution` (an abstract service)";
            cx.error("parse.missing-field", span, "module", msg);
        }
        Some(Service {
            name: name?.0,
            context: context.map_or_else(|| NameRef::new(""), NameRef::from),
            module,
            links,
            version,
            node: node.map_or_else(|| NameRef::new(""), NameRef::from),
            replicas: to_u32(replicas),
            instance_policy,
            load_balancing,
            capabilities,
            owns,
            reads,
            publishes,
            calls,
            subscriptions,
            endpoints,
            service_time,
            fuel_budget,
            memory_max_kib,
            concurrency: to_u32(concurrency),
            queue_capacity: to_u32(queue_capacity),
            autoscale,
            span,
        })
    }
}

impl ServiceTime {
    /// One fuel unit ≈ one simple wasmi instruction; 1 ns each is a deliberately round default.
    pub const NS_PER_FUEL_DEFAULT: f64 = 1.0;

    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<ServiceTime> {
        let ns_per_fuel =
            o.opt_f64(cx, "ns_per_fuel", 0.0, 1e6).unwrap_or(Self::NS_PER_FUEL_DEFAULT);
        let distribution = match o.opt_table(cx, "distribution") {
            Some(t) => Some(Distribution::read(cx, t)?),
            None => None,
        };
        let resource = o
            .opt_enum(cx, "resource", &[("cpu", TimeResource::Cpu), ("wait", TimeResource::Wait)])
            .unwrap_or(TimeResource::Cpu);
        o.finish(cx);
        Some(ServiceTime { ns_per_fuel, distribution, resource })
    }
}

impl Effect {
    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Effect> {
        let call = o.opt_str(cx, "call");
        let publish = o.opt_str(cx, "publish");
        let write = o.opt_str(cx, "write");
        let key = o.opt_str(cx, "key").map(|(k, _)| k);
        let probability = o.opt_f64(cx, "probability", 0.0, 1.0).unwrap_or(1.0);
        let span = o.span;
        let action = match (call, publish, write) {
            (Some((target, at)), None, None) => match target.split_once('.') {
                Some((service, endpoint)) if !service.is_empty() && !endpoint.is_empty() => {
                    EffectAction::Call {
                        service: NameRef { name: service.to_owned(), span: at },
                        endpoint: NameRef { name: endpoint.to_owned(), span: at },
                    }
                }
                _ => {
                    let msg = format!("`call = \"{target}\"` must name `service.endpoint`");
                    cx.error("parse.value", at, &o.field("call"), msg);
                    o.finish(cx);
                    return None;
                }
            },
            (None, Some((channel, at)), None) => {
                EffectAction::Publish { channel: NameRef { name: channel, span: at } }
            }
            (None, None, Some((store, at))) => {
                EffectAction::Write { store: NameRef { name: store, span: at }, key }
            }
            _ => {
                let msg = "an effect is exactly one of `call = \"service.endpoint\"`, `publish = \"channel\"` or `write = \"store\"`";
                cx.error("parse.value", span, &o.field("call"), msg);
                o.finish(cx);
                return None;
            }
        };
        o.finish(cx);
        Some(Effect { action, probability, span })
    }
}

impl Endpoint {
    fn read(
        cx: &mut Cx<'_>,
        mut o: Obj<'_, '_>,
        service_version: &semver::Version,
    ) -> Option<Endpoint> {
        let name = o.req_str(cx, "name", "the endpoint's name; the module exports `handle_<name>`");
        if let Some((n, span)) = &name {
            let valid = !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                cx.error("parse.value", *span, &o.field("name"), format!("endpoint name `{n}` must be letters, digits and `_` (it names the export `handle_{n}`)"));
            }
        }
        let method = o.opt_enum(
            cx,
            "method",
            &[
                ("GET", Method::Get),
                ("POST", Method::Post),
                ("PUT", Method::Put),
                ("PATCH", Method::Patch),
                ("DELETE", Method::Delete),
            ],
        );
        let path = o.opt_str(cx, "path");
        let grpc = o.opt_str(cx, "grpc");
        let api = match (method, path, grpc) {
            (Some(method), Some((path, _)), None) => Api::Rest { method, path },
            (None, None, Some((method, _))) => Api::Grpc { method },
            (None, None, None) => Api::Message,
            _ => {
                let msg = "give either `method` and `path` (REST), or `grpc` (a gRPC method), or neither (a message consumer)";
                cx.error("parse.value", o.span, &o.field("method"), msg);
                Api::Message
            }
        };
        let version =
            read_version(cx, &mut o, "version").unwrap_or_else(|| service_version.clone());
        // `None` when the contract itself is broken (already reported): no follow-on errors.
        let request = match o.get("request") {
            Some(v) => read_shape(cx, v, &o.field("request")),
            None => Some(Shape::default()),
        };
        let response = match o.get("response") {
            Some(v) => read_shape(cx, v, &o.field("response")).unwrap_or_default(),
            None => Shape::default(),
        };
        let idempotent = o.opt_bool(cx, "idempotent").unwrap_or(false);
        let idempotency_key = o.opt_str(cx, "idempotency_key");
        if let Some((key, span)) = &idempotency_key {
            if request.as_ref().is_some_and(|r| !r.fields.get(key).is_some_and(|f| f.required)) {
                cx.error(
                    "parse.value",
                    *span,
                    &o.field("idempotency_key"),
                    format!(
                        "idempotency key `{key}` must be a required field of the request contract"
                    ),
                );
            }
            if !idempotent {
                cx.error(
                    "parse.value",
                    *span,
                    &o.field("idempotency_key"),
                    "an `idempotency_key` only makes sense with `idempotent = true`",
                );
            }
        }
        let public = o.opt_bool(cx, "public").unwrap_or(false);
        let expected_errors: Vec<String> =
            o.str_list(cx, "expected_errors").into_iter().map(|(code, _)| code).collect();
        let effects: Vec<Effect> =
            o.table_list(cx, "effect").into_iter().filter_map(|e| Effect::read(cx, e)).collect();
        if public && api == Api::Message {
            cx.error("parse.value", o.span, &o.field("public"), "a public endpoint needs an API (`method` + `path`, or `grpc`) for the gateway to route");
        }
        let span = o.span;
        o.finish(cx);
        Some(Endpoint {
            name: name?.0,
            api,
            version,
            request: request.unwrap_or_default(),
            response,
            idempotent,
            idempotency_key: idempotency_key.map(|k| k.0),
            public,
            expected_errors,
            effects,
            span,
        })
    }
}

/// Reads a compact contract (see [`crate::contract`]).
pub(super) fn read_shape(
    cx: &mut Cx<'_>,
    v: &super::reader::Value<'_>,
    path: &str,
) -> Option<Shape> {
    let o = Obj::of(cx, v, path)?;
    let mut shape = Shape::default();
    let mut ok = true;
    // The key (`id` or `id?`) and place each field name was first declared with: a second
    // declaration of the same name is refused, not left to the last one to win.
    let mut first: BTreeMap<&str, (&str, Span)> = BTreeMap::new();
    for (key, key_span, value) in o.entries() {
        let (name, required) = match key.strip_suffix('?') {
            Some(n) => (n, false),
            None => (key, true),
        };
        let field = format!("{path}.{key}");
        if let Some((prev_key, prev_span)) = first.get(name) {
            let line = cx.locate(*prev_span).line;
            cx.error_hint(
                "parse.duplicate",
                key_span,
                &field,
                format!(
                    "contract field `{name}` is declared twice: as `{prev_key}` at line {line} and as `{key}` here"
                ),
                Some(format!(
                    "keep one declaration: `{name}` for a required field, `{name}?` for an optional one"
                )),
            );
            ok = false;
            continue;
        }
        first.insert(name, (key, key_span));
        let ty = match value.get_ref() {
            toml::de::DeValue::String(t) => FieldType::parse_name(t).or_else(|| {
                let hint = did_you_mean(t.trim_end_matches("[]"), FieldType::NAMES.iter().copied()).map(|n| format!("did you mean `{n}`?"));
                cx.error_hint("parse.contract", super::reader::span_of(value), &field, format!("unknown field type `{t}` (known: {}, `T[]` for arrays, or a table for an object)", FieldType::NAMES.join(", ")), hint);
                None
            }),
            toml::de::DeValue::Table(_) => read_shape(cx, value, &field).map(FieldType::Object),
            other => {
                cx.error("parse.contract", key_span, &field, format!("a contract field's type must be a type name or a table, found {}", type_name(other)));
                None
            }
        };
        match ty {
            Some(ty) => {
                shape.fields.insert(name.to_owned(), Field { ty, required });
            }
            None => ok = false,
        }
    }
    ok.then_some(shape)
}

impl Call {
    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Call> {
        let service = o.req_str(cx, "service", "the service called");
        let endpoint = o.req_str(cx, "endpoint", "the endpoint called");
        let channel = o.req_str(cx, "channel", "the sync channel (REST/gRPC) used");
        let version = match o.opt_str(cx, "version") {
            Some((s, span)) => match semver::VersionReq::parse(&s) {
                Ok(v) => Some(v),
                Err(e) => {
                    cx.error(
                        "parse.version",
                        span,
                        &o.field("version"),
                        format!("`version` = \"{s}\" is not a semver requirement: {e}"),
                    );
                    None
                }
            },
            None => Some(semver::VersionReq::STAR),
        };
        let sends = o.str_list(cx, "sends").into_iter().map(|s| s.0).collect();
        let uses = o.str_list(cx, "uses").into_iter().map(|s| s.0).collect();
        let span = o.span;
        o.finish(cx);
        Some(Call {
            service: service?.into(),
            endpoint: endpoint?.into(),
            channel: channel?.into(),
            version: version?,
            sends,
            uses,
            span,
        })
    }
}

impl Subscription {
    fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Subscription> {
        let channel = o.req_str(cx, "channel", "the async channel consumed");
        let endpoint = o.req_str(cx, "endpoint", "the endpoint that handles each message");
        let group = o.opt_str(cx, "group");
        let span = o.span;
        o.finish(cx);
        // An empty group is filled with the service's name once that is known.
        let group = group.map(|g| g.0).unwrap_or_default();
        Some(Subscription { channel: channel?.into(), endpoint: endpoint?.into(), group, span })
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Diagnostic;
    use crate::scenario::parse;

    fn design(request: &str, response: &str, rollout_response: &str) -> String {
        format!(
            r#"[system]
name = "t"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[[service]]
name = "payments"
context = "c"
node = "n"
module = "p.wasm"
  [[service.endpoint]]
  name = "charge"
  request = {request}
  response = {response}
[[rollout]]
service = "payments"
module = "p2.wasm"
at_s = 1
  [rollout.endpoints.charge]
  response = {rollout_response}
"#
        )
    }

    fn errors(text: &str) -> Vec<Diagnostic> {
        parse("t.toml", text).diagnostics.into_iter().filter(Diagnostic::is_error).collect()
    }

    /// `id` and `id?` in one shape are one field declared twice: refused at the second
    /// declaration, whichever order they come in, so key order never changes the meaning.
    #[test]
    fn a_field_declared_required_and_optional_is_a_parse_error() {
        for (request, second) in [
            (r#"{ id = "string", "id?" = "integer" }"#, "id?"),
            (r#"{ "id?" = "integer", id = "string" }"#, "id"),
        ] {
            let errs = errors(&design(request, r#"{ id = "string" }"#, r#"{ id = "string" }"#));
            assert_eq!(errs.len(), 1, "{errs:#?}");
            let e = &errs[0];
            assert_eq!(e.code, "parse.duplicate");
            assert_eq!(
                e.field.as_deref(),
                Some(format!("service[0].endpoint[0].request.{second}").as_str())
            );
            assert!(e.message.contains("contract field `id` is declared twice"), "{}", e.message);
            assert!(e.message.contains(&format!("as `{second}` here")), "{}", e.message);
            let loc = e.location.as_ref().expect("located");
            assert_eq!((loc.file.as_str(), loc.line), ("t.toml", 15));
        }
    }

    /// Nested objects, responses and a rollout's changed shapes are read by the same rule.
    #[test]
    fn duplicates_are_refused_in_nested_response_and_rollout_shapes() {
        let nested = r#"{ order = { id = "string", "id?" = "string" } }"#;
        let errs = errors(&design(nested, r#"{ id = "string" }"#, r#"{ id = "string" }"#));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].field.as_deref(), Some("service[0].endpoint[0].request.order.id?"));
        let response = r#"{ "total?" = "integer", total = "number" }"#;
        let errs = errors(&design(r#"{}"#, response, r#"{ id = "string" }"#));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].field.as_deref(), Some("service[0].endpoint[0].response.total"));
        let errs = errors(&design(r#"{}"#, r#"{}"#, response));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].code, "parse.duplicate");
        assert_eq!(errs[0].location.as_ref().map(|l| l.line), Some(22));
        assert_eq!(errs[0].field.as_deref(), Some("rollout[0].endpoints.charge.response.total"));
        // Distinct names, and the same name in two different objects, are fine.
        let fine = r#"{ id = "string", "note?" = "string", order = { id = "string" } }"#;
        assert_eq!(errors(&design(fine, r#"{}"#, r#"{}"#)), Vec::<Diagnostic>::new());
    }
}
