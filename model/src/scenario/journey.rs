//! User journeys: a sequence of requests one client makes, each step's body free to use fields
//! of earlier answers (`${steps.<step>.<field>}`), with a think time before each step — what
//! k6 scenarios and Locust task sets give load testers. A journey shares the request mix's
//! weights: an arrival picks a mix entry or a journey.

use serde::Serialize;

use super::reader::{Cx, Obj, Value, span_of};
use super::workload::{StepScope, to_json_in};
use super::{NameRef, Scenario};
use crate::contract::{FieldType, Shape};
use crate::diagnostic::{Diagnostic, Span};

/// One journey of the workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Journey {
    pub name: String,
    /// Its share of arrivals, against the mix entries' and other journeys' weights (> 0).
    pub weight: f64,
    pub steps: Vec<JourneyStep>,
    #[serde(skip)]
    pub span: Span,
}

/// Which answers end a journey (as failed, at the step that got it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopOn {
    /// Anything but a conforming response ends it — an expected business error too
    /// (the default: a journey that got `not_found` did not do what its user came for).
    AnyError,
    /// Only answers that count against availability end it (timeouts, rejections, faults,
    /// unexpected application errors); a business error the endpoint lists in
    /// `expected_errors` lets the journey go on — for a step whose "no" is part of the flow.
    /// A later step that refers to a field the error answer lacks still fails there.
    Unexpected,
}

/// One step: a request to a public endpoint through the gateway, like a mix entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JourneyStep {
    pub name: String,
    pub service: NameRef,
    pub endpoint: NameRef,
    /// The body template (see [`super::Template`]); may refer to earlier steps' answers.
    pub body: serde_json::Value,
    /// The user's think time before sending this step (after the previous answer; for the
    /// first step, after the journey starts), in milliseconds.
    pub think_ms: f64,
    pub stop_on: StopOn,
    /// Every `${steps...}` reference in the body, with where it is written.
    #[serde(skip)]
    pub refs: Vec<StepRef>,
    #[serde(skip)]
    pub span: Span,
}

/// A `${steps.<step>.<path>}` reference found in a step's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    pub step: String,
    pub path: Vec<String>,
    /// The body field holding it (`workload.journey[0].step[1].body.sku`).
    pub field: String,
    pub span: Span,
}

impl Journey {
    /// The largest think time the parser accepts before a step: one hour.
    pub const THINK_MS_MAX: f64 = 3.6e6;

    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Journey> {
        let name = o.req_str(cx, "name", "the journey's name, used in reports");
        let weight = match o.get("weight") {
            // Zero or less gets its own message (the range one would not say why).
            Some(v) if number(v).is_some_and(|w| w <= 0.0) => {
                let msg = format!(
                    "`weight` = {}: a journey's weight must be > 0 (remove the journey to leave it out)",
                    number(v).unwrap_or_default()
                );
                cx.error("parse.range", span_of(v), &o.field("weight"), msg);
                None
            }
            Some(_) => o.opt_f64(cx, "weight", 0.0, 1e9),
            None => Some(1.0),
        };
        let mut names: Vec<String> = Vec::new();
        let mut raw: Vec<(Obj<'_, '_>, Option<(String, Span)>)> = Vec::new();
        for mut t in o.table_list(cx, "step") {
            let n = t.req_str(cx, "name", "the step's name, used by later steps and reports");
            raw.push((t, n));
        }
        // Every name first, so a reference to a later step can be told from an unknown one.
        let all: Vec<String> =
            raw.iter().map(|(_, n)| n.as_ref().map_or(String::new(), |n| n.0.clone())).collect();
        let mut steps = Vec::new();
        let mut ok = true;
        for (i, (t, n)) in raw.into_iter().enumerate() {
            if let Some((n, span)) = &n
                && names.contains(n)
            {
                let msg = format!("duplicate step name `{n}` in this journey");
                cx.error("parse.duplicate", *span, &t.field("name"), msg);
                ok = false;
            }
            let step = JourneyStep::read(cx, t, n.clone(), &all[..i], &all[i..]);
            if let Some((n, _)) = n {
                names.push(n);
            }
            match step {
                Some(s) => steps.push(s),
                None => ok = false,
            }
        }
        if !o.has("step") {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("step"),
                "a journey needs at least one `[[workload.journey.step]]`",
            );
            ok = false;
        }
        let span = o.span;
        o.finish(cx);
        if !ok {
            return None;
        }
        Some(Journey { name: name?.0, weight: weight?, steps, span })
    }
}

/// A TOML integer or float as a number (`None` for anything else, left to the typed reader).
fn number(v: &Value<'_>) -> Option<f64> {
    use toml::de::DeValue as T;
    match v.get_ref() {
        T::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok().map(|i| i as f64),
        T::Float(f) => f.as_str().parse::<f64>().ok(),
        _ => None,
    }
}

impl JourneyStep {
    fn read(
        cx: &mut Cx<'_>,
        mut o: Obj<'_, '_>,
        name: Option<(String, Span)>,
        earlier: &[String],
        later: &[String],
    ) -> Option<JourneyStep> {
        let service = o.req_str(cx, "service", "the service called");
        let endpoint = o.req_str(cx, "endpoint", "the endpoint called");
        let think_ms = o.opt_f64(cx, "think_ms", 0.0, Journey::THINK_MS_MAX).unwrap_or(0.0);
        let stop_on = if o.has("stop_on") {
            o.opt_enum(
                cx,
                "stop_on",
                &[("any-error", StopOn::AnyError), ("unexpected", StopOn::Unexpected)],
            )?
        } else {
            StopOn::AnyError
        };
        let mut scope = Some(StepScope { earlier, later, refs: Vec::new() });
        let body = match o.get("body") {
            Some(v) => to_json_in(cx, v, &o.field("body"), &mut scope)?,
            None => serde_json::Value::Object(serde_json::Map::new()),
        };
        let refs = scope.map(|s| s.refs).unwrap_or_default();
        let span = o.span;
        o.finish(cx);
        Some(JourneyStep {
            name: name?.0,
            service: service?.into(),
            endpoint: endpoint?.into(),
            body,
            think_ms,
            stop_on,
            refs,
            span,
        })
    }
}

/// After name resolution: duplicate journey names (errors), and step references to a field
/// the referenced step's endpoint does not declare in its response contract (warnings: extra
/// fields are allowed by contracts, so the answer may still carry it).
pub(crate) fn check(cx: &mut Cx<'_>, s: &Scenario) {
    let Some(w) = &s.workload else { return };
    let mut seen: Vec<&str> = Vec::new();
    for (i, j) in w.journeys.iter().enumerate() {
        if seen.contains(&j.name.as_str()) {
            let msg = format!("duplicate journey name `{}`", j.name);
            cx.error("parse.duplicate", j.span, &format!("workload.journey[{i}].name"), msg);
        }
        seen.push(&j.name);
        for step in &j.steps {
            for r in &step.refs {
                let Some(target) = j.steps.iter().find(|x| x.name == r.step) else { continue };
                let Some(ep) = s
                    .service(&target.service.name)
                    .and_then(|svc| svc.endpoint(&target.endpoint.name))
                else {
                    continue;
                };
                if let Some(missing) = undeclared(&ep.response, &r.path) {
                    let msg = format!(
                        "`${{steps.{}.{}}}`: the response contract of `{}.{}` declares no field `{missing}`; a run fails the journey at this step if the answer lacks it",
                        r.step,
                        r.path.join("."),
                        target.service.name,
                        target.endpoint.name
                    );
                    let d = Diagnostic::warning("journey.undeclared-field", msg)
                        .at(cx.locate(r.span))
                        .field(&r.field);
                    cx.diags.push(d);
                }
            }
        }
    }
}

/// The first part of `path` the shape does not declare (dot-joined up to it), if any. A shape
/// with no fields declares nothing to check against; an `any` field accepts every path below.
fn undeclared(shape: &Shape, path: &[String]) -> Option<String> {
    if shape.fields.is_empty() {
        return None;
    }
    let mut ty: Option<&FieldType> = None;
    for (i, part) in path.iter().enumerate() {
        let here = || path[..=i].join(".");
        let next = match ty {
            None => shape.fields.get(part).map(|f| &f.ty),
            Some(FieldType::Object(inner)) => inner.fields.get(part).map(|f| &f.ty),
            Some(FieldType::Array(inner)) if part.parse::<usize>().is_ok() => Some(&**inner),
            Some(FieldType::Any) => return None,
            Some(_) => None,
        };
        match next {
            Some(t) => ty = Some(t),
            None => return Some(here()),
        }
    }
    None
}

#[cfg(test)]
mod tests;
