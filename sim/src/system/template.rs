//! Request body templates: JSON whose strings may hold `${...}` generators (see
//! [`Template`]), parsed once when the world is resolved and rendered per request from the
//! workload's random stream.

use fusebench_model::scenario::Template;
use serde_json::Value as Json;

use crate::rng::{Seed, SimRng};

/// A request body template, parsed once: JSON whose strings may hold generators.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Literal(Json),
    /// A string with generators; `whole_int`: it is exactly one numeric generator and renders
    /// as a JSON integer; `whole_answer`: it is exactly one step reference and renders as the
    /// referenced JSON value itself.
    Text {
        pieces: Vec<Piece>,
        whole_int: bool,
        whole_answer: bool,
    },
    Array(Vec<Body>),
    Object(Vec<(String, Body)>),
}

#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Literal(String),
    Generator(Template),
    /// A field of an earlier journey step's answer: the step's index in its journey, the
    /// path below the answer's root, and the reference as written (for a clear failure).
    Answer {
        step: usize,
        path: Vec<String>,
        written: String,
    },
}

impl Body {
    /// A mix entry's body (no step references: the parser refuses them outside journeys).
    pub(crate) fn parse(template: &Json) -> Body {
        Body::parse_in(template, &[])
    }

    /// A journey step's body: `steps` names the journey's steps, in order, so a reference
    /// becomes an index once here instead of a name looked up per request.
    pub(crate) fn parse_in(template: &Json, steps: &[String]) -> Body {
        match template {
            Json::String(s) if s.contains("${") => Body::text(s, steps),
            Json::Array(items) => {
                Body::Array(items.iter().map(|i| Body::parse_in(i, steps)).collect())
            }
            Json::Object(map) => Body::Object(
                map.iter().map(|(k, v)| (k.clone(), Body::parse_in(v, steps))).collect(),
            ),
            other => Body::Literal(other.clone()),
        }
    }

    /// The body itself when it holds no generator (nothing to draw: every rendering is this
    /// value, built as [`Renderer::body`] builds it); `None` otherwise.
    pub(crate) fn fixed(&self) -> Option<Json> {
        match self {
            Body::Literal(v) => Some(v.clone()),
            Body::Text { .. } => None,
            Body::Array(items) => {
                items.iter().map(Body::fixed).collect::<Option<_>>().map(Json::Array)
            }
            Body::Object(fields) => fields
                .iter()
                .map(|(k, v)| v.fixed().map(|v| (k.clone(), v)))
                .collect::<Option<_>>()
                .map(Json::Object),
        }
    }

    fn text(s: &str, steps: &[String]) -> Body {
        let single = s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
        let whole_int = (s.starts_with("${int ") || s == "${seq}") && single;
        let whole_answer = s.starts_with("${steps.") && single;
        let mut pieces = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            pieces.push(Piece::Literal(rest[..start].to_owned()));
            // Templates were validated when the scenario was parsed; one that is not (a
            // scenario built by hand) renders as nothing.
            let written = format!("${{{}}}", &after[..end]);
            match Template::parse_all(&written).ok().and_then(|t| t.into_iter().next()) {
                Some(Template::Step { step, path }) => {
                    // The parser checked that it names an earlier step; one that does not (a
                    // scenario built by hand) points past every answer and fails at run time.
                    let step = steps.iter().position(|n| *n == step).unwrap_or(usize::MAX);
                    pieces.push(Piece::Answer { step, path, written });
                }
                Some(t) => pieces.push(Piece::Generator(t)),
                None => {}
            }
            rest = &after[end + 1..];
        }
        pieces.push(Piece::Literal(rest.to_owned()));
        Body::Text { pieces, whole_int, whole_answer }
    }
}

/// The value at `path` below `answer` (object keys, or indexes into arrays).
fn lookup<'j>(answer: &'j Json, path: &[String]) -> Option<&'j Json> {
    path.iter().try_fold(answer, |v, part| match v {
        Json::Object(map) => map.get(part.as_str()),
        Json::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The state a rendering draws from.
pub(crate) struct Renderer<'a> {
    pub(crate) rng: &'a mut SimRng,
    pub(crate) seq: &'a mut u64,
    pub(crate) keys: &'a mut u64,
    pub(crate) seed: Seed,
    /// The answers of the journey's steps so far, by step index (empty outside a journey).
    pub(crate) answers: &'a [Json],
    /// The first step reference that found nothing (the rendering is then unusable).
    pub(crate) missing: Option<String>,
}

impl Renderer<'_> {
    pub(crate) fn body(&mut self, body: &Body) -> Json {
        match body {
            Body::Literal(v) => v.clone(),
            Body::Text { pieces, whole_int, whole_answer } => {
                self.text(pieces, *whole_int, *whole_answer)
            }
            Body::Array(items) => Json::Array(items.iter().map(|i| self.body(i)).collect()),
            Body::Object(fields) => {
                Json::Object(fields.iter().map(|(k, v)| (k.clone(), self.body(v))).collect())
            }
        }
    }

    fn text(&mut self, pieces: &[Piece], whole_int: bool, whole_answer: bool) -> Json {
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Answer { step, path, written } => {
                    let found = self.answers.get(*step).and_then(|a| lookup(a, path));
                    match found {
                        None | Some(Json::Null) => {
                            if self.missing.is_none() {
                                self.missing =
                                    Some(format!("{written}: the answer has no such field"));
                            }
                            return Json::Null;
                        }
                        Some(v) if whole_answer => return v.clone(),
                        Some(Json::String(text)) => out.push_str(text),
                        Some(v) => out.push_str(&v.to_string()),
                    }
                }
                Piece::Generator(Template::Seq) => {
                    *self.seq += 1;
                    if whole_int {
                        return Json::from(*self.seq);
                    }
                    out.push_str(&self.seq.to_string());
                }
                Piece::Generator(Template::Key) => {
                    *self.keys += 1;
                    out.push_str(&format!("k{:x}-{}", self.seed, self.keys));
                }
                Piece::Generator(Template::Int { min, max }) => {
                    let n = self.rng.range_i64(*min, *max);
                    if whole_int {
                        return Json::from(n);
                    }
                    out.push_str(&n.to_string());
                }
                Piece::Generator(Template::Pick(words)) => {
                    let i = self.rng.below(words.len() as u64) as usize;
                    out.push_str(&words[i]);
                }
                // Turned into `Piece::Answer` when parsed; never a generator.
                Piece::Generator(Template::Step { .. }) => {}
            }
        }
        Json::String(out)
    }
}
