//! Abstract services with effects: an abstract endpoint answers after its declared service
//! time with a response generated from its contract, having first performed its declared
//! effects — calls, publications, writes, each with its probability — through the same host
//! operations a module would use. So callers' `uses` are met, and fan-out and downstream load
//! can be modelled without writing a module.
//!
//! Generated values are deterministic (the service's own random stream): a string field
//! `name` becomes `"name-<n>"`, numbers are drawn below 1000 (so two invocations may send the
//! same value), booleans are fair coins, arrays are empty and objects are generated from their
//! own shape. The one exception is the field the target endpoint names its `idempotency_key`:
//! it identifies the work, not a value, and drawn below 1000 it made distinct payments one
//! (each later one deduplicated as a retry of the first). The caller passes on its own
//! request's field of that name, as a service forwards its client's key; without one it
//! names its invocation (`"<field>-inv<id>"`), unique to it — a redelivery of the caller's
//! own work is a new invocation and so sends a new key, as a service minting a fresh key per
//! attempt would.

use std::collections::VecDeque;

use fusebench_model::contract::{FieldType, Shape};
use serde_json::{Map, Value};

use super::Sim;
use super::ids::{EndpointId, InvId, ServiceId};
use super::world::EffectKind;
use crate::metrics::Outcome;
use crate::rng::SimRng;
use crate::runtime::HostOp;

/// A JSON object with every field of `shape`, required or not, generated from `rng`.
pub(crate) fn generate(shape: &Shape, rng: &mut SimRng) -> Value {
    let mut out = Map::new();
    for (name, field) in &shape.fields {
        out.insert(name.clone(), value(name, &field.ty, rng));
    }
    Value::Object(out)
}

fn value(name: &str, ty: &FieldType, rng: &mut SimRng) -> Value {
    match ty {
        FieldType::String | FieldType::Any => Value::String(format!("{name}-{}", rng.below(1000))),
        FieldType::Integer => Value::from(rng.below(1000)),
        FieldType::Number => Value::from(rng.below(100_000) as f64 / 100.0),
        FieldType::Boolean => Value::Bool(rng.chance(0.5)),
        FieldType::Array(_) => Value::Array(Vec::new()),
        FieldType::Object(shape) => generate(shape, rng),
    }
}

/// `generated`'s bytes, its idempotency-key field `key` (when the target declares one) set
/// to the work it names: the calling request's own field of that name, else the invocation.
/// The field's generated value is drawn and replaced, so every other value is what it was.
fn keyed(mut generated: Value, key: Option<&str>, body: &[u8], inv: InvId) -> Vec<u8> {
    if let (Some(field), Value::Object(fields)) = (key, &mut generated) {
        let forwarded = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get(field).filter(|v| v.is_string() || v.is_number()).cloned());
        // The generated value has the field's declared type: a number names the invocation
        // by its id.
        let numeric = fields.get(field).is_some_and(Value::is_number);
        let value = forwarded.unwrap_or_else(|| {
            if numeric {
                Value::from(inv.0)
            } else {
                Value::String(format!("{field}-inv{}", inv.0))
            }
        });
        fields.insert(field.to_owned(), value);
    }
    generated.to_string().into_bytes()
}

/// The store key a write effect uses: the request's field `key` (a string or number), or a
/// generated one.
fn key_of(body: &[u8], key: Option<&str>, rng: &mut SimRng) -> Vec<u8> {
    let from_request = key.and_then(|k| {
        let v: Value = serde_json::from_slice(body).ok()?;
        match v.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    });
    from_request.unwrap_or_else(|| format!("k-{}", rng.below(1_000_000))).into_bytes()
}

impl Sim {
    /// The host operations an abstract invocation of `endpoint` performs, drawn when it starts.
    pub(crate) fn effects_of(
        &mut self,
        service: ServiceId,
        endpoint: EndpointId,
        body: &[u8],
        inv: InvId,
    ) -> VecDeque<HostOp> {
        let spec = self.world.service(service).endpoint(endpoint);
        let rng = &mut self.services[service.index()].rng;
        let mut ops = VecDeque::new();
        for e in &spec.effects {
            if e.probability < 1.0 && !rng.chance(e.probability) {
                continue;
            }
            ops.push_back(match &e.action {
                EffectKind::Call { service, endpoint, request, key } => HostOp::Call {
                    service: service.clone(),
                    endpoint: endpoint.clone(),
                    request: keyed(generate(request, rng), key.as_deref(), body, inv),
                },
                EffectKind::Publish { channel, message, key } => HostOp::Publish {
                    channel: channel.clone(),
                    message: keyed(generate(message, rng), key.as_deref(), body, inv),
                },
                EffectKind::Write { store, key } => HostOp::KvPut {
                    store: store.clone(),
                    key: key_of(body, key.as_deref(), rng),
                    value: body.to_vec(),
                },
            });
        }
        ops
    }

    /// An abstract invocation's service time is over, or its last effect was answered: the next
    /// effect, or the answer generated from its response contract.
    pub(crate) fn abstract_step(&mut self, id: InvId) {
        let inv = self.invocations.get_mut(id).expect("an abstract invocation is live");
        if let Some(op) = inv.script.pop_front() {
            self.trace_op(id, &op);
            self.perform(id, op);
            return;
        }
        let (service, req) = (inv.service, inv.req);
        let endpoint = self.requests.live(req).endpoint;
        let shape = &self.world.service(service).endpoint(endpoint).response;
        let body = if shape.fields.is_empty() {
            super::payload::Payload::Static("{}")
        } else {
            super::payload::Payload::from(
                generate(shape, &mut self.services[service.index()].rng).to_string(),
            )
        };
        self.finish_invocation(id, Outcome::Ok, body);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use fusebench_model::contract::Field;

    use super::*;

    fn shape(fields: &[(&str, FieldType)]) -> Shape {
        let fields: BTreeMap<String, Field> = fields
            .iter()
            .map(|(n, ty)| ((*n).to_owned(), Field { ty: ty.clone(), required: true }))
            .collect();
        Shape { fields }
    }

    #[test]
    fn generated_answers_meet_their_contract_and_repeat_with_the_seed() {
        let inner = shape(&[("a", FieldType::String)]);
        let shape = shape(&[
            ("id", FieldType::String),
            ("n", FieldType::Integer),
            ("ok", FieldType::Boolean),
            ("price", FieldType::Number),
            ("tags", FieldType::Array(Box::new(FieldType::String))),
            ("inner", FieldType::Object(inner)),
        ]);
        let mut a = SimRng::stream(1, "service/x");
        let mut b = SimRng::stream(1, "service/x");
        let v = generate(&shape, &mut a);
        assert!(shape.check(&v).is_empty(), "{v} breaks {shape:?}");
        assert_eq!(v, generate(&shape, &mut b));
        assert!(v["id"].as_str().is_some_and(|s| s.starts_with("id-")), "{v}");
    }

    #[test]
    fn a_write_key_comes_from_the_named_request_field() {
        let mut rng = SimRng::stream(1, "service/x");
        assert_eq!(key_of(br#"{"post_id":"p-7"}"#, Some("post_id"), &mut rng), b"p-7");
        assert_eq!(key_of(br#"{"post_id":42}"#, Some("post_id"), &mut rng), b"42");
        let generated = key_of(b"{}", Some("post_id"), &mut rng);
        assert!(generated.starts_with(b"k-"), "{}", String::from_utf8_lossy(&generated));
    }
}
