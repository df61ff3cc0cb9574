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
    /// as a JSON integer.
    Text {
        pieces: Vec<Piece>,
        whole_int: bool,
    },
    Array(Vec<Body>),
    Object(Vec<(String, Body)>),
}

#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Literal(String),
    Generator(Template),
}

impl Body {
    pub(crate) fn parse(template: &Json) -> Body {
        match template {
            Json::String(s) if s.contains("${") => Body::text(s),
            Json::Array(items) => Body::Array(items.iter().map(Body::parse).collect()),
            Json::Object(map) => {
                Body::Object(map.iter().map(|(k, v)| (k.clone(), Body::parse(v))).collect())
            }
            other => Body::Literal(other.clone()),
        }
    }

    fn text(s: &str) -> Body {
        let whole_int = (s.starts_with("${int ") || s == "${seq}")
            && s.ends_with('}')
            && s.matches("${").count() == 1;
        let mut pieces = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            pieces.push(Piece::Literal(rest[..start].to_owned()));
            // Templates were validated when the scenario was parsed; one that is not (a
            // scenario built by hand) renders as nothing.
            if let Some(t) = Template::parse_all(&format!("${{{}}}", &after[..end]))
                .ok()
                .and_then(|t| t.into_iter().next())
            {
                pieces.push(Piece::Generator(t));
            }
            rest = &after[end + 1..];
        }
        pieces.push(Piece::Literal(rest.to_owned()));
        Body::Text { pieces, whole_int }
    }
}

/// The state a rendering draws from.
pub(crate) struct Renderer<'a> {
    pub(crate) rng: &'a mut SimRng,
    pub(crate) seq: &'a mut u64,
    pub(crate) keys: &'a mut u64,
    pub(crate) seed: Seed,
}

impl Renderer<'_> {
    pub(crate) fn body(&mut self, body: &Body) -> Json {
        match body {
            Body::Literal(v) => v.clone(),
            Body::Text { pieces, whole_int } => self.text(pieces, *whole_int),
            Body::Array(items) => Json::Array(items.iter().map(|i| self.body(i)).collect()),
            Body::Object(fields) => {
                Json::Object(fields.iter().map(|(k, v)| (k.clone(), self.body(v))).collect())
            }
        }
    }

    fn text(&mut self, pieces: &[Piece], whole_int: bool) -> Json {
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
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
            }
        }
        Json::String(out)
    }
}
