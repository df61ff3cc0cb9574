//! What the caller lends the host for one slice of guest execution: virtual time, a seeded
//! random stream and a sink for log lines. The runtime itself never reads a clock, draws
//! entropy or does I/O.

use std::fmt;

use super::step::InstanceId;

/// A deterministic random stream (the engine passes the service's seeded stream).
pub trait RandomSource {
    fn next_u64(&mut self) -> u64;

    /// Fills `buf` from successive [`next_u64`](Self::next_u64) values, little-endian.
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Where guest log lines (the `log` import, WASI `fd_write` to fd 1/2) go: the trace.
pub trait LogSink {
    fn log(&mut self, line: LogLine);
}

impl LogSink for Vec<LogLine> {
    fn log(&mut self, line: LogLine) {
        self.push(line);
    }
}

/// A sink that drops every line (for callers that do not trace).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardLog;

impl LogSink for DiscardLog {
    fn log(&mut self, _line: LogLine) {}
}

/// The world as one slice of guest execution sees it. Virtual time does not advance within a
/// slice: every `now` and `clock_time_get` in it reads `now_nanos`.
pub struct HostContext<'a> {
    /// Virtual time in nanoseconds since the start of the run.
    pub now_nanos: u64,
    /// The invoked service's seeded random stream (`random`, WASI `random_get`).
    pub random: &'a mut dyn RandomSource,
    /// Receives the slice's log lines, in the order the guest wrote them.
    pub log: &'a mut dyn LogSink,
}

impl fmt::Debug for HostContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostContext").field("now_nanos", &self.now_nanos).finish_non_exhaustive()
    }
}

/// One line a guest logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub service: String,
    pub instance: InstanceId,
    pub level: LogLevel,
    pub source: LogSource,
    /// The text, decoded lossily from UTF-8 and cut at [`LOG_LINE_BYTES_MAX`].
    pub message: String,
}

/// The longest log line kept, in bytes; longer lines are cut.
pub const LOG_LINE_BYTES_MAX: usize = 4096;
/// Log lines kept per invocation; further lines are counted in the report and dropped.
pub const LOG_LINES_PER_INVOCATION_MAX: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The ABI's level code: 0 debug, 1 info, 2 warn, 3 error; codes below 0 read as debug and
    /// above 3 as error.
    #[must_use]
    pub fn from_code(code: i32) -> Self {
        match code {
            ..=0 => LogLevel::Debug,
            1 => LogLevel::Info,
            2 => LogLevel::Warn,
            3.. => LogLevel::Error,
        }
    }
}

/// Which guest channel a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogSource {
    /// The `fusebench.log` import.
    Log,
    /// WASI `fd_write` to fd 1 (level info).
    Stdout,
    /// WASI `fd_write` to fd 2 (level warn).
    Stderr,
}
