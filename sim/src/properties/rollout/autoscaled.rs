//! A rollout of an autoscaled service, as a Deployment under an HPA rolls: the HPA's decisions
//! during the rollout move the desired count, the controller applies surge and unavailability
//! to the desired count of each moment, and new replicas run the new version — during a
//! scale-up and during a scale-down, with `rollout-safe` holding on these correct designs.

use std::collections::BTreeMap;

use super::super::Status;
use super::super::tests::verdict_of;
use super::tests::{GOOD_V2, design, lines, rollout, run};
use crate::trace::TraceEvent;
use crate::trace::rollout::timelines;

/// `cat` autoscaled on concurrency (target 1 per replica, every 0.5 s, no scale-down
/// stabilisation), each request holding its replica 50 ms; rolled out at 0.2 s.
fn autoscaled(replicas: u32, rps: u32, limits: &str) -> fusebench_model::Scenario {
    let scale = "[service.service_time]\ndistribution = { dist = \"constant\", ms = 50.0 }\nresource = \"wait\"\n[service.autoscale]\nmin_replicas = 2\nmax_replicas = 8\nmetric = \"concurrency\"\ntarget = 1\ninterval_s = 0.5\nscale_down_stabilisation_s = 0\nstartup_ms = 100\n";
    // It starts before the HPA's first decision (at 0.5 s).
    design(replicas, rps, scale, &rollout("rolling", limits).replace("at_s = 1\n", "at_s = 0.2\n"))
}

/// Kubernetes' resolution of unset limits against the desired count.
fn limits(desired: u32, surge: Option<u32>, unavailable: Option<u32>) -> (u32, u32) {
    (surge.unwrap_or(desired.div_ceil(4)), unavailable.unwrap_or(desired / 4))
}

/// What the trace says of the rollout against the HPA: its desired counts during it, and
/// every instant where the replicas broke the surge (placed and not retired above desired +
/// surge) or the controller retired a ready old replica below desired − unavailability.
struct Replayed {
    desired: Vec<u32>,
    broken: Vec<String>,
    /// Replicas placed at the end, and how many run the new version.
    end: (usize, usize),
    /// The most replicas on the new version ready at once.
    most_new: usize,
    /// New-version replicas the controller took away while rolling.
    new_retired: usize,
}

fn replay(r: &crate::system::RunResult, surge: Option<u32>, unavailable: Option<u32>) -> Replayed {
    let mut state: BTreeMap<u32, String> = BTreeMap::new();
    let mut version: BTreeMap<u32, u32> = BTreeMap::new();
    let mut retired: BTreeMap<u32, ()> = BTreeMap::new();
    let (mut desired, mut rolling, mut new) = (0u32, false, 0u32);
    let mut seen = Vec::new();
    let mut broken = Vec::new();
    let (mut most_new, mut new_retired) = (0, 0);
    let all = lines(r);
    let mut i = 0;
    while i < all.len() {
        let t = all[i].t;
        let mut rescaled = false;
        let mut retired_ready_old = false;
        while i < all.len() && all[i].t == t {
            match &all[i].event {
                TraceEvent::ReplicaState { service, replica, state: s } if service == "cat" => {
                    state.insert(*replica, s.clone());
                    if s == "starting" || s == "stopped" {
                        retired.remove(replica);
                    }
                }
                TraceEvent::Scale { service, to, .. } if service == "cat" && rolling => {
                    desired = *to;
                    seen.push(*to);
                    rescaled = true;
                }
                TraceEvent::Rollout { step, replica, version: v, desired: d, .. } => {
                    match step.as_str() {
                        "started" => {
                            (desired, rolling, new) = (*d, true, *v);
                            seen.push(desired);
                        }
                        "finished" => rolling = false,
                        "starting" => {
                            version.insert(*replica, *v);
                        }
                        "terminating" => {
                            retired.insert(*replica, ());
                            retired_ready_old |= *v != new;
                            new_retired += usize::from(*v == new && rolling);
                        }
                        "stopped" => new_retired += usize::from(*v == new && rolling),
                        _ => {}
                    }
                }
                _ => {}
            }
            i += 1;
        }
        let ready_new = state
            .iter()
            .filter(|(p, st)| st.as_str() == "ready" && version.get(p) == Some(&new))
            .count();
        most_new = most_new.max(ready_new);
        if !rolling {
            continue;
        }
        let (s, u) = limits(desired, surge, unavailable);
        let live = |want: &[&str]| {
            state
                .iter()
                .filter(|(p, st)| want.contains(&st.as_str()) && !retired.contains_key(p))
                .count() as u32
        };
        let placed = live(&["starting", "ready", "down"]);
        if placed > desired + s {
            broken.push(format!("{t:?}: {placed} placed > {desired} + {s}"));
        }
        let ready = live(&["ready"]);
        if retired_ready_old && !rescaled && ready < desired.saturating_sub(u) {
            broken.push(format!(
                "{t:?}: retired an old replica leaving {ready} ready < {desired} − {u}"
            ));
        }
    }
    let placed: Vec<u32> = state
        .iter()
        .filter(|(_, s)| matches!(s.as_str(), "ready" | "starting"))
        .map(|(p, _)| *p)
        .collect();
    let on_new = placed.iter().filter(|p| version.get(p) == Some(&new)).count();
    Replayed { desired: seen, broken, end: (placed.len(), on_new), most_new, new_retired }
}

fn rolls_safely(
    s: &fusebench_model::Scenario,
    surge: Option<u32>,
    unavailable: Option<u32>,
) -> Vec<Replayed> {
    let mut out = Vec::new();
    for seed in [1, 2, 3] {
        let r = run(s, GOOD_V2, seed);
        let v = verdict_of(s, &r, "rollout-safe");
        assert_eq!(v.status, Status::Held, "seed {seed}: {:?}", v.findings);
        let tl = timelines(&lines(&r));
        assert!(tl.iter().all(|t| t.finished.is_some()), "seed {seed}: {tl:?}");
        let replayed = replay(&r, surge, unavailable);
        assert!(replayed.broken.is_empty(), "seed {seed}: {:?}", replayed.broken);
        // Every replica left runs the new version.
        assert_eq!(replayed.end.0, replayed.end.1, "seed {seed}: {:?}", replayed.end);
        out.push(replayed);
    }
    out
}

#[test]
fn a_rollout_during_a_scale_up_grows_the_new_version() {
    // 2 replicas under 200 rps × 50 ms (10 busy): the HPA raises the desired count while the
    // rollout rolls, and the replicas it adds start on the new version (once the load is over
    // it scales back down, on the new version too).
    let s = autoscaled(2, 200, "");
    for r in rolls_safely(&s, None, None) {
        let (first, most) = (r.desired[0], *r.desired.iter().max().expect("a desired count"));
        assert!(most > first, "the desired count rose during the rollout: {:?}", r.desired);
        assert!(r.most_new > 2, "the new version grew past the 2 it began with: {}", r.most_new);
    }
}

#[test]
fn a_rollout_during_a_scale_down_shrinks_to_the_desired_count() {
    // 8 replicas under 20 rps × 50 ms (1 busy), 4 new ones starting (600 ms) when the HPA
    // lowers the desired count to 2: the new ones above it go as well as the old ones, and no
    // limit is broken.
    let limits = "max_surge = 4\nmax_unavailable = 1";
    let s = autoscaled(8, 20, limits);
    let s = {
        let mut s = s;
        s.rollouts[0].startup_ms = 600.0;
        s
    };
    for r in rolls_safely(&s, Some(4), Some(1)) {
        let (first, least) = (r.desired[0], *r.desired.iter().min().expect("a desired count"));
        assert!(least < first, "the desired count fell during the rollout: {:?}", r.desired);
        assert!(r.new_retired > 0, "new replicas above the desired count went");
        assert!(r.end.0 < 8, "it ends smaller than it began: {:?}", r.end);
    }
}

#[test]
fn an_autoscaled_rollout_to_a_trapping_module_still_fails() {
    // The composition does not hide a broken new version.
    let s = autoscaled(2, 200, "");
    let r = run(&s, "", 1);
    let v = verdict_of(&s, &r, "rollout-safe");
    assert_eq!(v.status, Status::Failed, "{v:#?}");
}
