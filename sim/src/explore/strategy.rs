//! The proptest strategy of explored schedules: every fault kind the scenario format has, on
//! every target kind it applies to in this scenario, timed inside the case's own active window;
//! the workload's duration, rate (closed-loop concurrency) and arrival bursts varied.

use fusebench_model::Scenario;
use fusebench_model::scenario::{Arrival, ChannelKind, FaultKind, FaultTarget, StoreKind};
use proptest::prelude::*;

use super::{Burst, InjectedFault, RATE_SCALE_MAX, Schedule};

/// A fault drawn before the case's duration is known: times are fractions (per mille) of the
/// case's active window, so every fault starts while the workload still sends traffic (drawn
/// over the declared duration instead, about half landed in the idle drain of shorter cases).
#[derive(Debug, Clone)]
struct Drawn {
    /// Which kind and target: an index into [`Targets::kinds`].
    pick: usize,
    /// A second index (replica, node, link, channel, store, swap) resolved per kind.
    which: u32,
    at_permille: u32,
    len_permille: u32,
    /// Intensity in 1..=20 (rate tenths, tens of milliseconds), read per kind.
    level: u32,
}

/// What this scenario offers each fault kind.
#[derive(Debug, Clone, Default)]
struct Targets {
    /// (service, replicas)
    services: Vec<(String, u32)>,
    nodes: Vec<String>,
    links: Vec<[String; 2]>,
    /// Every channel, sync ones included: duplication on a rest/grpc channel delivers the
    /// request twice on the wire.
    channels: Vec<String>,
    /// Channels carried by a broker: reordering is a broker delivery's jitter.
    async_channels: Vec<String>,
    /// Key-value stores with more than one replica: only they replicate, so only they lag.
    replicated: Vec<String>,
    /// (service, module) of every module swap the scenario declares: exploration swaps only to
    /// modules the scenario already names (and loads), at other times.
    swaps: Vec<(String, String)>,
}

/// The fault kinds exploration draws, each with a non-empty target list in this scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Crash,
    NodeCrash,
    Partition,
    LatencySpike,
    Loss,
    Duplication,
    Reorder,
    ReplicaLag,
    ModuleSwap,
}

impl Targets {
    fn of(s: &Scenario) -> Self {
        let swaps = s
            .faults
            .iter()
            .filter_map(|f| match (&f.kind, &f.target) {
                (FaultKind::ModuleSwap { module }, FaultTarget::Service { service, .. }) => {
                    Some((service.name.clone(), module.name.clone()))
                }
                _ => None,
            })
            .collect();
        Targets {
            services: s.services.iter().map(|x| (x.name.clone(), x.replicas)).collect(),
            nodes: s.nodes.iter().map(|n| n.name.clone()).collect(),
            links: s
                .links
                .iter()
                .map(|l| [l.between[0].name.clone(), l.between[1].name.clone()])
                .collect(),
            channels: s.channels.iter().map(|c| c.name.clone()).collect(),
            async_channels: s
                .channels
                .iter()
                .filter(|c| !c.kind.is_sync() || c.kind == ChannelKind::Queue)
                .map(|c| c.name.clone())
                .collect(),
            replicated: s
                .stores
                .iter()
                .filter(|st| st.kind == StoreKind::Kv && st.replicas > 1)
                .map(|st| st.name.clone())
                .collect(),
            swaps,
        }
    }

    fn kinds(&self) -> Vec<Kind> {
        let mut k = Vec::new();
        let mut add = |present: bool, kind: Kind| {
            if present {
                k.push(kind);
            }
        };
        add(!self.services.is_empty(), Kind::Crash);
        add(!self.nodes.is_empty() && !self.services.is_empty(), Kind::NodeCrash);
        add(!self.links.is_empty(), Kind::Partition);
        add(!self.links.is_empty(), Kind::LatencySpike);
        add(!self.links.is_empty(), Kind::Loss);
        add(!self.channels.is_empty(), Kind::Duplication);
        add(!self.async_channels.is_empty(), Kind::Reorder);
        add(!self.replicated.is_empty(), Kind::ReplicaLag);
        add(!self.swaps.is_empty(), Kind::ModuleSwap);
        k
    }
}

/// Tenths of a second, rounded down: the grid exploration's times live on.
fn tenths(x: f64) -> f64 {
    (x * 10.0).floor() / 10.0
}

/// Resolves a drawn fault inside a case of `duration_s`: it starts in `[0, duration_s)` and
/// lasts between 0.1 s and half the case.
fn resolve(t: &Targets, kinds: &[Kind], d: &Drawn, duration_s: f64) -> InjectedFault {
    let at_s = tenths(duration_s * f64::from(d.at_permille) / 1000.0).min(tenths(duration_s));
    let len_s = tenths(duration_s / 2.0 * f64::from(d.len_permille) / 1000.0).max(0.1);
    let pick = |n: usize| d.which as usize % n.max(1);
    let rate = f64::from(d.level.clamp(1, 10)) / 10.0;
    let ms = f64::from(d.level) * 10.0;
    match kinds[d.pick % kinds.len()] {
        Kind::Crash => {
            let (service, replicas) = &t.services[pick(t.services.len())];
            InjectedFault::Crash {
                service: service.clone(),
                replica: (d.which / 7) % (*replicas).max(1),
                at_s,
                restart_after_s: len_s,
            }
        }
        Kind::NodeCrash => InjectedFault::NodeCrash {
            node: t.nodes[pick(t.nodes.len())].clone(),
            at_s,
            restart_after_s: len_s,
        },
        Kind::Partition => InjectedFault::Partition {
            between: t.links[pick(t.links.len())].clone(),
            at_s,
            duration_s: len_s,
        },
        Kind::LatencySpike => InjectedFault::LatencySpike {
            between: t.links[pick(t.links.len())].clone(),
            at_s,
            duration_s: len_s,
            extra_ms: ms,
        },
        Kind::Loss => InjectedFault::Loss {
            between: t.links[pick(t.links.len())].clone(),
            at_s,
            duration_s: len_s,
            rate,
        },
        Kind::Duplication => InjectedFault::Duplication {
            channel: t.channels[pick(t.channels.len())].clone(),
            at_s,
            duration_s: len_s,
            rate,
        },
        Kind::Reorder => InjectedFault::Reorder {
            channel: t.async_channels[pick(t.async_channels.len())].clone(),
            at_s,
            duration_s: len_s,
            jitter_ms: ms,
        },
        Kind::ReplicaLag => InjectedFault::ReplicaLag {
            store: t.replicated[pick(t.replicated.len())].clone(),
            at_s,
            duration_s: len_s,
            extra_ms: ms * 10.0,
        },
        Kind::ModuleSwap => {
            let (service, module) = &t.swaps[pick(t.swaps.len())];
            InjectedFault::ModuleSwap { service: service.clone(), module: module.clone(), at_s }
        }
    }
}

/// The proptest strategy of schedules for `s`.
pub fn schedules(s: &Scenario) -> BoxedStrategy<Schedule> {
    let declared_s = s.workload.as_ref().map_or(1.0, |w| w.duration_s);
    let tenths_max = ((declared_s * 10.0).round() as u32).max(2);
    let targets = Targets::of(s);
    let kinds = targets.kinds();
    let drawn = (0..kinds.len().max(1), any::<u32>(), 0u32..1000, 0u32..=1000, 1u32..=20).prop_map(
        |(pick, which, at_permille, len_permille, level)| Drawn {
            pick,
            which,
            at_permille,
            len_permille,
            level,
        },
    );
    let faults = if kinds.is_empty() {
        Just(Vec::new()).boxed()
    } else {
        prop::collection::vec(drawn, 0..=4).boxed()
    };
    // Bursts: open-loop arrivals (poisson, constant) come in on/off bursts at the same mean
    // rate, so the peak concurrency is (on + off) / on times the declared one.
    let burstable = matches!(
        s.workload.as_ref().map(|w| &w.arrival),
        Some(Arrival::Poisson { .. } | Arrival::Constant { .. })
    );
    let burst = if burstable {
        prop::option::weighted(0.3, (1u32..=10, 1u32..=20))
            .prop_map(|b| {
                b.map(|(on, off)| Burst {
                    on_s: f64::from(on) / 10.0,
                    off_s: f64::from(off) / 10.0,
                })
            })
            .boxed()
    } else {
        Just(None).boxed()
    };
    (faults, 1..=tenths_max, 5u32..=(RATE_SCALE_MAX * 10.0) as u32, burst)
        .prop_map(move |(drawn, dur, scale, burst)| {
            let duration_s = f64::from(dur) / 10.0;
            let rate_scale = f64::from(scale) / 10.0;
            // A burst's partial last period can send up to one period's peak more than the
            // mean: kept only while that stays within what the up-front limit check allowed
            // for (the declared duration at the highest rate scale).
            let burst = burst.filter(|b| {
                rate_scale * (duration_s + b.on_s + b.off_s) <= RATE_SCALE_MAX * declared_s
            });
            Schedule {
                duration_s,
                rate_scale,
                burst,
                faults: drawn.iter().map(|d| resolve(&targets, &kinds, d, duration_s)).collect(),
                declared: false,
            }
        })
        .boxed()
}
