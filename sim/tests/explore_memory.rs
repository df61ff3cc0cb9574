//! Memory that must not grow with the amount of work: exploration keeps what the properties
//! need of each case, not its run (memory stays that of one case however many are explored),
//! and a run keeps nothing per finished request (memory stays that of a short run however long
//! it simulates). Measured by a counting allocator, in bytes live at once, so the bounds are
//! deterministic (no timing).
//!
//! The allocator counts every thread of the process: the tests of this binary run one at a
//! time ([`alone`]), or one's allocations and frees would move the other's peak.

// A counting global allocator is the one way to measure live bytes; it only delegates.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fusebench_sim::explore::{self, Schedule};
use fusebench_sim::runtime::Runtime;
use fusebench_sim::setup::ModuleFiles;
use fusebench_sim::trace::TraceMode;
use fusebench_sim::{RunOptions, Sim};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Held for the whole of a test, so another test's allocations and frees do not move its
/// peak.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Bytes live at the peak of `f`, over what was live when it started.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

/// One abstract service (no modules), busy enough that a case's trace is the bulk of its
/// memory: 500 requests/s for 8 s.
const BUSY: &str = r#"
[system]
name = "busy"
[[context]]
name = "c"
[[node]]
name = "n"
tier = "cloud"
[gateway]
node = "n"
[[service]]
name = "a"
context = "c"
node = "n"
replicas = 2
  [service.service_time]
  distribution = { dist = "constant", ms = 1.0 }
  [[service.endpoint]]
  name = "get"
  method = "GET"
  path = "/a"
  public = true
[workload]
duration_s = 8
arrival = { kind = "poisson", rate_rps = 500 }
  [[workload.mix]]
  service = "a"
  endpoint = "get"
"#;

#[test]
fn exploration_memory_does_not_grow_with_the_number_of_cases() {
    let _alone = alone();
    let s = fusebench_model::parse("busy.toml", BUSY).scenario.expect("parses");
    let files = ModuleFiles::default();
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
    let (case, one) =
        peak_of(|| explore::run_case(&s, &files, &Schedule::declared(&s), 1).expect("runs"));
    let trace = case.run.trace.len();
    eprintln!("one case: peak {one} bytes, trace {trace}");
    drop(case);
    let cases = 12;
    // The bound below can fail: a case's peak is mostly its trace and the lines its
    // properties read back from it (both dropped once it is judged), so keeping every case's
    // trace alone would already go over it.
    assert!(
        cases * trace > 2 * one,
        "{cases} traces of {trace} bytes would stay under twice one case's peak ({one} bytes)"
    );
    let (found, explored) = peak_of(|| {
        one_thread.install(|| explore::explore(&s, &files, cases, 1, &|_, _| {})).expect("runs")
    });
    eprintln!("{cases} cases explored: peak {explored} bytes");
    assert_eq!(found.cases, cases);
    assert!(found.counterexample.is_none(), "{:#?}", found.declared);
    // A generated case runs at most 1.5× the declared rate for at most the declared duration,
    // so one case at a time stays under twice the declared case's peak. Kept for every case,
    // the traces went over it (12 cases: about 5× it, measured before the change).
    assert!(
        explored < 2 * one,
        "exploring {cases} cases peaked at {explored} bytes, one case at {one} (its trace {trace})"
    );
}

/// An M/M/1 queue (ρ = 0.25) whose gateway gives every request 600 s: each answered request
/// leaves a cancelled timeout behind.
fn long_run(duration_s: u32) -> String {
    BUSY.replace("[gateway]\nnode = \"n\"", "[gateway]\nnode = \"n\"\ntimeout_ms = 600000")
        .replace("replicas = 2", "replicas = 1")
        .replace(
            "distribution = { dist = \"constant\", ms = 1.0 }",
            "distribution = { dist = \"exponential\", mean_ms = 12.5 }",
        )
        .replace("duration_s = 8", &format!("duration_s = {duration_s}"))
        .replace("rate_rps = 500", "rate_rps = 20")
}

#[test]
fn a_runs_memory_does_not_grow_with_its_length() {
    let _alone = alone();
    let peak = |secs: u32| {
        let text = long_run(secs);
        assert!(text.contains("timeout_ms = 600000") && text.contains("mean_ms = 12.5"));
        let s = fusebench_model::parse("long.toml", &text).scenario.expect("parses");
        let mut options = RunOptions::new(1);
        options.trace = TraceMode::Hash;
        let (result, peak) = peak_of(|| Sim::new(s, Box::new(Runtime::default()), &options).run());
        (result.requests_sent, peak)
    };
    // Once first: what a first run sets up for good (lazily built tables) is not a peak.
    peak(1);
    let (short_requests, short) = peak(50);
    let (long_requests, long) = peak(3600);
    eprintln!("50 s: {short_requests} requests, peak {short} B; 3600 s: {long_requests}, {long} B");
    assert!(long_requests > 60 * short_requests, "{short_requests} vs {long_requests}");
    // Before cancelled timers were compacted away, the 3600 s run held every request answered
    // in the last 600 s (12,000 timers, about 80 bytes each), 1 MB over the short run.
    assert!(
        long * 10 <= short * 11,
        "a 3600 s run peaked at {long} bytes, a 50 s run at {short}: more than 10 % apart"
    );
}

/// A writer that keeps only the BLAKE3 hash and length of what it is given, readable after
/// the run (the run owns the writer).
#[derive(Clone, Default)]
struct Digest(std::sync::Arc<std::sync::Mutex<(blake3::Hasher, u64)>>);

impl std::io::Write for Digest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut d = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        d.0.update(buf);
        d.1 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Digest {
    fn hex(&self) -> (String, u64) {
        let d = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let hex = d.0.finalize().to_hex().to_string();
        (hex, d.1)
    }
}

/// `run --out` streams the trace: every line reaches the writer (its hash is the run's trace
/// hash), and nothing of it is kept, so memory stays flat in the run's length however long
/// the trace grows (it used to be kept whole to be written at the end: ~1 KB per request).
#[test]
fn a_streamed_trace_is_written_whole_and_not_kept() {
    let _alone = alone();
    let peak = |secs: u32| {
        let s = fusebench_model::parse("long.toml", &long_run(secs)).scenario.expect("parses");
        let mut options = RunOptions::new(1);
        options.trace = TraceMode::Hash;
        let digest = Digest::default();
        let writer = Box::new(std::io::BufWriter::new(digest.clone()));
        let (result, peak) = peak_of(|| {
            Sim::with_trace_stream(s, Box::new(Runtime::default()), &options, writer)
                .expect("resolves")
                .run()
        });
        let (hash, bytes) = digest.hex();
        assert_eq!(hash, result.trace_hash, "the streamed bytes are the hashed trace");
        assert_eq!(result.trace_streamed, Some(Ok(bytes)));
        assert!(result.trace.is_empty(), "the trace is not kept");
        (bytes, peak)
    };
    peak(1);
    let (short_bytes, short) = peak(50);
    let (long_bytes, long) = peak(3600);
    eprintln!(
        "streamed 50 s: {short_bytes} B of trace, peak {short} B; 3600 s: {long_bytes}, {long} B"
    );
    // The long trace alone is far more than the whole short run's memory: keeping it would fail.
    assert!(long_bytes > 10 * short as u64, "{long_bytes} trace bytes vs a {short} B peak");
    assert!(
        long * 10 <= short * 11,
        "a streamed 3600 s run peaked at {long} bytes, a 50 s run at {short}: more than 10 % apart"
    );
}

/// A stream that fails is reported, not ignored: a trace with a hole in it is never passed off
/// as the run's.
#[test]
fn a_trace_stream_that_fails_is_reported() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let _alone = alone();
    let s = fusebench_model::parse("long.toml", &long_run(2)).scenario.expect("parses");
    let result = Sim::with_trace_stream(
        s,
        Box::new(Runtime::default()),
        &RunOptions::new(1),
        Box::new(Full),
    )
    .expect("resolves")
    .run();
    assert_eq!(result.trace_streamed, Some(Err("disk full".to_owned())));
}
