//! JSON for requests, responses, calls and records: a small fast path for the flat objects
//! services exchange, with `serde_json` behind it for everything else.
//!
//! Why, in wasmi's fuel model (wasmi 2, the simulator's interpreter): a function call charges
//! fuel for *all* of its code outside loops, and every loop iteration for the whole loop body,
//! whether that code runs or not (LLVM emits only `block`/`br_if`/`br_table`, and wasmi meters
//! per `loop` and per function entry). `serde_json` with serde's derived visitors inlines the
//! field `match`, every field's parser and every error message into one loop over the keys,
//! so each key pays for all of it. Here the object is scanned once by a small loop into
//! `(key, token)` pairs, the derived `Deserialize` gets the declared fields in order through
//! `visit_seq` (straight-line code, no field `match`), and the error type is a zero-sized
//! [`GiveUp`], so serde's error formatting is dead code.
//!
//! The fast path only succeeds where `serde_json` succeeds with the same value, and otherwise
//! gives up: then [`from_slice`] and [`to_vec`] run `serde_json` on the same input, so errors
//! (and their messages) are always `serde_json`'s. The reader accepts one JSON object whose
//! values are strings of printable ASCII without escapes, integers that fit 64 bits, `true`,
//! `false` or `null`, with every declared field present exactly once; unknown keys are ignored
//! as derived structs do (`#[serde(deny_unknown_fields)]` is *not* honoured by the fast path:
//! do not use it on SDK-read types). The writer handles structs, strings without characters to
//! escape, integers, booleans, `Option`, unit variants and newtypes. The native tests compare
//! both paths on many inputs.
//!
//! Host time is not fuel: a call inside the guest costs wasmi a frame set-up and a return
//! (its top handlers in a `perf` profile of the shop), far more than the one operator fuel
//! charges for it. So the small helpers every request runs through — the escape check, the
//! writer's `put`, `string`, `serialize_str`/`_u64`/`_i64`, `serialize_field` (whose static
//! key's escape check then folds away), the string scan — are `#[inline(always)]`, and only
//! rare paths and loops worth their own region stay out of line (benches/README.md, "Lighter
//! guests, sixth round").

use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// Decodes `bytes` as `T`, with the value and errors `serde_json::from_slice` gives.
///
/// # Errors
/// `serde_json`'s error for input that does not decode as `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    match fast_from_slice(bytes) {
        Some(value) => Ok(value),
        None => slow_from_slice(bytes),
    }
}

/// `serde_json` behind the fast path, out of line: inlined into its callers, its code would
/// be paid at every call of theirs (a function's fuel is charged for all of its code outside
/// loops on entry, taken or not).
#[cold]
#[inline(never)]
fn slow_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Encodes `value` as compact JSON, byte for byte as `serde_json::to_vec` does.
///
/// # Errors
/// `serde_json`'s error for a value that does not serialize.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut writer = Writer { out: Vec::with_capacity(128) };
    match value.serialize(&mut writer) {
        Ok(()) => Ok(writer.out),
        Err(GiveUp) => slow_to_vec(value),
    }
}

/// `serde_json` behind the fast writer, out of line (see [`slow_from_slice`]).
#[cold]
#[inline(never)]
fn slow_to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(value)
}

/// The fast path's only error: "not mine, ask `serde_json`".
#[derive(Debug)]
pub struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outside the fast JSON subset")
    }
}

impl core::error::Error for GiveUp {}

impl de::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

impl ser::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

/// The most keys an object may have on the fast path.
const KEYS_MAX: usize = 16;

/// One value of a flat object, as scanned.
///
/// `repr(u8)` with `Null` first (discriminant 0): all-zero bytes are `Token::Null`, so arrays of
/// tokens and pairs start zeroed ([`empty_pairs`], [`null_tokens`]).
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
enum Token {
    Null,
    /// A string's content: `input[start..end]`, printable ASCII without `"` or `\`.
    Str(u32, u32),
    /// An integer: non-negative as `u64`, negative as `i64` (serde_json's `visit_u64` /
    /// `visit_i64` split).
    Unsigned(u64),
    Negative(i64),
    Bool(bool),
}

/// A key (`input[start..end]`) and its value.
#[derive(Debug, Clone, Copy)]
struct Pair {
    key: (u32, u32),
    value: Token,
}

/// `KEYS_MAX` pairs `{ key: (0, 0), value: Token::Null }`: one `memory.fill`, where an array
/// expression of them is a loop of one iteration per element, each paying the loop's body in
/// fuel, at every scan.
fn empty_pairs() -> [Pair; KEYS_MAX] {
    // SAFETY: all-zero bytes are a valid `Pair`: a key is two `u32`s, and `Token` is
    // `repr(u8)` with `Null` (no payload) as discriminant 0.
    unsafe { core::mem::zeroed() }
}

/// `KEYS_MAX` times `Token::Null`, as [`empty_pairs`] (at every decoded struct).
fn null_tokens() -> [Token; KEYS_MAX] {
    // SAFETY: all-zero bytes are `Token::Null`: `repr(u8)`, `Null` is discriminant 0.
    unsafe { core::mem::zeroed() }
}

/// A callee's reply on the fast path, scanned once: `Err(code)` for an application error
/// (`"error"` a plain string), else the response; `None` if either needs `serde_json` (the
/// caller then probes and decodes as before, so the outcome is the same either way).
#[inline(never)]
pub(crate) fn fast_reply<T: DeserializeOwned>(
    bytes: &[u8],
) -> Option<Result<T, alloc::string::String>> {
    let mut pairs = empty_pairs();
    let len = scan_object(bytes, &mut pairs)?;
    let object = Object { input: bytes, pairs: &pairs[..len] };
    let mut errors = object.pairs.iter().filter(|pair| same_bytes(object.key(pair), b"error"));
    match (errors.next(), errors.next()) {
        (None, _) => T::deserialize(object).ok().map(Ok),
        (Some(&Pair { value: Token::Str(start, end), .. }), None) => {
            Some(Err(token_str(bytes, start, end).into()))
        }
        // A repeated "error", or one that is not a string: `serde_json` decides.
        _ => None,
    }
}

#[inline(never)]
fn fast_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut pairs = empty_pairs();
    let len = scan_object(bytes, &mut pairs)?;
    T::deserialize(Object { input: bytes, pairs: &pairs[..len] }).ok()
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

/// The index of the first byte at or after `at` that is not JSON whitespace. Compact JSON has
/// none, and a loop's header is charged in fuel whenever it is entered: the loop is out of line,
/// behind one comparison.
#[inline(always)]
fn skip_space(input: &[u8], at: usize) -> usize {
    match input.get(at) {
        Some(&b) if b <= b' ' => skip_space_loop(input, at),
        _ => at,
    }
}

#[inline(never)]
fn skip_space_loop(input: &[u8], mut at: usize) -> usize {
    while at < input.len() && is_space(input[at]) {
        at += 1;
    }
    at
}

/// Scans a string whose opening quote is at `at - 1`: the index of its closing quote, or
/// `None` for anything but printable ASCII without escapes.
#[inline(always)]
fn scan_string(input: &[u8], at: usize) -> Option<usize> {
    let end = string_end(input, at);
    (end != NOT_PLAIN).then_some(end)
}

/// [`string_end`]'s `None`: no index, as inputs are shorter than `u32::MAX` bytes.
const NOT_PLAIN: usize = usize::MAX;

/// [`scan_string`] as one number, [`NOT_PLAIN`] for `None` (an `Option<usize>` is returned
/// through memory on wasm32, a dozen operators more per call). In line at its two sites in
/// [`scan_object`]: the loop costs the same fuel there, and a call per key and per string value
/// costs host time.
#[inline(always)]
fn string_end(input: &[u8], mut at: usize) -> usize {
    // Eight bytes at a time: a loop's every iteration costs its whole body in fuel, and the
    // function's entry all of its code outside the loop, so the rare tail is out of line.
    loop {
        let Some(&chunk) = input.get(at..).and_then(|rest| rest.first_chunk::<8>()) else {
            return string_end_tail(input, at);
        };
        let stops = not_plain(u64::from_le_bytes(chunk));
        if stops != 0 {
            return closing_quote(input, at, stops);
        }
        at += 8;
    }
}

/// [`string_end`]'s last fewer than eight bytes, padded with NULs (which stop the scan).
#[inline(never)]
fn string_end_tail(input: &[u8], at: usize) -> usize {
    let Some(rest) = input.get(at..) else { return NOT_PLAIN };
    let mut chunk = [0u8; 8];
    chunk[..rest.len()].copy_from_slice(rest);
    closing_quote(input, at, not_plain(u64::from_le_bytes(chunk)))
}

/// The index of the lowest flagged byte of the eight at `at` if it is a `"`, else
/// [`NOT_PLAIN`].
fn closing_quote(input: &[u8], at: usize, stops: u64) -> usize {
    // The lowest flag is exact: the flags' borrows only run upwards.
    let at = at + (stops.trailing_zeros() / 8) as usize;
    if input.get(at) == Some(&b'"') { at } else { NOT_PLAIN }
}

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each byte of `x` below `n` (`n` ≤ 0x80); exact up to the lowest flagged
/// byte, above it a flag may be spurious (the subtraction's borrow).
fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// The high bit of each byte of `x` equal to `b` (exact up to the lowest flagged byte).
fn equal(x: u64, b: u8) -> u64 {
    below(x ^ (ONES * u64::from(b)), 1)
}

/// Flags (see [`below`]) the bytes of `x` a fast-path string cannot hold: not printable
/// ASCII (controls, DEL, non-ASCII), `"` and `\\`.
fn not_plain(x: u64) -> u64 {
    (x & HIGHS) | below(x, 0x20) | equal(x, b'"') | equal(x, b'\\') | equal(x, 0x7f)
}

/// Flags (see [`below`]) the bytes of `x` JSON escapes: controls, `"` and `\\`.
fn escaped(x: u64) -> u64 {
    below(x, 0x20) | equal(x, b'"') | equal(x, b'\\')
}

/// Whether `text` has a byte JSON escapes, eight bytes at a time.
#[inline(always)]
fn needs_escape(text: &[u8]) -> bool {
    // Up to eight bytes (most keys and many values), one word padded with spaces and no loop:
    // entering one is charged in fuel even for no iteration.
    if text.len() > 8 {
        return long_needs_escape(text);
    }
    let mut padded = [b' '; 8];
    padded[..text.len()].copy_from_slice(text);
    escaped(u64::from_le_bytes(padded)) != 0
}

/// [`needs_escape`] for more than eight bytes, eight at a time.
#[inline(never)]
fn long_needs_escape(text: &[u8]) -> bool {
    let (chunks, rest) = text.as_chunks::<8>();
    let mut last = [b' '; 8];
    last[..rest.len()].copy_from_slice(rest);
    chunks.iter().any(|&chunk| escaped(u64::from_le_bytes(chunk)) != 0)
        || escaped(u64::from_le_bytes(last)) != 0
}

/// Scans an integer at `at` (JSON grammar: no leading zeros); its value and the index after
/// it, or `None` for a fraction, an exponent or anything beyond 64 bits.
fn scan_integer(input: &[u8], mut at: usize) -> Option<(Token, usize)> {
    let negative = input.get(at) == Some(&b'-');
    if negative {
        at += 1;
    }
    let first = at;
    let mut value: u64 = 0;
    while let Some(&b) = input.get(at) {
        if !b.is_ascii_digit() {
            break;
        }
        // No overflow check (on wasm32 a call into compiler-rt's 128-bit multiply per digit):
        // longer numbers than can overflow give up below.
        value = value.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        at += 1;
    }
    let digits = at - first;
    // Up to 19 digits fit a `u64` (10^19 − 1 < 2^64); more go to serde_json, which reads the
    // same value where there is one.
    if digits == 0 || digits > 19 || (digits > 1 && input[first] == b'0') {
        return None;
    }
    if matches!(input.get(at), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let token = if negative {
        // serde_json reads `-0` as the float -0.0; -(2^63) is the most negative i64; both
        // and anything below go to serde_json.
        if value == 0 {
            return None;
        }
        Token::Negative(0i64.checked_sub_unsigned(value)?)
    } else {
        Token::Unsigned(value)
    };
    Some((token, at))
}

/// Scans one flat JSON object (the whole input) into `pairs`: how many, or `None` if the input
/// is anything else.
#[inline(never)]
fn scan_object(input: &[u8], pairs: &mut [Pair; KEYS_MAX]) -> Option<usize> {
    if input.len() >= u32::MAX as usize {
        return None;
    }
    let mut at = skip_space(input, 0);
    if input.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(input, at + 1);
    let mut len = 0;
    if input.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            if input.get(at) != Some(&b'"') || len == KEYS_MAX {
                return None;
            }
            let key_end = scan_string(input, at + 1)?;
            let key = (at as u32 + 1, key_end as u32);
            at = skip_space(input, key_end + 1);
            if input.get(at) != Some(&b':') {
                return None;
            }
            at = skip_space(input, at + 1);
            let (value, next) = scan_value(input, at)?;
            pairs[len] = Pair { key, value };
            len += 1;
            at = skip_space(input, next);
            match input.get(at) {
                Some(b',') => at = skip_space(input, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_space(input, at) == input.len()).then_some(len)
}

/// A value and the index after it. Strings, the common case, in line; the rest out of line:
/// this is the body of [`scan_object`]'s loop over keys, and every iteration pays all of it.
#[inline(always)]
fn scan_value(input: &[u8], at: usize) -> Option<(Token, usize)> {
    if input.get(at) == Some(&b'"') {
        let end = scan_string(input, at + 1)?;
        Some((Token::Str(at as u32 + 1, end as u32), end + 1))
    } else {
        scan_scalar(input, at)
    }
}

/// A value other than a string: `true`, `false`, `null` or an integer.
#[inline(never)]
fn scan_scalar(input: &[u8], at: usize) -> Option<(Token, usize)> {
    match *input.get(at)? {
        b't' | b'f' | b'n' => scan_literal(input, at),
        _ => scan_integer(input, at),
    }
}

/// `true`, `false` or `null`, out of line ([`scan_scalar`]'s entry pays for integers only).
#[inline(never)]
fn scan_literal(input: &[u8], at: usize) -> Option<(Token, usize)> {
    match *input.get(at)? {
        b't' => literal(input, at, b"true", Token::Bool(true)),
        b'f' => literal(input, at, b"false", Token::Bool(false)),
        _ => literal(input, at, b"null", Token::Null),
    }
}

fn literal(input: &[u8], at: usize, word: &[u8], token: Token) -> Option<(Token, usize)> {
    let end = at + word.len();
    (input.get(at..end)? == word).then_some((token, end))
}

/// `a == b` for keys. The slices' `==` calls `memcmp`, a loop over bytes whose every iteration
/// pays the loop's body in fuel; here keys of up to 16 bytes take two word comparisons.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && if a.len() < 8 { same_short(a, b) } else { same_long(a, b) }
}

/// `a == b` for equal lengths below 8: two (overlapping) 4-byte words, or the bytes at the
/// start, middle and end of up to three.
#[inline(never)]
fn same_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    if n >= 4 {
        // SAFETY: both slices hold at least `n` ≥ 4 bytes; the words at 0 and `n - 4` lie
        // inside them (unaligned reads).
        unsafe {
            let (a, b) = (a.as_ptr(), b.as_ptr());
            a.cast::<u32>().read_unaligned() == b.cast::<u32>().read_unaligned()
                && a.add(n - 4).cast::<u32>().read_unaligned()
                    == b.add(n - 4).cast::<u32>().read_unaligned()
        }
    } else {
        // SAFETY: 0, n / 2 and n - 1 are below `n` ≥ 1, inside both slices.
        n == 0
            || unsafe {
                *a.get_unchecked(0) == *b.get_unchecked(0)
                    && *a.get_unchecked(n / 2) == *b.get_unchecked(n / 2)
                    && *a.get_unchecked(n - 1) == *b.get_unchecked(n - 1)
            }
    }
}

/// `a == b` for equal lengths of 8 to 16: two (overlapping) 8-byte words; longer keys word by
/// word, out of line.
#[inline(never)]
fn same_long(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    if n > 16 {
        return same_longer(a, b);
    }
    // SAFETY: both slices hold at least `n` ≥ 8 bytes (the caller's length check); the words
    // at 0 and `n - 8` lie inside them (unaligned reads).
    unsafe {
        let (a, b) = (a.as_ptr(), b.as_ptr());
        a.cast::<u64>().read_unaligned() == b.cast::<u64>().read_unaligned()
            && a.add(n - 8).cast::<u64>().read_unaligned()
                == b.add(n - 8).cast::<u64>().read_unaligned()
    }
}

#[inline(never)]
fn same_longer(a: &[u8], b: &[u8]) -> bool {
    let (chunks, rest) = a.as_chunks::<8>();
    let (other, other_rest) = b.as_chunks::<8>();
    chunks.iter().zip(other).all(|(x, y)| u64::from_le_bytes(*x) == u64::from_le_bytes(*y))
        && rest == other_rest
}

/// A scanned object: hands a derived struct its declared fields in order.
struct Object<'a, 'de> {
    input: &'de [u8],
    pairs: &'a [Pair],
}

impl Object<'_, '_> {
    fn key(&self, pair: &Pair) -> &[u8] {
        let (start, end) = pair.key;
        &self.input[start as usize..end as usize]
    }

    /// The common case, in one pass instead of one per field: the keys are exactly `fields`, in
    /// order (so each once); then their values are in `values`. (`false` may leave some written:
    /// the caller then looks each field up.)
    fn in_order(&self, fields: &[&str], values: &mut [Token; KEYS_MAX]) -> bool {
        if self.pairs.len() != fields.len() {
            return false;
        }
        for ((value, pair), name) in values.iter_mut().zip(self.pairs).zip(fields) {
            if !same_bytes(self.key(pair), name.as_bytes()) {
                return false;
            }
            *value = pair.value;
        }
        true
    }

    /// Each of `fields`' values in `values`, in one pass over the keys: `false` if a field is
    /// absent or its key repeated (serde_json's "missing field" / "duplicate field"), or if two
    /// declared names are the same. Keys not declared are skipped, as derived structs do. (One
    /// pass over the keys instead of one per field: client requests arrive with their keys
    /// sorted, not in declared order.)
    fn look_up(&self, fields: &[&str], values: &mut [Token; KEYS_MAX]) -> bool {
        let mut found: u32 = 0;
        for pair in self.pairs {
            let key = self.key(pair);
            // The smallest loop body that finds the field: each iteration pays all of it.
            let Some(index) = fields.iter().position(|name| same_bytes(key, name.as_bytes()))
            else {
                continue;
            };
            if found & (1 << index) != 0 {
                return false;
            }
            found |= 1 << index;
            if let Some(value) = values.get_mut(index) {
                *value = pair.value;
            }
        }
        found == (1u32 << fields.len()) - 1
    }
}

impl<'de> de::Deserializer<'de> for Object<'_, 'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, GiveUp> {
        Err(GiveUp)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        if fields.len() > KEYS_MAX {
            return Err(GiveUp);
        }
        let mut values = null_tokens();
        if !self.in_order(fields, &mut values) && !self.look_up(fields, &mut values) {
            return Err(GiveUp);
        }
        visitor.visit_seq(Fields { input: self.input, values: &values[..fields.len()], next: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The declared fields' values, in declaration order.
struct Fields<'a, 'de> {
    input: &'de [u8],
    values: &'a [Token],
    next: usize,
}

impl<'de> de::SeqAccess<'de> for Fields<'_, 'de> {
    type Error = GiveUp;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, GiveUp> {
        let Some(&token) = self.values.get(self.next) else { return Ok(None) };
        self.next += 1;
        seed.deserialize(Value { input: self.input, token }).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.values.len() - self.next)
    }
}

/// One scanned value, deserialized as `serde_json` would deserialize it.
struct Value<'de> {
    input: &'de [u8],
    token: Token,
}

impl<'de> Value<'de> {
    fn str(&self, start: u32, end: u32) -> &'de str {
        token_str(self.input, start, end)
    }
}

/// The text of a `Token::Str(start, end)` of `input`.
fn token_str(input: &[u8], start: u32, end: u32) -> &str {
    let bytes = &input[start as usize..end as usize];
    debug_assert!(bytes.is_ascii());
    // SAFETY: `scan_string` admitted only printable ASCII into a `Token::Str`, and ASCII
    // is UTF-8. (`from_utf8` would be a second pass over the bytes, and a large function
    // whose every call costs its whole body in fuel.)
    unsafe { core::str::from_utf8_unchecked(bytes) }
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self.token {
            Token::Str(start, end) => visitor.visit_borrowed_str(self.str(start, end)),
            Token::Unsigned(n) => visitor.visit_u64(n),
            Token::Negative(n) => visitor.visit_i64(n),
            Token::Bool(b) => visitor.visit_bool(b),
            Token::Null => visitor.visit_unit(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self.token {
            Token::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        // Unit variants only, as a string (serde_json's externally tagged form).
        match self.token {
            Token::Str(start, end) => visitor.visit_enum(self.str(start, end).into_deserializer()),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        // serde_json hands a string's bytes to a bytes visitor.
        match self.token {
            Token::Str(start, end) => visitor.visit_borrowed_bytes(self.str(start, end).as_bytes()),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.deserialize_bytes(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// Writes compact JSON into one buffer.
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// `"text"`, or [`GiveUp`] if `text` has a character JSON escapes (serde_json's rules:
    /// `"`, `\` and controls; other characters are written as they are).
    #[inline(always)]
    fn string(&mut self, text: &str) -> Result<(), GiveUp> {
        if needs_escape(text.as_bytes()) {
            return Err(GiveUp);
        }
        self.put(b"", text.as_bytes(), b"");
        Ok(())
    }

    /// `before` `"` `text` `"` `after` with one reservation and three copies (`push` and
    /// `extend_from_slice` check the capacity per piece, and every call pays its whole code).
    #[inline(always)]
    fn put(&mut self, before: &[u8], text: &[u8], after: &[u8]) {
        let n = before.len() + 1 + text.len() + 1 + after.len();
        self.out.reserve(n);
        let len = self.out.len();
        // SAFETY: `reserve` made room for `n` more bytes, all of which are written below
        // before the length covers them; the sources are not in the buffer (`&mut self`).
        unsafe {
            let mut at = self.out.as_mut_ptr().add(len);
            core::ptr::copy_nonoverlapping(before.as_ptr(), at, before.len());
            at = at.add(before.len());
            at.write(b'"');
            at = at.add(1);
            core::ptr::copy_nonoverlapping(text.as_ptr(), at, text.len());
            at = at.add(text.len());
            at.write(b'"');
            core::ptr::copy_nonoverlapping(after.as_ptr(), at.add(1), after.len());
            self.out.set_len(len + n);
        }
    }

    /// Decimal digits of `n`, as `itoa` (serde_json) writes them.
    fn unsigned(&mut self, n: u64) {
        let mut buf = [0u8; 20];
        let at = digits(n, &mut buf);
        self.out.extend_from_slice(&buf[at..]);
    }

    fn signed(&mut self, n: i64) {
        if n < 0 {
            self.out.push(b'-');
        }
        self.unsigned(n.unsigned_abs());
    }
}

/// Writes the decimal digits of `n` at the end of `buf`, as `itoa` (serde_json) and
/// `to_string` write them, without `core::fmt`, and returns where they start: the one digit
/// loop behind [`Writer`]'s integers and [`crate::decimal`].
pub(crate) fn digits(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = ser::Impossible<(), GiveUp>;
    type SerializeTuple = ser::Impossible<(), GiveUp>;
    type SerializeTupleStruct = ser::Impossible<(), GiveUp>;
    type SerializeTupleVariant = ser::Impossible<(), GiveUp>;
    type SerializeMap = ser::Impossible<(), GiveUp>;
    type SerializeStruct = Struct<'a>;
    type SerializeStructVariant = ser::Impossible<(), GiveUp>;

    fn serialize_bool(self, v: bool) -> Result<(), GiveUp> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), GiveUp> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), GiveUp> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), GiveUp> {
        self.serialize_i64(v.into())
    }

    #[inline(always)]
    fn serialize_i64(self, v: i64) -> Result<(), GiveUp> {
        self.signed(v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), GiveUp> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), GiveUp> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), GiveUp> {
        self.serialize_u64(v.into())
    }

    #[inline(always)]
    fn serialize_u64(self, v: u64) -> Result<(), GiveUp> {
        self.unsigned(v);
        Ok(())
    }

    fn serialize_f32(self, _: f32) -> Result<(), GiveUp> {
        Err(GiveUp)
    }

    fn serialize_f64(self, _: f64) -> Result<(), GiveUp> {
        Err(GiveUp)
    }

    fn serialize_char(self, _: char) -> Result<(), GiveUp> {
        Err(GiveUp)
    }

    #[inline(always)]
    fn serialize_str(self, v: &str) -> Result<(), GiveUp> {
        self.string(v)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), GiveUp> {
        Err(GiveUp)
    }

    fn serialize_none(self) -> Result<(), GiveUp> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), GiveUp> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), GiveUp> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), GiveUp> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), GiveUp> {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), GiveUp> {
        Err(GiveUp)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, GiveUp> {
        Err(GiveUp)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, GiveUp> {
        Err(GiveUp)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, GiveUp> {
        Err(GiveUp)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, GiveUp> {
        Err(GiveUp)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, GiveUp> {
        Err(GiveUp)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Struct<'a>, GiveUp> {
        self.out.push(b'{');
        Ok(Struct { writer: self, first: true })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, GiveUp> {
        Err(GiveUp)
    }
}

/// An object being written: `{` is out, `}` comes with `end`.
struct Struct<'a> {
    writer: &'a mut Writer,
    first: bool,
}

impl ser::SerializeStruct for Struct<'_> {
    type Ok = ();
    type Error = GiveUp;

    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        if needs_escape(key.as_bytes()) {
            return Err(GiveUp);
        }
        // `,"key":` (no comma before the first), in one piece.
        self.writer.put(if self.first { b"" } else { b"," }, key.as_bytes(), b":");
        self.first = false;
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), GiveUp> {
        self.writer.out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests;
