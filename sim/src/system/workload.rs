//! The workload: open-loop arrivals (Poisson, constant, on/off, a rate schedule) or closed-loop
//! users with think time; a weighted request mix; request bodies rendered from templates with
//! seeded fields.

use fusebench_model::scenario::{Arrival, Template};
use serde_json::Value as Json;

use super::serving::{Origin, Req};
use super::{Event, Sim};
use crate::time::{SimTime, millis_to_nanos, secs_to_nanos};

#[derive(Debug, Default)]
pub(crate) struct Load {
    pub(crate) sent: u64,
    pub(crate) answered: u64,
    pub(crate) stopped: bool,
    seq: u64,
    keys: u64,
    origin: usize,
}

impl Sim {
    pub(crate) fn start_workload(&mut self) {
        let Some(w) = &self.s.workload else {
            self.load.stopped = true;
            return;
        };
        self.load.origin =
            w.origin.as_ref().map_or(self.serving.gateway_node, |o| self.net.node(&o.name));
        let duration = self.duration;
        self.q.schedule(duration, Event::WorkloadEnd);
        match w.arrival.clone() {
            Arrival::Closed { users, think_ms } => {
                for u in 0..users {
                    let think =
                        self.rng_workload.exponential(millis_to_nanos(think_ms) as f64) as u64;
                    self.q.after(think.max(1), Event::UserNext(u));
                }
            }
            _ => {
                if let Some(gap) = self.next_gap(SimTime::ZERO) {
                    self.q.after(gap, Event::Arrival);
                }
            }
        }
    }

    /// Time from `t` to the next open-loop arrival; `None` if there is none before the end.
    fn next_gap(&mut self, t: SimTime) -> Option<u64> {
        let w = self.s.workload.as_ref()?;
        let exp =
            |sim: &mut Sim, rate: f64| (sim.rng_workload.exponential(1e9 / rate)).max(1.0) as u64;
        let gap = match w.arrival.clone() {
            Arrival::Poisson { rate_rps } => exp(self, rate_rps),
            Arrival::Constant { rate_rps } => ((1e9 / rate_rps) as u64).max(1),
            Arrival::OnOff { rate_rps, on_s, off_s } => {
                let period = secs_to_nanos(on_s + off_s).max(1);
                let on = secs_to_nanos(on_s);
                let candidate = t.nanos() + exp(self, rate_rps);
                let phase = candidate % period;
                if phase < on {
                    candidate - t.nanos()
                } else {
                    candidate - phase + period - t.nanos()
                }
            }
            Arrival::Schedule { steps } => {
                let now_s = t.as_secs_f64();
                let current =
                    steps.iter().rev().find(|s| s.at_s <= now_s).map_or(0.0, |s| s.rate_rps);
                if current > 0.0 {
                    exp(self, current)
                } else {
                    let next = steps.iter().find(|s| s.at_s > now_s && s.rate_rps > 0.0)?;
                    secs_to_nanos(next.at_s) - t.nanos() + exp(self, next.rate_rps)
                }
            }
            Arrival::Closed { .. } => return None,
        };
        (t + gap < self.duration).then_some(gap)
    }

    pub(crate) fn on_arrival(&mut self) {
        if self.load.stopped {
            return;
        }
        self.send_client_request(None);
        let now = self.q.now();
        if let Some(gap) = self.next_gap(now) {
            self.q.after(gap, Event::Arrival);
        }
    }

    pub(crate) fn on_user_next(&mut self, user: u32) {
        if !self.load.stopped {
            self.send_client_request(Some(user));
        }
    }

    /// A closed-loop user got its answer: it thinks, then sends again.
    pub(crate) fn user_done(&mut self, user: u32) {
        let Some(w) = &self.s.workload else { return };
        if let Arrival::Closed { think_ms, .. } = w.arrival {
            let think = self.rng_workload.exponential(millis_to_nanos(think_ms) as f64) as u64;
            self.q.after(think.max(1), Event::UserNext(user));
        }
    }

    fn send_client_request(&mut self, user: Option<u32>) {
        let Some(w) = &self.s.workload else { return };
        let total: f64 = w.mix.iter().map(|m| m.weight).sum();
        if w.mix.is_empty() || total <= 0.0 {
            return;
        }
        let mut pick = self.rng_workload.unit() * total;
        let mut chosen = w.mix.len() - 1;
        for (i, m) in w.mix.iter().enumerate() {
            if pick < m.weight {
                chosen = i;
                break;
            }
            pick -= m.weight;
        }
        let entry = &w.mix[chosen];
        let (service, endpoint, template) =
            (entry.service.name.clone(), entry.endpoint.name.clone(), entry.body.clone());
        let body = self.render(&template);
        let Some(&svc) = self.serving.index.get(&service) else { return };
        let now = self.q.now();
        let timeout = millis_to_nanos(self.s.gateway.as_ref().map_or(5000.0, |g| g.timeout_ms));
        let origin_node = self.load.origin;
        let gw = self.serving.gateway_node;
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let req = self.serving.new_req(Req {
            svc,
            endpoint,
            body: bytes,
            origin: Origin::Client { user, node: origin_node, timer: None },
            sent: now,
            reply_to: gw,
            done: false,
            arrived: now,
        });
        let timer = self.q.after(timeout, Event::GatewayTimeout(req));
        if let Some(r) = self.serving.reqs.get_mut(&req) {
            r.origin = Origin::Client { user, node: origin_node, timer: Some(timer) };
        }
        self.load.sent += 1;
        if let Some(d) = self.transit(origin_node, gw, "request", req) {
            self.q.after(d, Event::AtGateway(req));
        }
    }

    /// Renders a body template: every `${...}` generator replaced by a seeded value.
    fn render(&mut self, template: &Json) -> Json {
        match template {
            Json::String(s) if s.contains("${") => self.render_string(s),
            Json::Array(items) => Json::Array(items.iter().map(|i| self.render(i)).collect()),
            Json::Object(map) => {
                Json::Object(map.iter().map(|(k, v)| (k.clone(), self.render(v))).collect())
            }
            other => other.clone(),
        }
    }

    fn render_string(&mut self, s: &str) -> Json {
        // A string that is exactly one numeric generator renders as a JSON integer.
        let whole_int = (s.starts_with("${int ") || s == "${seq}")
            && s.ends_with('}')
            && s.matches("${").count() == 1;
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            // Templates were validated when the scenario was parsed.
            match Template::parse_all(&format!("${{{}}}", &after[..end]))
                .ok()
                .and_then(|t| t.into_iter().next())
            {
                Some(Template::Seq) => {
                    self.load.seq += 1;
                    if whole_int {
                        return Json::from(self.load.seq);
                    }
                    out.push_str(&self.load.seq.to_string());
                }
                Some(Template::Key) => {
                    self.load.keys += 1;
                    out.push_str(&format!("k{:x}-{}", self.seed, self.load.keys));
                }
                Some(Template::Int { min, max }) => {
                    let n = self.rng_workload.range_i64(min, max);
                    if whole_int {
                        return Json::from(n);
                    }
                    out.push_str(&n.to_string());
                }
                Some(Template::Pick(words)) => {
                    let i = self.rng_workload.below(words.len() as u64) as usize;
                    out.push_str(&words[i]);
                }
                None => {}
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Json::String(out)
    }
}
