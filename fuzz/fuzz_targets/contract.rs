//! Contracts: a `request` shape read by the scenario parser from fuzzed TOML, then a fuzzed JSON
//! value checked against it (the check every request and response goes through), and the
//! static contract checks. Input: `<inline table>\n<json>`.
#![no_main]

use fusebench_model::checks::{self, Modules};
use libfuzzer_sys::fuzz_target;

/// A scenario with one service whose endpoint's request contract is the fuzzed table and which
/// calls itself with a fixed `sends`, so the contract checks have a call to judge.
const TEMPLATE: &str = r#"
[system]
name = "contract"
[[context]]
name = "c"
[[node]]
name = "n"
[gateway]
node = "n"
[[channel]]
name = "rest"
kind = "rest"
[[service]]
name = "s"
context = "c"
node = "n"
service_time = { distribution = { dist = "constant", ms = 1.0 } }
  [[service.endpoint]]
  name = "e"
  method = "POST"
  path = "/e"
  public = true
  request = @SHAPE@
  response = @SHAPE@
  [[service.call]]
  service = "s"
  endpoint = "e"
  channel = "rest"
  sends = ["a", "b"]
  uses = ["a"]
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (shape, json) = text.split_once('\n').unwrap_or((text, "{}"));
    if shape.contains('\n') || shape.contains('@') {
        return;
    }
    let scenario = TEMPLATE.replace("@SHAPE@", shape);
    let Some(s) = fusebench_model::parse("contract.toml", &scenario).ok() else { return };
    let _ = checks::run(&s, &Modules::new());
    let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else { return };
    if let Some(e) = s.service("s").and_then(|x| x.endpoint("e")) {
        let _ = e.request.check(&value);
        let _ = e.response.check(&value);
        let _ = fusebench_model::contract::is_application_error(&value);
    }
});
