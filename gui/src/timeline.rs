//! A counterexample as a timeline: the story around the violation (from the recorded trace of
//! the shrunk case: the causal chain of the violating requests, the faults active then, the
//! events near it), the faults as intervals, swim lanes per service or
//! store, and a cursor that replays the run to any moment — what had happened by then, which
//! faults were active, which nodes and edges were involved just before.

use std::collections::{BTreeMap, BTreeSet};

use fusebench_sim::explore::CaseOutcome;
use fusebench_sim::explore::replay::{Role, describe, describe_injected, story};
use fusebench_sim::properties::{PROPERTIES, PropertyInfo, Verdict, summary_of};
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::TraceEvent;

use crate::diagram::Diagram;
use crate::live::hops;

/// Story events kept at most.
pub const STORY_MAX: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A fault begins or ends, or the host refused a guest something.
    Fault,
    /// A guest faulted.
    GuestFault,
    Normal,
}

#[derive(Debug, Clone)]
pub struct StoryEvent {
    pub at: SimTime,
    pub text: String,
    pub mark: Mark,
    /// Part of the violating causal chain (the requests, invocations, calls and messages the
    /// failed verdicts name, and what they caused or were caused by).
    pub chain: bool,
    /// Swim lane (index into `lanes`), if the event belongs to one element.
    pub lane: Option<usize>,
    pub nodes: Vec<usize>,
    pub edges: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct FaultSpan {
    pub label: String,
    pub start: SimTime,
    pub end: SimTime,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    pub verdicts: Vec<Verdict>,
    pub seed: u64,
    pub shrink_steps: usize,
    /// The check's case this is, run again as explored (not shrunk), when it is not the
    /// counterexample: a property the counterexample does not show failed in it.
    pub explored_case: Option<usize>,
    /// The schedule, described (duration, rate, injected faults).
    pub schedule: Vec<String>,
    pub events: Vec<StoryEvent>,
    pub lanes: Vec<String>,
    pub faults: Vec<FaultSpan>,
    /// When the violation shows (`None`: it has no single moment, e.g. a percentile).
    pub violation_at: Option<SimTime>,
    /// The faults active when the violation showed, in words.
    pub faults_at_violation: Vec<String>,
    /// What each property asserts, the scenario's own included (`properties::catalogue`);
    /// empty until the workbench fills it, when the built-in summaries are shown.
    pub summaries: Vec<PropertyInfo>,
    pub end: SimTime,
    pub trace_hash: String,
    /// The replay position.
    pub cursor: SimTime,
}

/// The swim lane an event belongs to: the service, store or consumer group it happens at.
fn lane_name(event: &TraceEvent) -> Option<&str> {
    match event {
        TraceEvent::Registered { service, .. }
        | TraceEvent::Deregistered { service, .. }
        | TraceEvent::Arrival { service, .. }
        | TraceEvent::Rejected { service, .. }
        | TraceEvent::InvocationStart { service, .. }
        | TraceEvent::GuestFault { service, .. }
        | TraceEvent::Log { service, .. }
        | TraceEvent::Response { service, .. }
        | TraceEvent::ReplicaDown { service, .. }
        | TraceEvent::ReplicaUp { service, .. }
        | TraceEvent::Scale { service, .. }
        | TraceEvent::ReplicaState { service, .. }
        | TraceEvent::Activator { service, .. }
        | TraceEvent::ColdStart { service, .. }
        | TraceEvent::PolicyFault { service, .. }
        | TraceEvent::Rollout { service, .. }
        | TraceEvent::Ejected { service, .. }
        | TraceEvent::LimitHit { service, .. }
        | TraceEvent::OomKilled { service, .. } => Some(service),
        // A mesh refusal belongs to the proxy that refused: the gateway or a sidecar's service.
        TraceEvent::MeshRefused { caller, .. } | TraceEvent::MeshFault { caller, .. } => {
            Some(caller)
        }
        TraceEvent::MeshFilter { proxy, .. } | TraceEvent::MeshRoute { proxy, .. } => Some(proxy),
        TraceEvent::StoreWrite { store, .. }
        | TraceEvent::StoreApply { store, .. }
        | TraceEvent::StoreRead { store, .. }
        | TraceEvent::StoreAcked { store, .. }
        | TraceEvent::ReplicaMissed { store, .. } => Some(store),
        // The store, cache or broker that gave no answer.
        TraceEvent::OpTimeout { target, .. } => Some(target),
        TraceEvent::CacheWrite { cache, .. }
        | TraceEvent::CacheDelete { cache, .. }
        | TraceEvent::CacheEvict { cache, .. }
        | TraceEvent::CacheRead { cache, .. }
        | TraceEvent::CacheLookup { cache, .. } => Some(cache),
        TraceEvent::Deliver { group, .. }
        | TraceEvent::Acked { group, .. }
        | TraceEvent::Nacked { group, .. } => Some(group),
        TraceEvent::RunStart { .. }
        | TraceEvent::WorkOf { .. }
        | TraceEvent::Dropped { .. }
        | TraceEvent::HostOp { .. }
        | TraceEvent::Refused { .. }
        | TraceEvent::InvocationEnd { .. }
        | TraceEvent::CallRetry { .. }
        | TraceEvent::CallStart { .. }
        | TraceEvent::CallFailed { .. }
        | TraceEvent::Publish { .. }
        | TraceEvent::FaultStart { .. }
        | TraceEvent::FaultEnd { .. }
        | TraceEvent::JourneyStart { .. }
        | TraceEvent::JourneyStep { .. }
        | TraceEvent::Sidecar { .. }
        | TraceEvent::GatewayTry { .. }
        | TraceEvent::JourneyEnd { .. }
        | TraceEvent::RunEnd { .. } => None,
    }
}

/// Highlights this long before the cursor (a fraction of the run).
const WINDOW_FRACTION: f64 = 0.02;

impl Timeline {
    #[must_use]
    pub fn new(case: &CaseOutcome, shrink_steps: usize, diagram: &Diagram) -> Timeline {
        let (raw, violation_at, faults_at_violation, unreadable) = match story(case, STORY_MAX) {
            Ok(story) => {
                let active = story.active_faults.iter().map(describe).collect();
                (story.lines, story.at, active, None)
            }
            Err(e) => (Vec::new(), None, Vec::new(), Some(e)),
        };
        let mut lanes: Vec<String> = Vec::new();
        let mut lane_of = BTreeMap::new();
        let mut invocations = BTreeMap::new();
        let mut open: BTreeMap<usize, (String, SimTime)> = BTreeMap::new();
        let mut faults = Vec::new();
        let mut events = Vec::new();
        for story_line in &raw {
            let line = &story_line.line;
            let at = line.t;
            let name = lane_name(&line.event).map(str::to_owned);
            let lane = name.as_ref().map(|n| {
                *lane_of.entry(n.clone()).or_insert_with(|| {
                    lanes.push(n.clone());
                    lanes.len() - 1
                })
            });
            let mark = match &line.event {
                TraceEvent::FaultStart { .. }
                | TraceEvent::FaultEnd { .. }
                | TraceEvent::Refused { .. } => Mark::Fault,
                TraceEvent::GuestFault { .. } => Mark::GuestFault,
                _ => Mark::Normal,
            };
            match &line.event {
                TraceEvent::FaultStart { index, kind } => {
                    open.insert(*index, (kind.clone(), at));
                }
                TraceEvent::FaultEnd { index, .. } => {
                    if let Some((label, start)) = open.remove(index) {
                        faults.push(FaultSpan { label, start, end: at });
                    }
                }
                _ => {}
            }
            let hop_edges: Vec<usize> =
                hops(line, diagram, &mut invocations).into_iter().map(|h| h.edge).collect();
            let mut nodes: BTreeSet<usize> = name.iter().filter_map(|n| diagram.named(n)).collect();
            nodes.extend(hop_edges.iter().flat_map(|&i| {
                let edge = &diagram.edges[i];
                [edge.from, edge.to]
            }));
            events.push(StoryEvent {
                at,
                text: describe(line),
                mark,
                chain: story_line.role == Role::Chain,
                lane,
                nodes: nodes.into_iter().collect(),
                edges: hop_edges,
            });
        }
        if let Some(e) = unreadable {
            // A simulator bug, not a property of the design: said where the story would be.
            events.push(StoryEvent {
                at: case.run.end,
                text: format!("the run's trace could not be read back: {e}"),
                mark: Mark::Fault,
                chain: false,
                lane: None,
                nodes: Vec::new(),
                edges: Vec::new(),
            });
        }
        let end = case.run.end;
        faults.extend(open.into_values().map(|(label, start)| FaultSpan { label, start, end }));
        faults.sort_by_key(|f| (f.start, f.end));
        let s = &case.schedule;
        let mut schedule = vec![format!(
            "{}{:.1} s at {:.0} % of the declared rate, seed {}",
            if s.declared { "the declared scenario, " } else { "" },
            s.duration_s,
            s.rate_scale * 100.0,
            case.seed
        )];
        schedule.extend(s.faults.iter().map(|f| format!("+ {}", describe_injected(f))));
        Timeline {
            verdicts: case.verdicts.clone(),
            seed: case.seed,
            shrink_steps,
            explored_case: None,
            schedule,
            events,
            lanes,
            faults,
            violation_at,
            faults_at_violation,
            summaries: Vec::new(),
            end,
            trace_hash: case.trace_hash.clone(),
            // At the end the whole story has happened and the property was judged.
            cursor: end,
        }
    }

    /// Moves the cursor (clamped to the run).
    pub fn scrub(&mut self, t: SimTime) {
        self.cursor = t.min(self.end);
    }

    /// Events up to the cursor.
    #[must_use]
    pub fn happened(&self) -> &[StoryEvent] {
        let n = self.events.partition_point(|e| e.at <= self.cursor);
        &self.events[..n]
    }

    /// Faults active at the cursor.
    pub fn active_faults(&self) -> impl Iterator<Item = &FaultSpan> {
        self.faults.iter().filter(|f| f.start <= self.cursor && self.cursor < f.end)
    }

    /// Nodes and edges involved just before the cursor.
    #[must_use]
    pub fn highlighted(&self) -> (BTreeSet<usize>, BTreeSet<usize>) {
        let window = SimTime::from_secs_f64(self.end.as_secs_f64() * WINDOW_FRACTION);
        let from = SimTime(self.cursor.nanos().saturating_sub(window.nanos()));
        let mut nodes = BTreeSet::new();
        let mut edges = BTreeSet::new();
        for e in self.happened().iter().rev().take_while(|e| e.at >= from) {
            nodes.extend(e.nodes.iter().copied());
            edges.extend(e.edges.iter().copied());
        }
        (nodes, edges)
    }

    /// The violated properties with their summaries.
    pub fn violated(&self) -> impl Iterator<Item = (&Verdict, &str)> {
        self.verdicts.iter().filter(|v| v.failed()).map(|v| {
            let own = summary_of(&self.summaries, &v.id);
            (v, if own.is_empty() { summary_of(PROPERTIES, &v.id) } else { own })
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use fusebench_sim::explore::Schedule;
    use fusebench_sim::runtime::Runtime;
    use fusebench_sim::trace::{Trace, TraceMode};
    use fusebench_sim::{RunOptions, Sim};

    use super::*;

    /// The timeline of a run of the sparse scenario whose trace is `trace`, with a failed
    /// verdict about service `s`.
    pub(crate) fn timeline_of(trace: Vec<u8>) -> Timeline {
        timeline_with(trace, &["s"], None)
    }

    /// The same, with a failed verdict naming `subjects` and dated `at`.
    fn timeline_with(trace: Vec<u8>, subjects: &[&str], at: Option<SimTime>) -> Timeline {
        let s = fusebench_model::parse("sparse.toml", crate::live::tests::SPARSE)
            .scenario
            .expect("parses");
        let d = Diagram::new(&s);
        let mut options = RunOptions::new(1);
        options.trace = TraceMode::Off;
        let mut run = Sim::new(s.clone(), Box::new(Runtime::default()), &options).run();
        run.trace = trace;
        let verdict = Verdict {
            id: "no-loss".into(),
            status: fusebench_sim::properties::Status::Failed,
            findings: vec!["lost".into()],
            notes: Vec::new(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            at,
        };
        let case = CaseOutcome {
            seed: 1,
            schedule: Schedule::declared(&s),
            verdicts: vec![verdict],
            trace_hash: run.trace_hash.clone(),
            run,
        };
        Timeline::new(&case, 0, &d)
    }

    /// Events written by the simulator's own writer, a millisecond apart.
    pub(crate) fn written(events: &[TraceEvent<&str>]) -> Vec<u8> {
        let mut trace = Trace::new(TraceMode::Full);
        for (i, e) in events.iter().enumerate() {
            trace.emit(SimTime(i as u64 * 1_000_000), e);
        }
        trace.lines().to_vec()
    }

    #[test]
    fn a_violated_property_is_told_with_its_own_summary_when_the_scenario_states_it() {
        let mut tl = timeline_of(Vec::new());
        let builtin: Vec<String> = tl.violated().map(|(_, s)| s.to_owned()).collect();
        assert_eq!(builtin, [summary_of(PROPERTIES, "no-loss").to_owned()]);
        tl.summaries =
            vec![PropertyInfo { id: "no-loss".into(), summary: "the scenario's own words".into() }];
        let own: Vec<String> = tl.violated().map(|(_, s)| s.to_owned()).collect();
        assert_eq!(own, ["the scenario's own words"]);
    }

    #[test]
    fn faults_become_spans_and_events_take_their_lanes() {
        let tl = timeline_of(written(&[
            TraceEvent::FaultStart { index: 0, kind: "partition" },
            TraceEvent::Arrival { req: 1, service: "s", endpoint: "e", body: Default::default() },
            TraceEvent::GuestFault { inv: 1, service: "s", cause: "trap", input: "{}" },
            TraceEvent::FaultEnd { index: 0, kind: "partition" },
        ]));
        let marks: Vec<Mark> = tl.events.iter().map(|e| e.mark).collect();
        assert_eq!(marks, [Mark::Fault, Mark::Normal, Mark::GuestFault, Mark::Fault]);
        assert_eq!(tl.lanes, ["s"]);
        assert_eq!(tl.events[1].lane, Some(0));
        assert_eq!(tl.events[1].edges.len(), 2, "client → gateway → s");
        assert_eq!(tl.faults.len(), 1);
        let span = &tl.faults[0];
        assert_eq!(
            (span.label.as_str(), span.start, span.end),
            ("partition", SimTime(0), SimTime(3_000_000))
        );
    }

    #[test]
    fn a_dated_violation_marks_its_chain_and_the_faults_active_then() {
        let tl = timeline_with(
            written(&[
                TraceEvent::FaultStart { index: 0, kind: "partition" },
                TraceEvent::Arrival {
                    req: 1,
                    service: "s",
                    endpoint: "e",
                    body: Default::default(),
                },
                TraceEvent::GuestFault { inv: 1, service: "s", cause: "trap", input: "{}" },
                TraceEvent::FaultEnd { index: 0, kind: "partition" },
            ]),
            &["inv:1", "s"],
            Some(SimTime(2_000_000)),
        );
        assert_eq!(tl.violation_at, Some(SimTime(2_000_000)));
        assert_eq!(tl.faults_at_violation.len(), 1, "{:?}", tl.faults_at_violation);
        assert!(tl.faults_at_violation[0].contains("partition"), "{:?}", tl.faults_at_violation);
        let chain: Vec<bool> = tl.events.iter().map(|e| e.chain).collect();
        // The fault's end comes after the story's window (which ends at the violation).
        assert_eq!(chain, [false, false, true], "only the guest fault of invocation 1");
        assert!(tl.schedule.iter().all(|l| !l.contains('{')), "{:?}", tl.schedule);
    }

    #[test]
    fn an_unreadable_trace_is_told_not_hidden() {
        let tl = timeline_of(b"{\"t\":1,\"ev\":\"fault_start\"}\n".to_vec());
        assert_eq!(tl.events.len(), 1);
        assert_eq!(tl.events[0].mark, Mark::Fault);
        assert!(tl.events[0].text.contains("trace line 1"), "{}", tl.events[0].text);
    }
}
