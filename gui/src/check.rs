//! The dynamic properties, explored in a background thread (exploration runs many whole
//! simulations) while the UI keeps drawing; the result comes back over a channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use fusebench_model::Scenario;
use fusebench_sim::explore::{self, CaseOutcome, PropertySummary, Shrinking};
use fusebench_sim::properties::Verdict;
use fusebench_sim::setup::ModuleFiles;

use fusebench_sim::limits::Limits;

use crate::findings::Finding;

/// The wall-time budget of shrinking a counterexample (`fusebench check`'s default).
const SHRINK_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// What exploration found.
#[derive(Debug, Clone)]
pub struct DynamicResult {
    pub cases: usize,
    pub failing: usize,
    pub seed: u64,
    /// The declared scenario's verdicts (case 0).
    pub declared: Vec<Verdict>,
    /// Every property over every case: what the properties panel lists.
    pub summary: Vec<PropertySummary>,
    /// The verdict shown for each property (its first failure, shrunk when the counterexample
    /// still fails it): what the diagram badges.
    pub shown: Vec<Verdict>,
    /// The shrunk counterexample and its shrink runs, if a case failed.
    pub counterexample: Option<(CaseOutcome, usize)>,
    /// How the counterexample was shrunk (from which case, whether the budget stopped it).
    pub shrinking: Option<Shrinking>,
    /// The failed verdicts mapped to diagram elements (filled in when the result is taken).
    pub findings: Vec<Finding>,
}

impl DynamicResult {
    /// One verdict per property, over every case: failed when it failed in any case.
    #[must_use]
    pub fn verdicts(&self) -> &[Verdict] {
        &self.shown
    }

    /// No property failed in any case.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.summary.iter().all(PropertySummary::passed)
    }
}

/// An exploration in progress.
#[derive(Debug)]
pub struct CheckJob {
    pub cases: usize,
    pub seed: u64,
    done: Arc<AtomicUsize>,
    failing: Arc<AtomicUsize>,
    rx: mpsc::Receiver<Result<DynamicResult, String>>,
}

impl CheckJob {
    /// Starts exploring `cases` cases from `seed`; `wake` is called when a case finishes
    /// (the GUI passes a repaint request).
    pub fn start(
        scenario: Scenario,
        files: ModuleFiles,
        cases: usize,
        seed: u64,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> CheckJob {
        let done = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let (d, f) = (done.clone(), failing.clone());
        std::thread::spawn(move || {
            let progress = |n: usize, failed: usize| {
                d.store(n, Ordering::Relaxed);
                f.store(failed, Ordering::Relaxed);
                wake();
            };
            // Shrinking stops after `SHRINK_BUDGET` (as `check`'s default `--shrink-budget`),
            // counted from its start: a check in the GUI never runs for ever.
            let shrink_started = std::sync::OnceLock::new();
            let keep_shrinking =
                || shrink_started.get_or_init(std::time::Instant::now).elapsed() < SHRINK_BUDGET;
            let result = explore::explore_limited(
                &scenario,
                &files,
                cases,
                seed,
                &Limits::DEFAULT,
                &keep_shrinking,
                &progress,
            )
            .map(|e| DynamicResult {
                cases: e.cases,
                failing: e.failing,
                seed,
                declared: e.declared,
                shown: e
                    .summary
                    .iter()
                    .map(|p| {
                        let mut v = p.shown.clone();
                        v.status = p.status;
                        v
                    })
                    .collect(),
                summary: e.summary,
                counterexample: e.counterexample,
                shrinking: e.shrinking,
                findings: Vec::new(),
            })
            .map_err(|e| e.to_string());
            // The receiver is gone only if the GUI dropped the job (a new scenario opened).
            let _ = tx.send(result);
            wake();
        });
        CheckJob { cases, seed, done, failing, rx }
    }

    /// (cases done, failing so far).
    #[must_use]
    pub fn progress(&self) -> (usize, usize) {
        (self.done.load(Ordering::Relaxed), self.failing.load(Ordering::Relaxed))
    }

    /// The result, once there is one.
    pub fn poll(&self) -> Option<Result<DynamicResult, String>> {
        received(&self.rx, "the exploration thread")
    }
}

/// A background thread's result if it has sent it; an error if the thread ended without one.
fn received<T>(rx: &mpsc::Receiver<Result<T, String>>, who: &str) -> Option<Result<T, String>> {
    match rx.try_recv() {
        Ok(r) => Some(r),
        Err(mpsc::TryRecvError::Empty) => None,
        Err(mpsc::TryRecvError::Disconnected) => {
            Some(Err(format!("{who} stopped without a result")))
        }
    }
}

/// One case of the last check run again, as explored, on a thread of its own (a frame never
/// waits for a simulation): the case a failed property the counterexample does not show
/// failed in.
#[derive(Debug)]
pub struct CaseJob {
    pub index: usize,
    rx: mpsc::Receiver<Result<Option<CaseOutcome>, String>>,
}

impl CaseJob {
    /// Starts running case `index` of the check of `cases` cases from `seed`; `wake` is called
    /// when it is done.
    pub fn start(
        scenario: Scenario,
        files: ModuleFiles,
        (cases, seed): (usize, u64),
        index: usize,
        wake: impl Fn() + Send + 'static,
    ) -> CaseJob {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let limits = Limits::DEFAULT;
            let result = explore::rerun_case(&scenario, &files, (cases, seed), index, &limits)
                .map_err(|e| e.to_string());
            // The receiver is gone only if the GUI dropped the job (a new scenario opened).
            let _ = tx.send(result);
            wake();
        });
        CaseJob { index, rx }
    }

    /// The case (`None`: the check had no such case), once it has run.
    pub fn poll(&self) -> Option<Result<Option<CaseOutcome>, String>> {
        received(&self.rx, "the case's thread")
    }
}
