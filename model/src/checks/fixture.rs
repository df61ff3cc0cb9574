//! Designs and helpers the checks' unit tests share.

use crate::checks::{Modules, run};
use crate::diagnostic::Diagnostic;
use crate::scenario::parse;

/// `front` (public `go`) calls `back.get`; `back_extra` follows `back`'s `get` endpoint (more
/// endpoints), then `mesh`.
pub(crate) fn front_calls_back(back_extra: &str, mesh: &str) -> String {
    format!(
        r#"
[system]
name = "a"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[quality]
coupling_max = 0.9
[[channel]]
name = "rest"
kind = "rest"
[[service]]
name = "front"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "go"
  method = "GET"
  path = "/go"
  public = true
  [[service.call]]
  service = "back"
  endpoint = "get"
  channel = "rest"
[[service]]
name = "back"
context = "c"
node = "n"
service_time = {{ distribution = {{ dist = "constant", ms = 1.0 }} }}
  [[service.endpoint]]
  name = "get"
{back_extra}{mesh}"#
    )
}

/// The diagnostics of check `id` on `text`, which must parse without errors.
pub(crate) fn findings(text: &str, id: &str) -> Vec<Diagnostic> {
    let parsed = parse("a.toml", text);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let s = parsed.ok().expect("valid");
    run(&s, &Modules::new()).into_iter().filter(|d| d.code == id).collect()
}
