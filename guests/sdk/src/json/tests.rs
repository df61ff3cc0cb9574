//! The fast path against `serde_json`: the same values, bytes and errors on every input, and
//! proof that the fast path (not the fallback) is what answers the flat inputs.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Placed,
    PaymentDeclined,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Order {
    order_id: String,
    qty: i64,
    total: u32,
    express: bool,
    status: Status,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Price {
    price_cents: i64,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Count {
    n: u64,
}

#[derive(Debug, PartialEq, Deserialize)]
struct WithDefault {
    sku: String,
    #[serde(default)]
    qty: i64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Nested {
    id: String,
    order: Order,
}

#[derive(Debug, PartialEq, Serialize)]
struct Floaty {
    x: f64,
}

#[derive(Debug, PartialEq, Serialize)]
struct Listy {
    items: Vec<u8>,
}

/// `from_slice` agrees with `serde_json` on `input` (value or error message), for `T`.
fn same_decode<T>(input: &str)
where
    T: DeserializeOwned + PartialEq + fmt::Debug,
{
    let ours = from_slice::<T>(input.as_bytes()).map_err(|e| e.to_string());
    let theirs = serde_json::from_slice::<T>(input.as_bytes()).map_err(|e| e.to_string());
    assert_eq!(ours, theirs, "input {input}");
}

const ORDERS: &[&str] = &[
    r#"{"order_id":"ord-1","qty":3,"total":70,"express":true,"status":"placed","type":"x"}"#,
    r#" { "type" : null , "status":"payment_declined","express":false,"total":0,"qty":-9223372036854775808,"order_id":"" } "#,
    "{\"order_id\":\"a\",\n\t\"qty\":0,\r\"total\":4294967295,\"express\":true,\"status\":\"placed\",\"type\":\"t\"}",
    // Unknown keys are ignored, as derived structs do.
    r#"{"extra":1,"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":null,"more":"x"}"#,
    // Strings longer than the scanner's eight-byte chunks.
    r#"{"order_id":"ord-0123456789-abcdefghij","qty":3,"total":70,"express":true,"status":"payment_declined","type":"a longer type, 24 bytes"}"#,
    // Everything below goes to serde_json; the answer must still be serde_json's.
    r#"{"order_id":"o\"q","qty":1,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"ünï","qty":1,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1.5,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1e3,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":01,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":-,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":9223372036854775808,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":-9223372036854775809,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":99999999999999999999,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1,"total":4294967296,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1,"total":-1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":"1","total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":1,"qty":1,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":"yes","status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"lost","type":null}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":7}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed"}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"type":null}"#,
    r#"{"order_id":"o","order_id":"p","qty":1,"total":1,"express":true,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":null,"x":[1]}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":null,"x":{}}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":tru,"status":"placed","type":null}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":nul}"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":null} x"#,
    r#"{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":null,}"#,
    r#"{"order_id":"o" "qty":1}"#,
    r#"{"order_id" "o"}"#,
    r#"{"order_id":"o"#,
    r#"{"#,
    r#"{}"#,
    r#"[]"#,
    r#""order""#,
    "",
    "null",
    "{\"order_id\":\"a\u{1}b\",\"qty\":1,\"total\":1,\"express\":true,\"status\":\"placed\",\"type\":null}",
];

#[test]
fn decodes_as_serde_json_does() {
    for input in ORDERS {
        same_decode::<Order>(input);
    }
    for input in [
        r#"{"price_cents":899}"#,
        r#"{"sku":"sku-1","name":"Mug","price_cents":899}"#,
        r#"{"price_cents":899,"price_cents":900}"#,
        r#"{"name":"Mug"}"#,
        r#"{"price_cents":-0}"#,
        r#"{"price_cents":0}"#,
        r#"{"price_cents":-12}"#,
        r#"{"price_cents":true}"#,
        r#"{"price_cents":null}"#,
    ] {
        same_decode::<Price>(input);
    }
    for input in [r#"{"sku":"a"}"#, r#"{"sku":"a","qty":2}"#, r#"{"qty":2}"#] {
        same_decode::<WithDefault>(input);
    }
    let nested = r#"{"id":"n","order":{"order_id":"o","qty":1,"total":1,"express":true,"status":"placed","type":null}}"#;
    same_decode::<Nested>(nested);
    same_decode::<Vec<Price>>(r#"[{"price_cents":1}]"#);
    same_decode::<String>(r#""text""#);
    same_decode::<i64>("42");
}

#[test]
fn long_integers_decode_as_serde_json_does() {
    // The fast scan multiplies without overflow checks and gives up past 19 digits: around
    // every power of ten up to 10^21, and around u64::MAX and i64::MIN, it must still agree.
    let mut numbers = vec![
        "18446744073709551615".to_owned(),
        "18446744073709551616".to_owned(),
        "-9223372036854775808".to_owned(),
        "-9223372036854775809".to_owned(),
        "99999999999999999999".to_owned(),
    ];
    for digits in 1..=21 {
        let nines = "9".repeat(digits);
        let power = alloc::format!("1{}", "0".repeat(digits - 1));
        numbers.extend([nines.clone(), alloc::format!("-{nines}"), power.clone()]);
        numbers.push(alloc::format!("-{power}"));
    }
    for number in &numbers {
        same_decode::<Price>(&alloc::format!(r#"{{"price_cents":{number}}}"#));
        same_decode::<Count>(&alloc::format!(r#"{{"n":{number}}}"#));
    }
    // Up to 19 digits is the fast path's.
    assert_eq!(
        fast_from_slice::<Count>(br#"{"n":9999999999999999999}"#),
        Some(Count { n: 9_999_999_999_999_999_999 })
    );
}

#[test]
fn the_fast_path_answers_flat_objects() {
    // `fast_from_slice` is the fast path alone: `Some` means serde_json was never asked.
    let order = fast_from_slice::<Order>(ORDERS[0].as_bytes()).expect("flat input");
    assert_eq!(
        order,
        Order {
            order_id: "ord-1".to_owned(),
            qty: 3,
            total: 70,
            express: true,
            status: Status::Placed,
            kind: Some("x".to_owned()),
        }
    );
    for input in &ORDERS[..5] {
        assert!(fast_from_slice::<Order>(input.as_bytes()).is_some(), "{input}");
    }
    // And gives up on what it does not know, so that serde_json decides.
    for input in &ORDERS[5..] {
        assert!(fast_from_slice::<Order>(input.as_bytes()).is_none(), "{input}");
    }
    assert!(fast_from_slice::<WithDefault>(br#"{"sku":"a"}"#).is_none());
    assert!(fast_from_slice::<Price>(br#"{"price_cents":-0}"#).is_none());
    assert_eq!(fast_from_slice::<Price>(br#"{"price_cents":-1}"#), Some(Price { price_cents: -1 }));
}

/// `to_vec` writes what `serde_json::to_vec` writes.
fn same_encode<T: Serialize + ?Sized>(value: &T) {
    let ours = to_vec(value).expect("serializes");
    let theirs = serde_json::to_vec(value).expect("serializes");
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
}

fn order(order_id: &str, qty: i64, kind: Option<&str>) -> Order {
    Order {
        order_id: order_id.to_owned(),
        qty,
        total: u32::MAX,
        express: false,
        status: Status::PaymentDeclined,
        kind: kind.map(str::to_owned),
    }
}

#[test]
fn encodes_as_serde_json_does() {
    for qty in [0, 1, -1, 9, 10, 99, 100, 1234567890, i64::MAX, i64::MIN] {
        same_encode(&order("ord-1", qty, Some("t")));
    }
    for id in ["", "plain", "quote\"d", "back\\slash", "tab\there", "new\nline", "ünï", "\u{7f}"]
    {
        same_encode(&order(id, 1, None));
    }
    same_encode(&Nested { id: "n".to_owned(), order: order("o", 2, None) });
    same_encode(&Floaty { x: 1.5 });
    same_encode(&Listy { items: vec![1, 2] });
    same_encode(&AppErrorLike { error: "x" });
    same_encode(&Some(3u64));
    same_encode(&Option::<u8>::None);
    same_encode(&());
    same_encode("text");
    same_encode(&vec![1, 2, 3]);
    same_encode(&(u8::MAX, u16::MAX, u32::MAX, u64::MAX, i8::MIN, i16::MIN, i32::MIN));
}

#[derive(Serialize)]
struct AppErrorLike {
    error: &'static str,
}

#[test]
fn the_fast_writer_answers_flat_structs_and_gives_up_on_the_rest() {
    let mut writer = Writer { out: Vec::new() };
    order("ord-1", -5, Some("t")).serialize(&mut writer).expect("flat struct");
    assert_eq!(
        String::from_utf8_lossy(&writer.out),
        r#"{"order_id":"ord-1","qty":-5,"total":4294967295,"express":false,"status":"payment_declined","type":"t"}"#
    );
    for value in [order("quote\"d", 1, None), order("new\nline", 1, None)] {
        assert!(value.serialize(&mut Writer { out: Vec::new() }).is_err());
    }
    assert!(Floaty { x: 1.0 }.serialize(&mut Writer { out: Vec::new() }).is_err());
    assert!(Listy { items: vec![] }.serialize(&mut Writer { out: Vec::new() }).is_err());
}

#[test]
fn every_one_byte_change_of_a_flat_input_decodes_as_serde_json_does() {
    // Each position of each fast-path input, replaced by each byte that matters to the
    // grammar (or deleted): whatever the fast path accepts, serde_json must read the same.
    const BYTES: &[u8] = b" \"\\0-19}{,:xe.n\n\x01\x7f\x80\xc3\xff";
    for input in &ORDERS[..5] {
        for at in 0..input.len() {
            let mut variants: Vec<Vec<u8>> = BYTES
                .iter()
                .map(|&b| {
                    let mut v = input.as_bytes().to_vec();
                    v[at] = b;
                    v
                })
                .collect();
            let mut deleted = input.as_bytes().to_vec();
            deleted.remove(at);
            variants.push(deleted);
            for v in variants {
                let ours = from_slice::<Order>(&v).map_err(|e| e.to_string());
                let theirs = serde_json::from_slice::<Order>(&v).map_err(|e| e.to_string());
                assert_eq!(ours, theirs, "input {}", String::from_utf8_lossy(&v));
            }
        }
    }
}

#[test]
fn strings_are_scanned_eight_bytes_at_a_time_as_byte_by_byte() {
    // Every length up to three chunks and a bit, each byte that matters at each position:
    // the chunked scans agree with the byte-by-byte rules they replace.
    const SPECIAL: &[u8] = b"\"\\\x00\x01\x1f\x7f\x80\xc3\xff !~";
    let plain = |c: u8| (0x20..0x7f).contains(&c) && c != b'\\';
    for len in 0..=26 {
        for at in 0..len.max(1) {
            for &b in SPECIAL {
                let mut text = vec![b'a'; len];
                if at < len {
                    text[at] = b;
                }
                let escapes = text.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
                assert_eq!(needs_escape(&text), escapes, "{text:?}");
                let mut input = vec![b'"'];
                input.extend(&text);
                input.push(b'"');
                let stop = (1..input.len()).find(|&i| input[i] == b'"' || !plain(input[i]));
                let closing = stop.filter(|&i| input[i] == b'"');
                assert_eq!(scan_string(&input, 1), closing, "{input:?}");
                let open = &input[..input.len() - 1];
                assert_eq!(scan_string(open, 1), closing.filter(|&i| i < open.len()), "{open:?}");
            }
        }
    }
}

#[test]
fn keys_compare_as_slices_do() {
    // Every length a key comparison takes a different path for (0–3 bytes, 4–7, 8–16, longer),
    // equal and differing at each position.
    for n in 0..40 {
        let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        assert!(same_bytes(&a, &a.clone()), "{n}");
        for at in 0..n {
            let mut b = a.clone();
            b[at] ^= 0x20;
            assert!(!same_bytes(&a, &b), "{n} differing at {at}");
        }
        let longer = [a.as_slice(), b"x"].concat();
        assert!(!same_bytes(&a, &longer) && !same_bytes(&longer, &a), "{n}");
    }
}

#[test]
fn keys_in_any_order_decode_as_serde_json_does_on_the_fast_path() {
    // Client requests arrive with sorted keys: every order of the six fields, and with a
    // repeated, a missing or an unknown key, as serde_json reads it.
    let fields = [
        r#""order_id":"o""#,
        r#""qty":3"#,
        r#""total":70"#,
        r#""express":true"#,
        r#""status":"placed""#,
        r#""type":null"#,
    ];
    let mut order: Vec<usize> = (0..fields.len()).collect();
    let mut orders = Vec::new();
    permutations(&mut order, 0, &mut orders);
    assert_eq!(orders.len(), 720);
    for order in &orders {
        let body: Vec<&str> = order.iter().map(|&i| fields[i]).collect();
        let input = alloc::format!("{{{}}}", body.join(","));
        same_decode::<Order>(&input);
        assert!(fast_from_slice::<Order>(input.as_bytes()).is_some(), "{input}");
        for extra in [fields[order[0]], r#""other":1"#] {
            same_decode::<Order>(&alloc::format!("{{{},{extra}}}", body.join(",")));
        }
        same_decode::<Order>(&alloc::format!("{{{}}}", body[1..].join(",")));
    }
}

fn permutations(items: &mut [usize], at: usize, out: &mut Vec<Vec<usize>>) {
    if at == items.len() {
        out.push(items.to_vec());
        return;
    }
    for i in at..items.len() {
        items.swap(at, i);
        permutations(items, at + 1, out);
        items.swap(at, i);
    }
}

#[test]
fn scratch_arrays_start_empty() {
    assert!(empty_pairs().iter().all(|p| p.key == (0, 0) && matches!(p.value, Token::Null)));
    assert!(null_tokens().iter().all(|t| matches!(t, Token::Null)));
}

#[test]
fn the_writer_escapes_at_every_length_and_position_as_serde_json_does() {
    // Up to eight bytes take one padded word, longer texts a loop of words: a character to
    // escape anywhere, at any length, must send the writer to serde_json.
    for n in 0..26 {
        let plain: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        same_encode(&plain);
        assert!(!needs_escape(plain.as_bytes()), "{n}");
        for at in 0..n {
            for bad in ['"', '\\', '\u{1}', '\n'] {
                let mut text: Vec<char> = plain.chars().collect();
                text[at] = bad;
                let text: String = text.into_iter().collect();
                same_encode(&text);
                assert!(needs_escape(text.as_bytes()), "{text:?}");
            }
        }
    }
}
