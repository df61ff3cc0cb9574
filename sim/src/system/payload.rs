//! A request's or an answer's body that remembers whether it is UTF-8 text.
//!
//! A body is written into the trace twice (a request's at `arrival` and as `invocation_start`'s
//! `input`, an answer as `invocation_end`'s `output` and as `response`'s `body`), each time as
//! text ([`crate::trace::bytes_text`]). Text that never was bytes — a workload's fixed body, an abstract answer —
//! is kept as `str`, so neither line validates it; a body every request shares (a workload's
//! fixed one, the empty object) is shared instead of copied. Other bodies (a guest's answer, a
//! filter's rewrite, a message, an internal call's body) stay bytes, validated at each trace
//! line as before.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

/// A message body: its bytes, and whether they are known UTF-8.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// Bytes not checked (yet): a guest's, a filter's, a message's.
    Bytes(Vec<u8>),
    /// UTF-8 text (boxed, not a `String`: the enum stays the size of a `Vec`, 24 bytes, and
    /// so do the events that carry it).
    Text(Box<str>),
    /// UTF-8 text shared by many bodies (a workload's fixed body): cloning copies no byte.
    Shared(Arc<str>),
    /// A constant (the empty object of an abstract answer).
    Static(&'static str),
}

impl Payload {
    /// No body.
    pub(crate) const EMPTY: Payload = Payload::Static("");

    /// The body as a trace field: [`crate::trace::bytes_text`]'s text, validated only if it
    /// never was (text is only searched for a U+FFFD to double, so that a body and bytes that
    /// differ never read the same).
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Payload::Bytes(b) => crate::trace::bytes_text(b),
            Payload::Text(s) => crate::trace::str_text(s),
            Payload::Shared(s) => crate::trace::str_text(s),
            Payload::Static(s) => crate::trace::str_text(s),
        }
    }

    /// The bytes, owned (copied only when shared or constant).
    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self {
            Payload::Bytes(b) => b,
            Payload::Text(s) => s.into_boxed_bytes().into_vec(),
            Payload::Shared(s) => s.as_bytes().to_vec(),
            Payload::Static(s) => s.as_bytes().to_vec(),
        }
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Payload::Bytes(b) => b,
            Payload::Text(s) => s.as_bytes(),
            Payload::Shared(s) => s.as_bytes(),
            Payload::Static(s) => s.as_bytes(),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Payload {
        Payload::Bytes(bytes)
    }
}

/// Text as text when boxing it costs nothing (no spare capacity); otherwise as bytes, as
/// before: boxing it would shrink it, a `realloc` per body (a rendered body, a generated
/// answer: `serde_json` leaves spare room).
impl From<String> for Payload {
    fn from(text: String) -> Payload {
        if text.len() == text.capacity() {
            Payload::Text(text.into_boxed_str())
        } else {
            Payload::Bytes(text.into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Payload;
    use proptest::prelude::*;
    use std::sync::Arc;

    /// Every form of the same bytes: the same bytes, the same trace text as plain bytes
    /// ([`crate::trace::bytes_text`]), the same bytes back.
    fn forms(bytes: &[u8]) -> Vec<Payload> {
        let mut all = vec![Payload::Bytes(bytes.to_vec())];
        if let Ok(text) = std::str::from_utf8(bytes) {
            let mut spare = String::with_capacity(text.len() + 1);
            spare.push_str(text);
            all.push(Payload::from(spare));
            all.push(Payload::from(text.to_owned()));
            all.push(Payload::Text(text.into()));
            all.push(Payload::Shared(Arc::from(text)));
        }
        all
    }

    #[test]
    fn a_string_is_boxed_as_text_only_without_spare_capacity() {
        assert!(matches!(Payload::from(String::from("{}")), Payload::Text(_)));
        assert!(matches!(Payload::from(String::with_capacity(8)), Payload::Bytes(_)));
        assert_eq!(&*Payload::EMPTY, b"");
        assert_eq!(Payload::Static("{}").text(), "{}");
        assert_eq!(Payload::Static("{}").into_vec(), b"{}");
        // A U+FFFD in text is doubled, as in bytes, so text never reads as other bytes do.
        assert_eq!(Payload::Static("a\u{FFFD}").text(), "a\u{FFFD}\u{FFFD}");
        assert_eq!(Payload::Text("a\u{FFFD}".into()).text(), "a\u{FFFD}\u{FFFD}");
        assert_ne!(Payload::Static("a\u{FFFD}").text(), Payload::Bytes(b"a\x80".to_vec()).text());
        // As small as the `Vec<u8>` it replaced, so `Event` and `Request` did not grow.
        assert_eq!(std::mem::size_of::<Payload>(), std::mem::size_of::<Vec<u8>>());
    }

    proptest! {
        #[test]
        fn every_form_reads_as_its_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40),
                                         text in "(\\PC|\u{FFFD}){0,12}") {
            for b in [bytes, text.into_bytes()] {
                let text = crate::trace::bytes_text(&b).into_owned();
                for p in forms(&b) {
                    prop_assert_eq!(&*p, &b[..]);
                    prop_assert_eq!(p.text(), text.as_str());
                    prop_assert_eq!(p.clone().into_vec(), b.clone());
                }
            }
        }
    }
}
