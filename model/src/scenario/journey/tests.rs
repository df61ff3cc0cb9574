//! Journey parsing: a valid journey reads with its defaults, and every mistake is reported
//! where it is written (line, column, field).

use super::super::{Template, parse};
use super::*;
use crate::diagnostic::Diagnostic;

const HEAD: &str = r#"[system]
name = "j"
[[context]]
name = "c"
[[node]]
name = "cloud"
tier = "cloud"
[gateway]
node = "cloud"
[[service]]
name = "shop"
context = "c"
node = "cloud"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "browse"
  method = "GET"
  path = "/p"
  public = true
  response = { sku = "string", price = { cents = "integer" } }
  [[service.endpoint]]
  name = "order"
  method = "POST"
  path = "/o"
  public = true
  response = { order_id = "string" }
  [[service.endpoint]]
  name = "internal"
  method = "GET"
  path = "/i"
[workload]
duration_s = 1
arrival = { kind = "closed", users = 2 }
"#;

/// Steps as `(name, endpoint, body)`, in a journey named `buy` of weight `weight`.
fn journey(weight: &str, steps: &[(&str, &str, &str)]) -> String {
    let mut t = format!("{HEAD}  [[workload.journey]]\n  name = \"buy\"\n  weight = {weight}\n");
    for (name, endpoint, body) in steps {
        t.push_str(&format!(
            "    [[workload.journey.step]]\n    name = \"{name}\"\n    service = \"shop\"\n    endpoint = \"{endpoint}\"\n    body = {body}\n"
        ));
    }
    t
}

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    parse("j.toml", text).diagnostics
}

/// The only diagnostic, asserted to be one: (code, line, column, field, message).
fn only(text: &str) -> (String, usize, usize, String, String) {
    let d = diagnostics(text);
    assert_eq!(d.len(), 1, "{d:#?}");
    let d = &d[0];
    let at = d.location.clone().expect("located");
    (d.code.clone(), at.line, at.column, d.field.clone().unwrap_or_default(), d.message.clone())
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("present") + 1
}

#[test]
fn a_journey_reads_with_its_steps_references_and_defaults() {
    let mut text = journey(
        "2.5",
        &[
            ("look", "browse", "{ sku = \"sku-${int 1 8}\" }"),
            (
                "buy",
                "order",
                "{ sku = \"${steps.look.sku}\", cents = \"${steps.look.price.cents}\" }",
            ),
        ],
    );
    text.push_str("    think_ms = 250\n    stop_on = \"unexpected\"\n");
    let parsed = parse("j.toml", &text);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    let w = s.workload.expect("workload");
    assert!(w.mix.is_empty(), "a workload of journeys alone needs no mix");
    let j = &w.journeys[0];
    assert_eq!((j.name.as_str(), j.weight, j.steps.len()), ("buy", 2.5, 2));
    assert_eq!((j.steps[0].think_ms, j.steps[0].stop_on), (0.0, StopOn::AnyError));
    assert_eq!((j.steps[1].think_ms, j.steps[1].stop_on), (250.0, StopOn::Unexpected));
    let paths: Vec<Vec<String>> = j.steps[1].refs.iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, [vec!["sku".to_owned()], vec!["price".to_owned(), "cents".to_owned()]]);
    assert_eq!(j.steps[1].refs[0].field, "workload.journey[0].step[1].body.sku");
}

#[test]
fn a_reference_to_a_later_or_unknown_step_is_located() {
    let text = journey(
        "1",
        &[("look", "browse", "{ sku = \"${steps.buy.order_id}\" }"), ("buy", "order", "{}")],
    );
    let (code, line, col, field, msg) = only(&text);
    assert_eq!(code, "parse.unknown-reference");
    assert_eq!(line, line_of(&text, "${steps.buy"));
    assert_eq!(col, "    body = { sku = ".len() + 1);
    assert_eq!(field, "workload.journey[0].step[0].body.sku");
    assert!(msg.contains("step `buy` is not earlier than this one"), "{msg}");
    let text =
        journey("1", &[("look", "browse", "{}"), ("buy", "order", "{ s = \"${steps.nope.x}\" }")]);
    let (code, line, _, _, msg) = only(&text);
    assert_eq!((code.as_str(), line), ("parse.unknown-reference", line_of(&text, "nope")));
    assert!(msg.contains("unknown step `nope`"), "{msg}");
    // A step cannot use its own answer either.
    let text = journey("1", &[("look", "browse", "{ s = \"${steps.look.sku}\" }")]);
    assert!(only(&text).4.contains("not earlier"));
}

#[test]
fn a_step_reference_outside_a_journey_is_refused() {
    let text = format!(
        "{HEAD}  [[workload.mix]]\n  service = \"shop\"\n  endpoint = \"browse\"\n  body = {{ s = \"${{steps.a.b}}\" }}\n"
    );
    let (code, line, _, field, msg) = only(&text);
    assert_eq!((code.as_str(), field.as_str()), ("parse.template", "workload.mix[0].body.s"));
    assert_eq!(line, line_of(&text, "steps.a.b"));
    assert!(msg.contains("only a `[[workload.journey.step]]` body"), "{msg}");
}

#[test]
fn duplicate_step_names_are_located_at_the_second() {
    let text = journey("1", &[("look", "browse", "{}"), ("look", "order", "{}")]);
    let (code, line, _, field, msg) = only(&text);
    assert_eq!(code, "parse.duplicate");
    assert_eq!(
        line,
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains("name = \"look\""))
            .nth(1)
            .expect("two")
            .0
            + 1
    );
    assert_eq!(field, "workload.journey[0].step[1].name");
    assert!(msg.contains("duplicate step name `look`"), "{msg}");
}

#[test]
fn a_weight_of_zero_or_less_is_located() {
    for w in ["0", "-1.5", "0.0", "1e12", "nan"] {
        let text = journey(w, &[("look", "browse", "{}")]);
        let (code, line, _, field, msg) = only(&text);
        assert_eq!((code.as_str(), field.as_str()), ("parse.range", "workload.journey[0].weight"));
        assert_eq!(line, line_of(&text, "weight ="));
        let why = if w == "1e12" || w == "nan" { "out of range" } else { "must be > 0" };
        assert!(msg.contains(why), "{w}: {msg}");
    }
}

#[test]
fn unknown_and_private_endpoints_and_services_are_located() {
    let text = journey("1", &[("look", "brows", "{}")]);
    let (code, line, _, field, msg) = only(&text);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("parse.unknown-reference", "workload.journey[0].step[0].endpoint")
    );
    assert_eq!(line, line_of(&text, "\"brows\""));
    assert!(msg.contains("unknown endpoint of `shop` `brows`"), "{msg}");
    let text = journey("1", &[("look", "internal", "{}")]);
    let (code, ..) = only(&text);
    assert_eq!(code, "parse.not-public");
    let text = journey("1", &[("look", "browse", "{}")])
        .replace("service = \"shop\"\n    endpoint", "service = \"shp\"\n    endpoint");
    let (code, line, _, field, _) = only(&text);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("parse.unknown-reference", "workload.journey[0].step[0].service")
    );
    assert_eq!(line, line_of(&text, "\"shp\""));
}

#[test]
fn a_journey_without_steps_or_with_a_bad_stop_on_is_an_error() {
    let text = journey("1", &[]);
    let (code, _, _, field, _) = only(&text);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("parse.missing-field", "workload.journey[0].step")
    );
    let text = journey("1", &[("look", "browse", "{}")]) + "    stop_on = \"never\"\n";
    let (code, line, _, field, _) = only(&text);
    assert_eq!(
        (code.as_str(), field.as_str()),
        ("parse.value", "workload.journey[0].step[0].stop_on")
    );
    assert_eq!(line, line_of(&text, "never"));
}

#[test]
fn a_field_the_contract_does_not_declare_is_a_warning() {
    let text = journey(
        "1",
        &[("look", "browse", "{}"), ("buy", "order", "{ s = \"${steps.look.price.euros}\" }")],
    );
    let d = diagnostics(&text);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(!d[0].is_error());
    assert_eq!(d[0].code, "journey.undeclared-field");
    assert_eq!(d[0].location.as_ref().map(|l| l.line), Some(line_of(&text, "euros")));
    assert!(d[0].message.contains("declares no field `price.euros`"), "{}", d[0].message);
    assert!(parse("j.toml", &text).ok().is_some(), "a warning does not stop the parse");
}

#[test]
fn duplicate_journey_names_are_errors() {
    let one = journey("1", &[("look", "browse", "{}")]);
    let second = &one[one.find("  [[workload.journey]]").expect("journey")..];
    let text = format!("{one}{second}");
    let (code, _, _, _, msg) = only(&text);
    assert_eq!(code, "parse.duplicate");
    assert!(msg.contains("duplicate journey name `buy`"), "{msg}");
}

#[test]
fn the_step_template_parses() {
    assert_eq!(
        Template::parse_all("${steps.a.b.0}"),
        Ok(vec![Template::Step { step: "a".into(), path: vec!["b".into(), "0".into()] }])
    );
}
