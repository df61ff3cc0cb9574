//! Writing one trace event as JSON, byte for byte as `serde_json::to_writer` writes it, without
//! its generic machinery: field names are written as they are (no escaping pass over them),
//! strings that need no escaping are copied in one go, integers are formatted directly. The
//! trace's hash pins those bytes, so anything this writer does not handle itself — a string
//! needing escapes, a float, a nested value — is handed back to `serde_json` (a value at a
//! time), or, for a shape it does not know, the whole line is (see [`Trace::emit`]).
//!
//! The JSON text is the same because the rules are serde_json's: a struct is a
//! `{"name":value,…}` object, a string is quoted with `"` and `\`, and bytes below 0x20
//! escaped (delegated), integers in decimal, `None` as `null`. Checked against serde_json on
//! every trace kind and on arbitrary strings (tests below and in `trace/tests.rs`).
//!
//! [`Trace::emit`]: super::Trace::emit

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible, SerializeStruct};

/// A shape the fast writer leaves to serde_json (the caller writes the line with it instead).
#[derive(Debug)]
pub(super) struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a flat struct of strings and numbers")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

/// Appends `value` (a struct of plain fields, as every trace event is) to `out` as serde_json
/// would. On `Err`, `out` holds a partial line the caller must discard.
pub(super) fn write<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), Unsupported> {
    value.serialize(Line { out })
}

/// Two decimal digits per value below 100 (as itoa formats: two digits per division).
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `n` in decimal.
pub(super) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[at..]);
}

fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// A quoted JSON string: copied when nothing in it needs escaping (serde_json escapes `"`,
/// `\` and bytes below 0x20, nothing else), else written by serde_json.
fn push_str(out: &mut Vec<u8>, s: &str) {
    // No early exit: the scan of a whole (short) string vectorises.
    let escapes = s.bytes().fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if escapes {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// The event itself: a struct (serde's internally tagged enum writes its tag as the first
/// field).
struct Line<'a> {
    out: &'a mut Vec<u8>,
}

/// The fields of the event's object.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

/// One field's value.
struct Value<'a> {
    out: &'a mut Vec<u8>,
}

impl SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        // A field name is a Rust identifier (snake_case): nothing in it to escape.
        debug_assert!(!key.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'));
        self.out.reserve(key.len() + 3);
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        value.serialize(Value { out: self.out })
    }

    fn end(self) -> Result<(), Unsupported> {
        self.out.push(b'}');
        Ok(())
    }
}

/// The `Serializer` methods of a serializer that accepts nothing: each returns `Unsupported`.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Unsupported> {
            Err(Unsupported)
        }
    )*};
}

/// The compound `Serializer` methods, each refused.
macro_rules! refuse_compounds {
    () => {
        type SerializeSeq = Impossible<(), Unsupported>;
        type SerializeTuple = Impossible<(), Unsupported>;
        type SerializeTupleStruct = Impossible<(), Unsupported>;
        type SerializeTupleVariant = Impossible<(), Unsupported>;
        type SerializeMap = Impossible<(), Unsupported>;
        type SerializeStructVariant = Impossible<(), Unsupported>;

        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<(), Unsupported> {
            Err(Unsupported)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), Unsupported> {
            Err(Unsupported)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
            Err(Unsupported)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Unsupported> {
            Err(Unsupported)
        }
    };
}

impl<'a> ser::Serializer for Line<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeStruct = Fields<'a>;

    refuse_compounds!();
    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Fields<'a>, Unsupported> {
        // serde_json writes an empty struct as `{}` at once; the fields' commas assume one.
        if len == 0 {
            return Err(Unsupported);
        }
        self.out.push(b'{');
        Ok(Fields { out: self.out, first: true })
    }
}

impl ser::Serializer for Value<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeStruct = Impossible<(), Unsupported>;

    refuse_compounds!();
    refuse!(
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        push_i64(self.out, v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        push_i64(self.out, v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        push_i64(self.out, v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        push_i64(self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        push_u64(self.out, v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        push_u64(self.out, v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        push_u64(self.out, v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        push_u64(self.out, v);
        Ok(())
    }
    // Floats and chars: serde_json's own text for the value.
    fn serialize_f32(self, v: f32) -> Result<(), Unsupported> {
        serde_json::to_writer(&mut *self.out, &v).map_err(|_| Unsupported)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        serde_json::to_writer(&mut *self.out, &v).map_err(|_| Unsupported)
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        serde_json::to_writer(&mut *self.out, &v).map_err(|_| Unsupported)
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        push_str(self.out, v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Unsupported> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Unsupported>, Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fast<T: Serialize>(v: &T) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        write(&mut out, v).ok().map(|()| out)
    }

    #[derive(Serialize)]
    #[serde(tag = "ev", rename_all = "snake_case")]
    enum Sample<'a> {
        Plain { a: u64, b: i32, c: bool, d: &'a str, e: Option<&'a str>, f: u32 },
        Floats { x: f64, y: f32, z: char },
        Unit,
        Nested { v: Vec<u8> },
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let cases = [
            Sample::Plain { a: 0, b: -7, c: true, d: "", e: None, f: u32::MAX },
            Sample::Plain {
                a: u64::MAX,
                b: i32::MIN,
                c: false,
                d: "é \u{7f} ✓",
                e: Some("x"),
                f: 10,
            },
            Sample::Plain {
                a: 10,
                b: 0,
                c: false,
                d: "\"q\" \\ \n\t\u{1}",
                e: Some("\u{1f}"),
                f: 0,
            },
            Sample::Floats { x: 0.1, y: -1.5e-7, z: '"' },
            Sample::Floats { x: f64::NAN, y: f32::INFINITY, z: '\u{0}' },
            Sample::Unit,
        ];
        for c in &cases {
            let json = serde_json::to_vec(c).expect("serialises");
            let ours = fast(c).expect("a flat struct");
            assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&json));
        }
    }

    #[test]
    fn hands_nested_values_back() {
        assert!(fast(&Sample::Nested { v: vec![1] }).is_none());
        assert!(fast(&3u64).is_none(), "not a struct");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 9, 10, 99, 100, 101, 999, 1000, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut ours = Vec::new();
            push_u64(&mut ours, n);
            assert_eq!(String::from_utf8_lossy(&ours), n.to_string());
        }
    }

    #[test]
    fn every_byte_is_escaped_as_serde_json_escapes_it() {
        for b in 0u8..128 {
            let s = format!("a{}b", b as char);
            let mut ours = Vec::new();
            push_str(&mut ours, &s);
            assert_eq!(ours, serde_json::to_vec(&s).expect("serialises"), "byte {b:#x}");
        }
    }

    proptest! {
        #[test]
        fn any_string_and_numbers(d in any::<String>(), e in proptest::option::of(any::<String>()),
                                  a in any::<u64>(), b in any::<i32>(), f in any::<u32>(), c in any::<bool>()) {
            let v = Sample::Plain { a, b, c, d: &d, e: e.as_deref(), f };
            prop_assert_eq!(fast(&v), Some(serde_json::to_vec(&v).expect("serialises")));
        }
    }
}
