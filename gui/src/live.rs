//! A simulation running inside the GUI: the engine advanced in bounded slices per frame, the
//! trace read as it grows to count and animate traffic on the diagram's edges, and the report
//! once it ends. The rules of the simulation are all in `fusebench_sim`; this only drives it.

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_sim::report::Report;
use fusebench_sim::report::markdown;
use fusebench_sim::report::plots::PLOTS;
use fusebench_sim::setup::{self, ModuleFiles};
use fusebench_sim::time::SimTime;
use fusebench_sim::trace::{self, TraceError, TraceEvent, TraceLine, TraceMode};
use fusebench_sim::{RunOptions, RunResult, Sim};

use crate::diagram::{Diagram, NodeKind};
use crate::mesh_activity::MeshActivity;
use crate::mesh_config::MeshConfigs;
use crate::rollout_activity::RolloutActivity;

/// Events processed per frame at most, so a frame never blocks on a burst of events.
pub const EVENTS_PER_FRAME_MAX: u64 = 20_000;

/// Simulated seconds per wall-clock second; `None` runs as fast as the frame budget allows.
pub type Speed = Option<f64>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Paused,
    Running,
    Finished,
}

/// Something that travelled along an edge at a simulated moment (for the animation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hop {
    pub edge: usize,
    pub at: SimTime,
}

/// The run's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    pub seed: u64,
    /// Overrides the workload's duration, in seconds.
    pub duration_s: f64,
    pub speed: Speed,
}

/// A run in progress or finished.
pub struct LiveRun {
    pub settings: RunSettings,
    sim: Option<Sim>,
    pub state: RunState,
    pub end: SimTime,
    /// Where the trace has been read up to (bytes).
    read: usize,
    /// Which service each live invocation belongs to.
    invocations: BTreeMap<u64, usize>,
    /// Hops seen per diagram edge over the whole run.
    pub traffic: Vec<u64>,
    /// The most recent hops, newest last (bounded).
    pub recent: Vec<Hop>,
    /// What the service mesh refused and ejected so far.
    pub mesh: MeshActivity,
    /// The control plane's pushes so far and the configuration each proxy applied over time.
    pub configs: MeshConfigs,
    /// What the rollouts did so far: timelines, replicas per version over time.
    pub rollouts: RolloutActivity,
    /// Trace lines read so far (events shown).
    pub events: u64,
    /// The first trace line that could not be read back (a simulator bug: shown, not hidden;
    /// the line is counted but animates nothing).
    pub trace_error: Option<TraceError>,
    /// The final report, once the run ended.
    pub report: Option<Report>,
    /// The finished run (for exporting its trace).
    pub result: Option<RunResult>,
    now: SimTime,
    /// The report as Markdown, rendered once when the run ends.
    pub report_md: Option<String>,
}

impl std::fmt::Debug for LiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRun")
            .field("settings", &self.settings)
            .field("state", &self.state)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Hops kept for the animation.
const RECENT_MAX: usize = 400;

impl LiveRun {
    /// Prepares a run of `scenario` (paused at time 0).
    ///
    /// # Errors
    /// A module the host rejects.
    pub fn new(
        scenario: &Scenario,
        files: &ModuleFiles,
        diagram: &Diagram,
        settings: RunSettings,
    ) -> Result<LiveRun, String> {
        let runtime = setup::build_runtime(scenario, files).map_err(|e| e.to_string())?;
        let mut options = RunOptions::new(settings.seed);
        options.trace = TraceMode::Full;
        options.duration = Some(SimTime::from_secs_f64(settings.duration_s));
        let sim = Sim::new(scenario.clone(), Box::new(runtime), &options);
        let end = sim.end_time();
        Ok(LiveRun {
            settings,
            sim: Some(sim),
            state: RunState::Paused,
            end,
            read: 0,
            invocations: BTreeMap::new(),
            traffic: vec![0; diagram.edges.len()],
            recent: Vec::new(),
            mesh: MeshActivity::new(diagram, end),
            configs: MeshConfigs::new(),
            rollouts: RolloutActivity::new(end),
            events: 0,
            trace_error: None,
            report: None,
            result: None,
            now: SimTime::ZERO,
            report_md: None,
        })
    }

    /// Virtual time now.
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The time series so far.
    #[must_use]
    pub fn samples(&self) -> &[fusebench_sim::metrics::Sample] {
        match (&self.sim, &self.report) {
            (Some(sim), _) => sim.series(),
            (None, Some(r)) => &r.series,
            (None, None) => &[],
        }
    }

    /// Fraction of the run done.
    #[must_use]
    pub fn progress(&self) -> f32 {
        if self.end.nanos() == 0 {
            1.0
        } else {
            (self.now.as_secs_f64() / self.end.as_secs_f64()).clamp(0.0, 1.0) as f32
        }
    }

    /// Advances by `wall_dt_s` seconds of wall time at the set speed (bounded per frame).
    pub fn advance(&mut self, wall_dt_s: f64, diagram: &Diagram) {
        if self.state != RunState::Running {
            return;
        }
        let Some(sim) = &mut self.sim else { return };
        // From the time shown, not the last event's: between sparse events the clock must
        // still move, or a slow speed would never reach the next one.
        let target = match self.settings.speed {
            Some(speed) => self.now + SimTime::from_secs_f64((wall_dt_s * speed).max(0.0)).nanos(),
            None => self.end,
        };
        sim.run_until_bounded(target, EVENTS_PER_FRAME_MAX);
        // Time moves on to the target even when no event falls in between.
        self.now = if sim.next_event_time().is_some_and(|t| t <= target) {
            sim.now()
        } else {
            target.min(self.end).max(sim.now())
        };
        let over = sim.next_event_time().is_none();
        self.read_trace(diagram);
        if over {
            self.finish(diagram);
        }
    }

    /// Processes exactly one event (paused stepping).
    pub fn step(&mut self, diagram: &Diagram) {
        let Some(sim) = &mut self.sim else { return };
        if sim.step() {
            self.now = sim.now();
            self.read_trace(diagram);
        } else {
            self.finish(diagram);
        }
    }

    fn finish(&mut self, diagram: &Diagram) {
        let Some(sim) = self.sim.take() else { return };
        let scenario = sim.scenario().clone();
        let result = sim.finish();
        self.now = self.end;
        let report = Report::new(&result, &scenario);
        self.report_md = Some(markdown::render(&report, &PLOTS));
        self.report = Some(report);
        self.result = Some(result);
        self.state = RunState::Finished;
        self.read_result_trace(diagram);
    }

    /// The trace lines the finished result holds beyond what was read live (the run-end line).
    fn read_result_trace(&mut self, diagram: &Diagram) {
        let Some(result) = self.result.take() else { return };
        let read = self.read;
        self.read_lines(&result.trace[read.min(result.trace.len())..], diagram);
        self.read = result.trace.len();
        self.result = Some(result);
    }

    fn read_trace(&mut self, diagram: &Diagram) {
        let Some(sim) = self.sim.take() else { return };
        let lines = sim.trace_lines();
        let new = &lines[self.read.min(lines.len())..];
        // Only whole lines: the last one always ends in a newline.
        self.read_lines(new, diagram);
        self.read = lines.len();
        self.sim = Some(sim);
    }

    fn read_lines(&mut self, bytes: &[u8], diagram: &Diagram) {
        // `events` counts every line read so far: errors name the line in the whole trace.
        let lines_before = usize::try_from(self.events).unwrap_or(usize::MAX);
        for line in trace::read(bytes).numbered_after(lines_before) {
            self.events += 1;
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    self.trace_error.get_or_insert(e);
                    continue;
                }
            };
            self.mesh.note(&line, diagram);
            self.configs.note(&line);
            self.rollouts.note(&line);
            for hop in hops(&line, diagram, &mut self.invocations) {
                if let Some(n) = self.traffic.get_mut(hop.edge) {
                    *n += 1;
                }
                self.recent.push(hop);
            }
        }
        if self.recent.len() > RECENT_MAX {
            let cut = self.recent.len() - RECENT_MAX;
            self.recent.drain(..cut);
        }
    }
}

/// The edges a trace event travels along (a request arriving, a call, a store access, a
/// publication, a delivery). `invocations` tracks which service runs each invocation.
pub fn hops(
    line: &TraceLine,
    diagram: &Diagram,
    invocations: &mut BTreeMap<u64, usize>,
) -> Vec<Hop> {
    let at = line.t;
    let edge = |from: Option<usize>, to: Option<usize>| {
        from.zip(to).and_then(|(a, b)| diagram.edge_between(a, b)).map(|edge| Hop { edge, at })
    };
    match &line.event {
        TraceEvent::Arrival { service, .. } => {
            let client = diagram.fixed(NodeKind::Client);
            let gateway = diagram.fixed(NodeKind::Gateway);
            [edge(client, gateway), edge(gateway, diagram.service(service))]
                .into_iter()
                .flatten()
                .collect()
        }
        TraceEvent::InvocationStart { inv, service, .. } => {
            if let Some(svc) = diagram.service(service) {
                invocations.insert(*inv, svc);
            }
            Vec::new()
        }
        TraceEvent::InvocationEnd { inv, .. } => {
            invocations.remove(inv);
            Vec::new()
        }
        TraceEvent::HostOp { inv, op, target } => {
            let from = invocations.get(inv).copied();
            let to = match op.as_str() {
                "call" => diagram.service(target.split('.').next().unwrap_or_default()),
                "publish" => diagram.broker_of(target),
                _ => diagram.store(target),
            };
            edge(from, to).into_iter().collect()
        }
        TraceEvent::Deliver { channel, group, .. } => {
            let broker = diagram.broker_of(channel);
            let consumer = diagram.consumer(channel, group);
            edge(broker, consumer).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One abstract service, one request a second: long gaps between events.
    pub(crate) const SPARSE: &str = r#"
[system]
name = "sparse"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[service]]
name = "s"
context = "c"
node = "n"
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "e"
  method = "GET"
  path = "/e"
  public = true
[workload]
duration_s = 4
arrival = { kind = "constant", rate_rps = 1 }
  [[workload.mix]]
  service = "s"
  endpoint = "e"
"#;

    fn run(speed: Speed) -> (LiveRun, Diagram) {
        let s = fusebench_model::parse("sparse.toml", SPARSE).ok().expect("parses");
        let d = Diagram::new(&s);
        let settings = RunSettings { seed: 1, duration_s: 4.0, speed };
        let mut r = LiveRun::new(&s, &ModuleFiles::new(), &d, settings).expect("runs");
        r.state = RunState::Running;
        (r, d)
    }

    #[test]
    fn a_slow_run_crosses_long_gaps_between_events() {
        let (mut r, d) = run(Some(0.5));
        let mut last = SimTime::ZERO;
        // 60 frames a second of wall time, 20 s of it: 10 s simulated at half speed.
        for _ in 0..1200 {
            r.advance(1.0 / 60.0, &d);
            assert!(r.now() >= last, "time never goes back");
            last = r.now();
        }
        assert!(r.now().as_secs_f64() > 8.0, "reached {:?}", r.now());
        assert!(r.traffic.iter().sum::<u64>() >= 3, "requests were seen on the edges");
    }

    #[test]
    fn an_arrival_travels_from_the_client_through_the_gateway_to_its_service() {
        let (mut r, d) = run(None);
        r.read_lines(
            b"{\"t\":7,\"ev\":\"arrival\",\"req\":1,\"service\":\"s\",\"endpoint\":\"e\",\"body\":\"{}\"}\n",
            &d,
        );
        let client = d.fixed(NodeKind::Client).expect("client");
        let gateway = d.fixed(NodeKind::Gateway).expect("gateway");
        let service = d.service("s").expect("s");
        let expected: Vec<Hop> = [(client, gateway), (gateway, service)]
            .into_iter()
            .map(|(a, b)| Hop { edge: d.edge_between(a, b).expect("edge"), at: SimTime(7) })
            .collect();
        assert_eq!(r.recent, expected);
        assert_eq!(r.events, 1);
        assert!(r.trace_error.is_none());
    }

    #[test]
    fn a_trace_line_that_does_not_read_back_is_kept_as_an_error() {
        let (mut r, d) = run(None);
        r.read_lines(b"{\"t\":1,\"ev\":\"run_end\",\"events\":1}\n", &d);
        r.read_lines(b"not a trace line\n{\"t\":2,\"ev\":\"nope\"}\n", &d);
        assert_eq!(r.events, 3, "every line is counted");
        let e = r.trace_error.as_ref().expect("an error");
        assert!(
            e.to_string().starts_with("trace line 2, column"),
            "the first, in the whole trace: {e}"
        );
    }

    #[test]
    fn at_max_speed_a_run_ends_and_reports() {
        let (mut r, d) = run(None);
        for _ in 0..100 {
            r.advance(1.0 / 60.0, &d);
        }
        assert_eq!(r.state, RunState::Finished);
        let report = r.report.as_ref().expect("report");
        assert_eq!(report.requests_sent, 3, "one a second, from t = 1 s, before t = 4 s");
        assert!(r.report_md.as_ref().is_some_and(|m| m.contains("sparse")));
        assert_eq!(r.now(), r.end);
    }
}
