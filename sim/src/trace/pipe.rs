//! A trace writer on a thread of its own: the run's thread appends each event to a batch in a
//! compact binary form (its time, a kind byte, then its fields in declaration order: integers
//! as little-endian bytes, strings as a length and their bytes), and hands full batches over a
//! bounded channel to the writer thread, which decodes them back into the same
//! [`TraceEvent`]s, in the same order, and writes, hashes and streams them exactly as a trace
//! written in place would (`Writer` in `trace.rs`). Same bytes and hash by construction; the
//! run's thread no longer formats numbers, scans strings for escapes or hashes (about a third
//! of an abstract run: benches/README.md, "The trace on a thread of its own").
//!
//! The codec is generated from the kinds' field lists (`kinds.rs`), like the JSON writer and
//! reader: decoding builds each variant from its fields in the order encoding wrote them, and
//! a field's type comes from the variant, so the two cannot disagree on a type either.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use super::{TraceEvent, Writer};

/// Encoded bytes per batch handed over: big enough that handing over (a channel send, at
/// worst a thread woken) is rare against the ≈ 1,000 events it carries, small enough to stay
/// in the caches between the two threads.
const BATCH: usize = 256 * 1024;

/// Batches in flight: the run's thread blocks only when the writer is this far behind.
const IN_FLIGHT: usize = 8;

/// Bytes reserved before an event (every kind's fixed part; strings reserve their own room).
const EVENT_ROOM: usize = 256;

/// The run's side of the writer thread.
pub(super) struct Pipe {
    /// The batch being filled.
    batch: Vec<u8>,
    full: Option<SyncSender<Vec<u8>>>,
    /// Batches the writer has finished with, for reuse.
    empty: Receiver<Vec<u8>>,
    /// Gives the writer back (`None` only if it never received it).
    thread: Option<JoinHandle<Option<Writer>>>,
    /// Whether the writer streams its lines.
    streams: bool,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe").field("batch", &self.batch.len()).finish_non_exhaustive()
    }
}

impl Pipe {
    /// Moves `writer` onto a new thread; gives it back if no thread can be started.
    #[allow(clippy::result_large_err)] // once per run; the writer is given back, not an error
    pub(super) fn spawn(writer: Writer) -> Result<Pipe, Writer> {
        let streams = writer.stream.is_some();
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        // The writer is sent once the thread exists, so a spawn that fails leaves it here.
        let (writer_tx, writer_rx) = std::sync::mpsc::sync_channel::<Writer>(1);
        let spawned = std::thread::Builder::new().name("fusebench-trace".into()).spawn(move || {
            let mut writer = writer_rx.recv().ok()?;
            for mut batch in full_rx {
                let mut rest = batch.as_slice();
                while !rest.is_empty() {
                    let (t, event) = decode(&mut rest);
                    writer.write(t, &event, None);
                }
                batch.clear();
                // The run's side may be gone (it is joining): the batch is dropped then.
                let _ = empty_tx.send(batch);
            }
            Some(writer)
        });
        let Ok(thread) = spawned else { return Err(writer) };
        // The thread waits on this very channel, with room for it: sending cannot fail.
        let _ = writer_tx.send(writer);
        Ok(Pipe {
            batch: Vec::with_capacity(BATCH + EVENT_ROOM),
            full: Some(full_tx),
            empty: empty_rx,
            thread: Some(thread),
            streams,
        })
    }

    pub(super) fn streams(&self) -> bool {
        self.streams
    }

    /// Appends one event to the batch, handing the batch over when it is full.
    #[inline]
    pub(super) fn send(&mut self, t: u64, event: &TraceEvent<&str>) {
        encode(&mut self.batch, t, event);
        if self.batch.len() >= BATCH {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let next = self.empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH + EVENT_ROOM));
        let batch = std::mem::replace(&mut self.batch, next);
        let Some(full) = &self.full else {
            unreachable!("the channel closes only when the pipe is joined or dropped")
        };
        match full.try_send(batch) {
            Ok(()) => {}
            // The writer is behind: wait for room.
            Err(TrySendError::Full(batch)) => {
                if full.send(batch).is_err() {
                    self.writer_died();
                }
            }
            Err(TrySendError::Disconnected(_)) => self.writer_died(),
        }
    }

    /// The writer thread ended before it was told to: it panicked (a bug). The panic goes on
    /// here, where the run can see it, as if the trace had been written in place.
    fn writer_died(&mut self) -> ! {
        self.full = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            _ => panic!("the trace writer thread stopped before the run ended"),
        }
    }

    /// Hands over what is left, waits for every line to be written, and takes the writer back.
    pub(super) fn join(mut self) -> Writer {
        self.hand_over();
        // Closing the channel ends the writer's loop once it has written every batch.
        self.full = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Some(writer))) => writer,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            Some(Ok(None)) | None => unreachable!("a pipe's thread holds the writer until joined"),
        }
    }
}

impl Drop for Pipe {
    /// A pipe dropped without being joined (a run abandoned) still lets its thread end: the
    /// channel closes, the writer finishes what it was sent and is dropped with its thread.
    fn drop(&mut self) {
        self.full = None;
        if let Some(thread) = self.thread.take() {
            // Its panic, if any, would only repeat one already being unwound or reported.
            let _ = thread.join();
        }
    }
}

/// A field's value in the batch.
trait Encode {
    fn encode(&self, out: &mut Vec<u8>);
}

/// A field's value read back; `input` moves past it.
trait Decode<'a>: Sized {
    fn decode(input: &mut &'a [u8]) -> Self;
}

/// The next `N` bytes of `input`. Batches are only ever written by [`encode`], so running out
/// is a bug of this file, not bad input.
fn take<const N: usize>(input: &mut &[u8]) -> [u8; N] {
    let (head, rest) = input.split_first_chunk::<N>().expect("an encoded field is whole");
    *input = rest;
    *head
}

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl Encode for $ty {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode<'_> for $ty {
            fn decode(input: &mut &[u8]) -> Self {
                <$ty>::from_le_bytes(take(input))
            }
        }
    )*};
}

integers!(u64, u32, usize, i32, u8);

impl Encode for bool {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode<'_> for bool {
    fn decode(input: &mut &[u8]) -> Self {
        u8::decode(input) != 0
    }
}

impl Encode for str {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.len() + 8);
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        out.extend_from_slice(self.as_bytes());
    }
}

impl<'a> Decode<'a> for &'a str {
    fn decode(input: &mut &'a [u8]) -> Self {
        let len = usize::try_from(u64::decode(input)).expect("a string's length fits memory");
        let (bytes, rest) = input.split_at(len);
        *input = rest;
        std::str::from_utf8(bytes).expect("an encoded string was a `str`")
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

impl<T: Encode> Encode for Option<T> {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => {
                out.push(1);
                v.encode(out);
            }
            None => out.push(0),
        }
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for Option<T> {
    fn decode(input: &mut &'a [u8]) -> Self {
        (u8::decode(input) != 0).then(|| T::decode(input))
    }
}

/// `encode` and `decode`: one arm per kind, its tag the kind's place in `kinds.rs`.
macro_rules! codec {
    ($($variant:ident $kind:literal { $($field:ident),* })*) => {
        /// A kind's tag in a batch.
        #[repr(u8)]
        enum Tag {
            $($variant),*
        }

        /// Appends `t` and `event` to `out`.
        #[inline]
        pub(super) fn encode(out: &mut Vec<u8>, t: u64, event: &TraceEvent<&str>) {
            out.reserve(EVENT_ROOM);
            out.extend_from_slice(&t.to_le_bytes());
            match event {
                $(TraceEvent::$variant { $($field),* } => {
                    out.push(Tag::$variant as u8);
                    $(Encode::encode($field, out);)*
                })*
            }
        }

        /// The event at the start of `input`, and `input` moved past it.
        pub(super) fn decode<'a>(input: &mut &'a [u8]) -> (u64, TraceEvent<&'a str>) {
            let t = u64::decode(input);
            let tag = u8::decode(input);
            // Fields are read in the order they are listed, which is the order `encode`
            // wrote them (a struct expression evaluates its fields as written).
            let event = match tag {
                $(x if x == Tag::$variant as u8 => TraceEvent::$variant {
                    $($field: Decode::decode(input)),*
                },)*
                _ => unreachable!("tag {tag} was not written by `encode`"),
            };
            (t, event)
        }
    };
}

with_trace_kinds!(codec);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::tests::{PLAIN, any_numbers, any_text, every_kind, texts};
    use super::super::{SimTime, Trace, TraceMode};
    use super::*;

    /// Every kind, encoded one after another, decodes to itself in order.
    #[test]
    fn every_kind_decodes_to_itself() {
        let text = texts(&["a", "", "k\"1\n", "\u{e9}\u{1f600}", "station"]);
        let events = every_kind(&text, PLAIN);
        let mut batch = Vec::new();
        for (i, event) in events.iter().enumerate() {
            encode(&mut batch, i as u64 * 1_000_003, event);
        }
        let mut rest = batch.as_slice();
        for (i, event) in events.iter().enumerate() {
            let (t, back) = decode(&mut rest);
            assert_eq!((t, &back), (i as u64 * 1_000_003, event));
        }
        assert!(rest.is_empty());
    }

    /// Writes `events` `rounds` times at growing times into a trace written here and into one
    /// written on its own thread (streaming both): the same hash and streamed bytes.
    fn here_and_on_a_thread(events: &[TraceEvent<&str>], rounds: u64) -> (String, Vec<u8>) {
        let shared = || std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (ours, theirs) = (shared(), shared());
        let mut here = Trace::new(TraceMode::Hash);
        here.stream_to(Box::new(Shared(std::sync::Arc::clone(&ours))));
        let mut away = Trace::new(TraceMode::Hash);
        away.stream_to(Box::new(Shared(std::sync::Arc::clone(&theirs))));
        assert!(away.write_on_thread());
        assert!(away.is_streaming());
        for round in 0..rounds {
            for (i, event) in events.iter().enumerate() {
                let t = SimTime(round * 7_919 + i as u64 * 13);
                here.emit(t, event);
                away.emit(t, event);
            }
        }
        assert_eq!(here.len(), away.len());
        let written = here.close_stream().expect("written");
        assert_eq!(away.close_stream().expect("written"), written);
        let hash = here.hash();
        assert_eq!(away.hash(), hash);
        let bytes = ours.lock().expect("not poisoned").clone();
        assert_eq!(*theirs.lock().expect("not poisoned"), bytes);
        assert_eq!(written, bytes.len() as u64);
        (hash, bytes)
    }

    /// A writer that appends to shared bytes.
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Many batches (every kind ≈ 3 KiB a round), some handed over while the writer is
    /// behind: the bytes are those written in place, and BLAKE3 of them is the hash.
    #[test]
    fn a_trace_on_a_thread_writes_the_same_bytes_and_hash() {
        let text = texts(&["orders", "k\"1", "{\"sku\":7}", "", "\u{1f600}"]);
        let events = every_kind(&text, PLAIN);
        let (hash, bytes) = here_and_on_a_thread(&events, 400);
        assert!(bytes.len() > 4 * BATCH, "{} bytes: several batches", bytes.len());
        assert_eq!(hash, blake3::hash(&bytes).to_hex().as_str());
    }

    /// Lines emitted after the hash was asked for go on being written (here, after the
    /// writer came back), and the trace stays whole.
    #[test]
    fn a_writer_brought_back_goes_on_in_place() {
        let text = texts(&["a", "b"]);
        let events = every_kind(&text, PLAIN);
        let mut full = Trace::new(TraceMode::Full);
        let mut away = Trace::new(TraceMode::Hash);
        assert!(away.write_on_thread());
        for (i, event) in events.iter().enumerate() {
            full.emit(SimTime(i as u64), event);
            away.emit(SimTime(i as u64), event);
            if i % 17 == 0 {
                assert_eq!(away.hash(), full.hash(), "after event {i}");
                assert!(away.write_on_thread(), "moves again");
            }
        }
        assert_eq!(away.hash(), blake3::hash(full.lines()).to_hex().as_str());
    }

    /// Only a trace that keeps no lines moves; one that keeps them (read during the run) or
    /// traces nothing stays.
    #[test]
    fn only_a_hashed_trace_moves() {
        assert!(!Trace::new(TraceMode::Full).write_on_thread());
        assert!(!Trace::new(TraceMode::Off).write_on_thread());
        let mut off = Trace::new(TraceMode::Off);
        assert_eq!(off.hash(), blake3::hash(b"").to_hex().as_str());
    }

    /// A stream that fails is reported by the trace on a thread as by one in place.
    #[test]
    fn a_failing_stream_is_reported() {
        struct Broken;
        impl std::io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut away = Trace::new(TraceMode::Hash);
        away.stream_to(Box::new(Broken));
        assert!(away.write_on_thread());
        away.emit(SimTime(1), &TraceEvent::RunEnd { events: 1 });
        let error = away.close_stream().expect_err("the stream failed");
        assert_eq!(error.to_string(), "disk full");
    }

    /// A trace on a thread dropped before its end (a run abandoned) ends its thread.
    #[test]
    fn a_dropped_trace_on_a_thread_ends_it() {
        let mut away = Trace::new(TraceMode::Hash);
        assert!(away.write_on_thread());
        for i in 0..10_000 {
            away.emit(SimTime(i), &TraceEvent::RunEnd { events: i });
        }
        drop(away);
    }

    proptest! {
        #[test]
        fn any_events_are_written_alike_on_a_thread(
            text in prop::collection::vec(any_text(), 1..8),
            n in any_numbers(),
            rounds in 1u64..40,
        ) {
            let events = every_kind(&text, n);
            here_and_on_a_thread(&events, rounds);
        }
    }
}
