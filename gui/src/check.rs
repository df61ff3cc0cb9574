//! The dynamic properties, explored in a background thread (exploration runs many whole
//! simulations) while the UI keeps drawing; the result comes back over a channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use fusebench_model::Scenario;
use fusebench_sim::explore::{self, CaseOutcome};
use fusebench_sim::properties::Verdict;
use fusebench_sim::setup::ModuleFiles;

use crate::findings::Finding;

/// What exploration found.
#[derive(Debug, Clone)]
pub struct DynamicResult {
    pub cases: usize,
    pub failing: usize,
    pub seed: u64,
    /// The declared scenario's verdicts (case 0).
    pub declared: Vec<Verdict>,
    /// The shrunk counterexample and its shrink steps, if a case failed.
    pub counterexample: Option<(CaseOutcome, usize)>,
    /// The failed verdicts mapped to diagram elements (filled in when the result is taken).
    pub findings: Vec<Finding>,
}

impl DynamicResult {
    /// Verdicts of the counterexample when there is one, else of the declared scenario.
    #[must_use]
    pub fn verdicts(&self) -> &[Verdict] {
        self.counterexample.as_ref().map_or(&self.declared, |(c, _)| &c.verdicts)
    }

    #[must_use]
    pub fn passed(&self) -> bool {
        self.verdicts().iter().all(fusebench_sim::properties::Verdict::passed)
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
            let result = explore::explore(&scenario, &files, cases, seed, &progress)
                .map(|e| DynamicResult {
                    cases: e.cases,
                    failing: e.failing,
                    seed,
                    declared: e.declared,
                    counterexample: e.counterexample,
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
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                Some(Err("the exploration thread stopped without a result".to_owned()))
            }
        }
    }
}
