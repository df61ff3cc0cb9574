//! Reading one trace line back without serde's buffering: the mirror of the direct writer
//! (`line.rs`). A line as the simulator writes it — `{"t":<ns>,"ev":"<kind>"` then the kind's
//! fields in declaration order (`kinds.rs`), no spaces — is read field by field into its
//! variant. Anything else (fields in another order, spaces, an unknown kind, a number serde
//! would refuse or read otherwise, a malformed line) makes [`line`] answer `None`, and the
//! caller reads the line with serde instead, which also words every error. So the answer is
//! serde's on every line: the same event for the lines the simulator writes (tested on every
//! kind with arbitrary strings and numbers, below), serde's own verdict on the rest.
//!
//! Why: serde reads an internally tagged enum flattened beside `t` by buffering every field
//! into an intermediate tree first; `check` reads a case's trace once per property, and that
//! reading was most of a shop case's time (benches/README.md, "Exploration throughput").

use std::borrow::Cow;

use super::{TraceError, TraceEvent, TraceLine, TraceLines};
use crate::time::SimTime;

/// A position in one line's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Steps over `lit` if the bytes continue with it.
    fn lit(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.at.checked_add(lit.len())?;
        (self.bytes.get(self.at..end)? == lit).then(|| self.at = end)
    }

    /// The decimal digits here, as serde_json accepts an integer: no leading zero, no sign,
    /// no fraction or exponent after it (those are left to serde), within `u64`.
    fn digits(&mut self) -> Option<u64> {
        let rest = &self.bytes[self.at..];
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || (len > 1 && rest[0] == b'0') {
            return None;
        }
        if matches!(rest.get(len), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let mut n: u64 = 0;
        for &b in &rest[..len] {
            n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        }
        self.at += len;
        Some(n)
    }

    /// A JSON string here, quotes included, decoded: borrowed from the line when it has no
    /// escape, decoded by serde_json (one string, no buffering) when it has. A raw control
    /// character is refused, as serde refuses it.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let rest: &'a [u8] = self.bytes.get(self.at..)?;
        if rest.first() != Some(&b'"') {
            return None;
        }
        // Most strings have no escape and no control character: find the closing quote with
        // `memchr`, check the span in one pass without an early exit (which vectorises), and
        // walk byte by byte only when the span has a backslash or a control character.
        if let Some(end) = memchr::memchr(b'"', &rest[1..]).map(|e| e + 1) {
            let span = &rest[1..end];
            if !span.iter().fold(false, |seen, &b| seen | (b == b'\\') | (b < 0x20)) {
                self.at += end + 1;
                return std::str::from_utf8(span).ok().map(Cow::Borrowed);
            }
        }
        // Here the span up to the first quote had a backslash or a control character, or there
        // was no quote: find the closing quote past the escapes (refusing a control character
        // on the way) and decode the string: its common escapes here, a `\u` one by serde_json.
        let mut i = 1;
        loop {
            match *rest.get(i)? {
                b'"' => break,
                b'\\' => i += 2,
                b if b < 0x20 => return None,
                _ => i += 1,
            }
        }
        let text = match unescape(&rest[1..i]) {
            Some(text) => text,
            None => serde_json::from_slice::<String>(&rest[..=i]).ok()?,
        };
        let text = Cow::Owned(text);
        self.at += i + 1;
        Some(text)
    }
}

/// The span of a JSON string between its quotes, decoded as serde_json decodes it when its
/// escapes are all of `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t` (a trace's bodies
/// escape their quotes); `None` for any other escape (a `\u` one: serde_json decodes it, or
/// refuses it with the rest) and for bytes that are not UTF-8 (which serde_json refuses too:
/// the bytes between two escapes are valid apart exactly when together, an escape being ASCII).
fn unescape(span: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(span.len());
    let mut rest = span;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        out.push(match rest.get(at + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            _ => return None,
        });
        rest = rest.get(at + 2..)?;
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).ok()
}

/// A field's value read as serde_json reads it into that type (`None`: leave it to serde).
trait Take<'a>: Sized {
    fn take(c: &mut Cursor<'a>) -> Option<Self>;
}

impl Take<'_> for u64 {
    fn take(c: &mut Cursor<'_>) -> Option<Self> {
        c.digits()
    }
}

impl Take<'_> for u32 {
    fn take(c: &mut Cursor<'_>) -> Option<Self> {
        u32::try_from(c.digits()?).ok()
    }
}

impl Take<'_> for usize {
    fn take(c: &mut Cursor<'_>) -> Option<Self> {
        usize::try_from(c.digits()?).ok()
    }
}

impl Take<'_> for i32 {
    fn take(c: &mut Cursor<'_>) -> Option<Self> {
        if c.lit(b"-").is_some() {
            // serde_json reads `-0` as a float, which serde then refuses as an `i32`: left to it.
            let n = c.digits().filter(|n| *n > 0)?;
            i32::try_from(-i64::try_from(n).ok()?).ok()
        } else {
            i32::try_from(c.digits()?).ok()
        }
    }
}

impl Take<'_> for bool {
    fn take(c: &mut Cursor<'_>) -> Option<Self> {
        if c.lit(b"true").is_some() { Some(true) } else { c.lit(b"false").map(|()| false) }
    }
}

impl Take<'_> for String {
    fn take(c: &mut Cursor<'_>) -> Option<Self> {
        c.string().map(Cow::into_owned)
    }
}

impl<'a> Take<'a> for Cow<'a, str> {
    fn take(c: &mut Cursor<'a>) -> Option<Self> {
        c.string()
    }
}

impl<'a, T: Take<'a>> Take<'a> for Option<T> {
    fn take(c: &mut Cursor<'a>) -> Option<Self> {
        if c.lit(b"null").is_some() { Some(None) } else { T::take(c).map(Some) }
    }
}

/// `read_fields`: one arm per kind, reading its fields in declaration order.
macro_rules! readers {
    ($($variant:ident $kind:literal { $($field:ident),* })*) => {
        /// The event of kind `kind` whose fields follow at `c`, up to the closing brace.
        fn read_fields<'a, S: Take<'a>>(c: &mut Cursor<'a>, kind: &[u8]) -> Option<TraceEvent<S>> {
            // String patterns: the compiler branches on the length before comparing bytes.
            match std::str::from_utf8(kind).ok()? {
                $($kind => {
                    $(
                        c.lit(concat!(",\"", stringify!($field), "\":").as_bytes())?;
                        let $field = Take::take(c)?;
                    )*
                    Some(TraceEvent::$variant { $($field),* })
                })*
                _ => None,
            }
        }
    };
}

with_trace_kinds!(readers);

/// The line's time and event, when it is laid out exactly as the simulator writes lines;
/// `None` for anything else (then serde reads it).
pub(super) fn line(bytes: &[u8]) -> Option<(u64, TraceEvent)> {
    line_as(bytes)
}

/// [`line`], with the event's strings of type `S`: owned, or borrowed from `bytes` where
/// they have no escape.
fn line_as<'a, S: Take<'a>>(bytes: &'a [u8]) -> Option<(u64, TraceEvent<S>)> {
    let mut c = Cursor { bytes, at: 0 };
    c.lit(b"{\"t\":")?;
    let t = c.digits()?;
    c.lit(b",\"ev\":\"")?;
    let len = bytes[c.at..].iter().position(|b| *b == b'"')?;
    let kind = &bytes[c.at..c.at + len];
    c.at += len + 1;
    let event = read_fields(&mut c, kind)?;
    c.lit(b"}")?;
    (c.at == bytes.len()).then_some((t, event))
}

/// Reads a trace as [`super::read`] does — the same events, the same errors — with strings
/// borrowed from `bytes` where they have no escape: what `check` reads a case's trace with,
/// since reading it back was an owned `String` per name and body of every line
/// (benches/README.md, "Exploration throughput").
pub(crate) fn read_borrowed(
    bytes: &[u8],
) -> impl Iterator<Item = Result<TraceLine<Cow<'_, str>>, TraceError>> {
    let mut lines: TraceLines<'_> = super::read(bytes);
    std::iter::from_fn(move || {
        let (line, number) = lines.next_bytes()?;
        Some(match line_as(line) {
            Some((t, event)) => Ok(TraceLine { t: SimTime(t), event }),
            // Laid out otherwise: serde reads it (and words the error), owned.
            None => TraceLine::parse(line, number).map(|owned| TraceLine {
                t: owned.t,
                event: owned.event.map(|s| Cow::Owned(s.clone())),
            }),
        })
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::tests::{PLAIN, any_numbers, any_text, every_kind, texts, written};
    use super::super::{RawLine, read};
    use super::*;

    /// serde's reading of one line: what [`line`] must agree with.
    fn by_serde(bytes: &[u8]) -> Option<(u64, TraceEvent)> {
        serde_json::from_slice::<RawLine>(bytes).ok().map(|r| (r.t, r.event))
    }

    #[test]
    fn every_kind_as_written_is_read_without_serde() {
        let text = texts(&["orders", "a \"quoted\" name", "é\u{1}\\"]);
        let trace = written(&every_kind(&text, PLAIN));
        let mut kinds = 0;
        for bytes in trace.lines().split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let fast = line(bytes);
            assert!(fast.is_some(), "read by serde only: {}", String::from_utf8_lossy(bytes));
            assert_eq!(fast, by_serde(bytes), "{}", String::from_utf8_lossy(bytes));
            kinds += 1;
        }
        assert!(kinds >= 50, "only {kinds} kinds");
    }

    #[test]
    fn lines_not_as_written_are_left_to_serde() {
        let cases: [&[u8]; 12] = [
            br#"{"ev":"run_end","t":5,"events":1}"#,   // t not first
            br#"{"t":5, "ev":"run_end","events":1}"#,  // a space
            br#"{"t":05,"ev":"run_end","events":1}"#,  // a leading zero
            br#"{"t":5.0,"ev":"run_end","events":1}"#, // a fraction
            br#"{"t":5,"ev":"run_end","events":1e3}"#, // an exponent
            br#"{"t":5,"ev":"run_end","events":18446744073709551616}"#, // beyond u64
            br#"{"t":5,"ev":"no_such_kind","events":1}"#,
            br#"{"t":5,"ev":"run_end","events":1,"extra":2}"#,
            br#"{"t":5,"ev":"run_end","events":1} "#,
            br#"{"t":5,"ev":"fault_start","kind":"crash","index":1}"#, // fields swapped
            b"{\"t\":5,\"ev\":\"log\",\"service\":\"a\x01\",\"level\":\"info\",\"message\":\"m\"}",
            br#"{"t":5,"ev":"registered","service":"a","replica":4294967296}"#, // beyond u32
        ];
        for bytes in cases {
            assert_eq!(line(bytes), None, "{}", String::from_utf8_lossy(bytes));
        }
        // ... and reading them still goes as serde says: the same events, or errors.
        let mut joined = cases.join(&b'\n');
        joined.push(b'\n');
        let lines: Vec<_> = read(&joined).collect();
        assert_eq!(lines.len(), cases.len());
        for (got, bytes) in lines.iter().zip(cases) {
            let serde =
                by_serde(bytes).map(|(t, event)| TraceLine { t: crate::time::SimTime(t), event });
            assert_eq!(got.as_ref().ok(), serde.as_ref(), "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn negative_and_extreme_numbers_read_as_serde_reads_them() {
        for code in ["0", "-0", "-1", "2147483647", "-2147483648", "2147483648", "-2147483649"] {
            let bytes = format!(
                r#"{{"t":1,"ev":"refused","inv":2,"import":"i","target":"x","code":{code}}}"#
            );
            let fast = line(bytes.as_bytes());
            let serde = by_serde(bytes.as_bytes());
            assert!(fast.is_none() || fast == serde, "{bytes}: {fast:?} vs {serde:?}");
            assert_eq!(fast.is_some(), serde.is_some(), "{bytes}");
        }
    }

    /// [`read_borrowed`] against [`read`]: the same events and the same errors, line for line.
    fn agrees_with_owned_reading(trace: &[u8]) -> Result<(), TestCaseError> {
        let owned: Vec<_> = read(trace).collect();
        let borrowed: Vec<_> = read_borrowed(trace).collect();
        prop_assert_eq!(owned.len(), borrowed.len());
        for (o, b) in owned.iter().zip(&borrowed) {
            match (o, b) {
                (Ok(o), Ok(b)) => {
                    prop_assert_eq!(o.t, b.t);
                    prop_assert_eq!(o.event.borrowed(), b.event.borrowed());
                }
                (Err(o), Err(b)) => prop_assert_eq!(o, b),
                _ => prop_assert!(false, "{o:?} vs {b:?}"),
            }
        }
        Ok(())
    }

    #[test]
    fn plain_strings_are_borrowed_and_escaped_ones_decoded() {
        let service = |bytes: &'static [u8]| match read_borrowed(bytes).next() {
            Some(Ok(TraceLine { event: TraceEvent::Registered { service, .. }, .. })) => service,
            other => panic!("{other:?}"),
        };
        let plain = service(br#"{"t":5,"ev":"registered","service":"orders","replica":1}"#);
        assert!(matches!(plain, Cow::Borrowed("orders")), "{plain:?}");
        let escaped = service(br#"{"t":5,"ev":"registered","service":"a\"b\u00e9","replica":1}"#);
        assert!(matches!(&escaped, Cow::Owned(s) if s == "a\"bé"), "{escaped:?}");
        // Laid out otherwise (a space): serde reads it, owned.
        let spaced = service(br#"{"t":5, "ev":"registered","service":"orders","replica":1}"#);
        assert!(matches!(&spaced, Cow::Owned(s) if s == "orders"), "{spaced:?}");
    }

    /// A span the fast decoder decodes, serde_json decodes alike; one it leaves, it has a `\u`
    /// escape or serde_json refuses it too. Spans [`Cursor::string`] never hands over (with a
    /// quote or a control character outside an escape, or ending inside one) are skipped.
    fn unescapes_as_serde(span: &[u8]) -> Result<(), TestCaseError> {
        let mut i = 0;
        while i < span.len() {
            match span[i] {
                b'"' => return Ok(()),
                b'\\' => i += 2,
                b if b < 0x20 => return Ok(()),
                _ => i += 1,
            }
        }
        if i > span.len() {
            return Ok(());
        }
        let mut quoted = vec![b'"'];
        quoted.extend_from_slice(span);
        quoted.push(b'"');
        let serde = serde_json::from_slice::<String>(&quoted).ok();
        match unescape(span) {
            Some(text) => prop_assert_eq!(Some(text), serde, "{:?}", span),
            None => prop_assert!(
                serde.is_none() || span.windows(2).any(|w| w == b"\\u"),
                "{:?} left to serde, which reads {:?}",
                span,
                serde
            ),
        }
        Ok(())
    }

    #[test]
    fn common_escapes_are_decoded_as_serde_decodes_them() {
        let spans: [&[u8]; 14] = [
            br#"{\"order_id\":\"ord-1\"}"#,
            br#"\"\\\/\b\f\n\r\t"#,
            br#"a\\"#,
            br#"\\\\"#,
            b"tab\\tand \xc3\xa9",
            br#"\u00e9"#,
            br#"\x"#,
            br#"\"#,
            br#"\ud800"#,
            b"\xc3\\n\xa9",
            b"\xc3\xa9\\n",
            b"\\\x01",
            b"\xff\\\"",
            b"",
        ];
        for span in spans {
            unescapes_as_serde(span).map_err(|e| format!("{e}")).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(unescape(br#"\"a\"\\"#).as_deref(), Some(r#""a"\"#));
        assert_eq!(unescape(br#"\u0041"#), None, "left to serde");
    }

    proptest! {
        /// Any span of bytes: decoded as serde_json decodes it, or left to serde_json.
        #[test]
        fn any_span_unescapes_as_serde(
            span in prop::collection::vec(
                prop::sample::select(vec![b'\\', b'"', b'/', b'n', b't', b'u', b'0', b'a', b'e', 0x01, 0xc3, 0xa9, 0xff]),
                0..24,
            ),
        ) {
            unescapes_as_serde(&span)?;
        }

        /// Borrowed reading gives what owned reading gives, on every kind with any strings
        /// (escaped ones are decoded into owned strings) and on lines left to serde or broken.
        #[test]
        fn borrowed_reading_agrees_with_owned_reading(
            text in prop::collection::vec(any_text(), 1..8),
            n in any_numbers(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let trace = written(&every_kind(&text, n));
            agrees_with_owned_reading(trace.lines())?;
            let mut bytes = trace.lines().to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            agrees_with_owned_reading(&bytes)?;
        }

        /// Every kind, with any strings and numbers: read as serde reads it, without serde.
        #[test]
        fn every_kind_reads_as_serde_reads_it(
            text in prop::collection::vec(any_text(), 1..8),
            n in any_numbers(),
        ) {
            let trace = written(&every_kind(&text, n));
            for bytes in trace.lines().split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let fast = line(bytes);
                prop_assert!(fast.is_some(), "{}", String::from_utf8_lossy(bytes));
                prop_assert_eq!(fast, by_serde(bytes));
            }
        }

        /// Whatever a line's bytes, the fast reader either agrees with serde or leaves the
        /// line to it.
        #[test]
        fn any_line_is_read_as_serde_reads_it_or_left_to_it(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let text = texts(&["orders", "a \"quoted\" name"]);
            let trace = written(&every_kind(&text, PLAIN));
            let mut bytes = trace.lines().to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            for l in bytes.split(|b| *b == b'\n') {
                if let Some(fast) = line(l) {
                    prop_assert_eq!(Some(fast), by_serde(l), "{}", String::from_utf8_lossy(l));
                }
            }
        }
    }
}
