//! The trace reader (`trace::read`): trace files are user input (`fusebench run --out` writes
//! them, anyone can edit them), so whatever the bytes it must not panic, every error must name
//! a line the input has, and a line it accepts must be one the writer would produce the same
//! event from (written again through `Trace::emit` and read back, it is equal).
#![no_main]

use fusebench_sim::trace::{self, Trace, TraceError, TraceMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Lines as the reader counts them: split on '\n', the last one even if empty.
    let lines = data.split(|b| *b == b'\n').count();
    for item in trace::read(data) {
        match item {
            Ok(line) => {
                let mut out = Trace::new(TraceMode::Full);
                out.emit(line.t, &line.event.borrowed());
                let again: Vec<_> = trace::read(out.lines()).collect();
                assert_eq!(again.len(), 1, "one event written, {} read", again.len());
                match &again[0] {
                    Ok(back) => assert_eq!(back, &line, "an accepted line does not round-trip"),
                    Err(e) => panic!("an accepted line, written again, does not read back: {e}"),
                }
            }
            Err(TraceError::Line { line, .. }) => {
                assert!(
                    (1..=lines).contains(&line),
                    "error names line {line} of an input with {lines} line(s)"
                );
            }
            // `TraceError` is non-exhaustive: a new kind of error is not a crash.
            Err(_) => {}
        }
    }
});
