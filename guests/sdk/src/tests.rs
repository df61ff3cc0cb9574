use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::log::Level;
use crate::{Ack, AppError, CallError, HostError, Reply, cache, call, fake, kv, log, publish};

#[test]
fn decimals() {
    assert_eq!(crate::parse_decimal(b"0"), Some(0));
    assert_eq!(crate::parse_decimal(b"42"), Some(42));
    assert_eq!(crate::parse_decimal(b"-7"), Some(-7));
    assert_eq!(crate::parse_decimal(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(crate::parse_decimal(b"-9223372036854775808"), Some(i64::MIN));
    for bad in [&b""[..], b"-", b"9223372036854775808", b"1.0", b" 1", b"+1", b"1e3", b"x"] {
        assert_eq!(crate::parse_decimal(bad), None, "{}", String::from_utf8_lossy(bad));
    }
    // Up to 18 digits go without overflow checks: around each power of ten, and with leading
    // zeros, the same as `str::parse`.
    for digits in 1..=21 {
        let nines = "9".repeat(digits);
        let power = alloc::format!("1{}", "0".repeat(digits - 1));
        let padded = alloc::format!("{}7", "0".repeat(digits));
        for text in [nines.clone(), alloc::format!("-{nines}"), power.clone(), padded] {
            assert_eq!(crate::parse_decimal(text.as_bytes()), text.parse::<i64>().ok(), "{text}");
        }
        let text = alloc::format!("-{power}");
        assert_eq!(crate::parse_decimal(text.as_bytes()), text.parse::<i64>().ok(), "{text}");
    }
}

#[test]
fn decimal_text_is_to_string_s() {
    use alloc::string::ToString;
    for n in [0, 1, -1, 9, 10, -10, 99, 100, 4_294_967_296, i64::MAX, i64::MIN, i64::MIN + 1] {
        assert_eq!(crate::decimal(n), n.to_string());
        assert_eq!(crate::parse_decimal(crate::decimal(n).as_bytes()), Some(n));
    }
}

#[test]
fn concat_joins_the_parts_in_order() {
    assert_eq!(crate::concat(&["stock/", "sku-1"]), "stock/sku-1");
    assert_eq!(crate::concat(&["a", "", "ü", "c"]), "aüc");
    assert_eq!(crate::concat(&[]), "");
    assert_eq!(crate::concat(&["x"]).capacity(), 1); // one allocation of the exact size
}

#[test]
fn replies_mentioning_error_are_probed_wherever_the_key_is() {
    use crate::reply::mentions_error;
    for yes in [r#"{"error":"x"}"#, r#"{"a":"b","error":null}"#, r#""error""#, r#"x"error""#] {
        assert!(mentions_error(yes.as_bytes()), "{yes}");
    }
    for no in
        ["", "\"", r#"{"errors":1}"#, r#"{"error"#, r#"{"a":"error"#, "error", r#"{"ok":true}"#]
    {
        assert!(!mentions_error(no.as_bytes()), "{no}");
    }
}

#[test]
fn host_error_codes_round_trip() {
    for code in -7..=-1 {
        assert_eq!(HostError::from_code(code).code(), code);
    }
    assert_eq!(HostError::from_code(-3), HostError::Unavailable);
    assert_eq!(HostError::from_code(-9), HostError::Other(-9));
    // `kv_cas`'s conflict (-6) is not an error: `kv::cas` answers `Ok(false)`.
    assert_eq!(HostError::from_code(-6), HostError::Other(-6));
}

#[test]
fn compare_and_set_writes_only_over_the_expected_value() {
    fake::reset();
    assert_eq!(kv::cas("db", "n", None, "1"), Ok(true), "absent, as expected");
    assert_eq!(kv::cas("db", "n", None, "2"), Ok(false), "present now");
    assert_eq!(kv::cas("db", "n", Some(b"0"), "2"), Ok(false), "holds 1, not 0");
    assert_eq!(kv::get("db", "n"), Ok(Some(b"1".to_vec())), "a conflict writes nothing");
    assert_eq!(kv::cas("db", "n", Some(b"1"), "2"), Ok(true));
    assert_eq!(kv::get("db", "n"), Ok(Some(b"2".to_vec())));
    fake::fail_writes("db", Some(HostError::Unavailable));
    assert_eq!(kv::cas("db", "n", Some(b"2"), "3"), Err(HostError::Unavailable));
}

#[test]
fn compare_and_set_on_a_version_refuses_any_write_in_between() {
    fake::reset();
    fake::set_kv("db", "n", "A");
    let read = kv::get_versioned("db", "n").expect("read").expect("present");
    assert_eq!(read, kv::Versioned { value: b"A".to_vec(), version: 0 }, "an initial entry");
    // A→B→A: by value nothing changed, by version two writes did.
    kv::put("db", "n", "B").expect("put");
    kv::put("db", "n", "A").expect("put");
    assert_eq!(kv::cas("db", "n", Some(b"A"), "A"), Ok(true), "value compare-and-set misses it");
    assert_eq!(kv::cas_version("db", "n", Some(read.version), "C"), Ok(false));
    let now = kv::get_versioned("db", "n").expect("read").expect("present");
    assert_eq!(now.value, b"A", "a conflict writes nothing");
    assert_eq!(kv::cas_version("db", "n", Some(now.version), "C"), Ok(true));
    assert_eq!(kv::cas_version("db", "n", Some(now.version), "D"), Ok(false), "C came since");
    assert_eq!(kv::cas_version("db", "m", None, "1"), Ok(true), "absent, as expected");
    assert_eq!(kv::cas_version("db", "m", None, "2"), Ok(false), "present now");
    assert_eq!(kv::get_versioned("db", "absent"), Ok(None));
    let scanned = kv::scan("db", "n", 1).expect("scan");
    let read = kv::get_versioned("db", "n").expect("read").expect("present");
    assert_eq!(scanned[0].version, read.version);
    fake::fail_writes("db", Some(HostError::Unavailable));
    assert_eq!(kv::cas_version("db", "n", Some(0), "E"), Err(HostError::Unavailable));
}

#[test]
fn a_scan_lists_the_keys_with_the_prefix_in_order_up_to_the_limit() {
    fake::reset();
    for (k, v) in [("item/2", "b"), ("item/1", "a"), ("item/3", "c"), ("other", "x")] {
        fake::set_kv("db", k, v);
    }
    fake::set_kv("other-db", "item/0", "z");
    let entry =
        |key: &str, value: &str| kv::Entry { key: key.into(), value: value.into(), version: 0 };
    assert_eq!(
        kv::scan("db", "item/", 10),
        Ok(vec![entry("item/1", "a"), entry("item/2", "b"), entry("item/3", "c")])
    );
    assert_eq!(kv::scan("db", "item/", 2), Ok(vec![entry("item/1", "a"), entry("item/2", "b")]));
    assert_eq!(kv::delete("db", "item/1"), Ok(true));
    assert_eq!(kv::scan("db", "item/", 1), Ok(vec![entry("item/2", "b")]));
    assert_eq!(kv::scan("db", "nothing/", 5), Ok(vec![]));
    assert_eq!(kv::scan("db", "", 0), Err(HostError::InvalidArgument));
    assert_eq!(kv::scan("db", "", kv::SCAN_LIMIT_MAX + 1), Err(HostError::InvalidArgument));
    fake::fail("db", Some(HostError::Unavailable));
    assert_eq!(kv::scan("db", "item/", 5), Err(HostError::Unavailable));
}

#[test]
fn a_scan_decodes_the_abi_s_json() {
    // What the simulator's host writes into guest memory (guests/ABI.md, `kv_scan`).
    let json = br#"[{"key":"a/1","value":"{\"n\":1}","version":7}]"#;
    let entries: Vec<kv::Entry> = serde_json::from_slice(json).expect("the ABI's encoding");
    assert_eq!(entries[0].key, "a/1");
    assert_eq!(entries[0].value, r#"{"n":1}"#);
    assert_eq!(entries[0].version, 7);
}

#[test]
fn a_cache_delete_invalidates_the_entry() {
    fake::reset();
    fake::set_cache("c", "k", "v");
    assert_eq!(cache::delete("c", "k"), Ok(true));
    assert_eq!(cache::get("c", "k"), Ok(None), "the next read misses");
    assert_eq!(cache::delete("c", "k"), Ok(false), "nothing left to invalidate");
    fake::fail_writes("c", Some(HostError::Unavailable));
    assert_eq!(cache::delete("c", "k"), Err(HostError::Unavailable));
}

#[test]
fn a_call_with_a_timeout_shorter_than_the_callee_fails_and_a_plain_call_waits() {
    fake::reset();
    fake::on_call("pay", "charge", |_| Ok(br#"{"n":1}"#.to_vec()));
    fake::set_latency("pay", 100);
    let timed: Result<Thing2, CallError> =
        crate::call_with_timeout("pay", "charge", &Thing2 { n: 0 }, 30);
    assert_eq!(timed, Err(CallError::Host(HostError::Unavailable)));
    let plain: Result<Thing2, CallError> = call("pay", "charge", &Thing2 { n: 0 });
    assert_eq!(plain, Ok(Thing2 { n: 1 }));
    let generous: Result<Thing2, CallError> =
        crate::call_with_timeout("pay", "charge", &Thing2 { n: 0 }, 500);
    assert_eq!(generous, Ok(Thing2 { n: 1 }));
    assert_eq!(fake::timeouts(), [30, 500]);
    assert_eq!(fake::calls().len(), 2, "the timed-out call never reached the callee");
    assert_eq!(
        crate::call_raw_with_timeout("pay", "charge", b"{}", 0),
        Err(HostError::InvalidArgument)
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Thing2 {
    n: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Thing {
    name: String,
}

fn echo(req: Thing) -> Reply<Thing> {
    if req.name.is_empty() {
        return Err(AppError::bad_request("name is empty"));
    }
    Ok(req)
}

#[test]
fn dispatch_answers_json_and_application_errors() {
    assert_eq!(fake::invoke(echo, r#"{"name":"x","extra":[1]}"#), r#"{"name":"x"}"#);
    assert_eq!(fake::invoke(echo, r#"{"name":""}"#), r#"{"error":"bad_request: name is empty"}"#);
    let reply = fake::invoke(echo, r#"{"name":"x"} trailing"#);
    assert!(reply.starts_with(r#"{"error":"bad_request: trailing characters"#), "{reply}");
    let reply = fake::invoke(echo, "");
    assert!(reply.starts_with(r#"{"error":"bad_request: EOF"#), "{reply}");
    // The error text is escaped like any JSON string.
    let reply = fake::invoke(echo, "{\"name\":\"\u{1}");
    let parsed: serde_json::Value = serde_json::from_str(&reply).expect("valid JSON");
    assert!(parsed["error"].as_str().is_some_and(|e| e.starts_with("bad_request: ")));
    assert_eq!(fake::invoke(|()| -> Reply<Ack> { Ok(Ack::OK) }, "null"), r#"{"ok":true}"#);
}

#[test]
fn call_separates_host_failures_application_errors_and_bad_replies() {
    fake::reset();
    fake::on_call("svc", "echo", fake::serve(echo));
    let thing = Thing { name: "x".into() };
    let ok: Result<Thing, _> = call("svc", "echo", &thing);
    assert_eq!(ok.expect("answered").name, "x");

    let empty = Thing { name: String::new() };
    let failed: Result<Thing, _> = call("svc", "echo", &empty);
    assert_eq!(
        failed.expect_err("error"),
        CallError::Failed(AppError::bad_request("name is empty"))
    );

    // A value that merely mentions "error" is not an application error.
    let mentions = Thing { name: "\"error\"".into() };
    let ok: Result<Thing, _> = call("svc", "echo", &mentions);
    assert_eq!(ok.expect("answered").name, "\"error\"");

    let wrong_shape: Result<Vec<u8>, _> = call("svc", "echo", &thing);
    assert!(matches!(wrong_shape, Err(CallError::BadReply(_))), "{wrong_shape:?}");

    let unknown: Result<Thing, _> = call("nobody", "echo", &thing);
    assert_eq!(unknown.expect_err("unknown"), CallError::Host(HostError::InvalidArgument));

    fake::fail("svc", Some(HostError::Unavailable));
    let down: Result<Thing, _> = call("svc", "echo", &thing);
    assert_eq!(down.expect_err("down"), CallError::Host(HostError::Unavailable));
    assert_eq!(fake::calls().len(), 5, "a failing service is not recorded as reached");
}

#[test]
fn stores_caches_channels_and_log() {
    fake::reset();
    assert_eq!(kv::get("db", "k"), Ok(None));
    kv::put("db", "k", "v").expect("put");
    assert_eq!(kv::get("db", "k"), Ok(Some(b"v".to_vec())));
    assert_eq!(kv::delete("db", "k"), Ok(true));
    assert_eq!(kv::delete("db", "k"), Ok(false));
    cache::put("c", b"k", [1, 2]).expect("cache put");
    assert_eq!(cache::get("c", "k"), Ok(Some(vec![1, 2])));
    assert_eq!(kv::get("c", "k"), Ok(None), "caches and stores are separate");
    publish("ch", &Thing { name: "n".into() }).expect("publish");
    assert_eq!(fake::published("ch"), [r#"{"name":"n"}"#]);
    log::warn("careful");
    assert_eq!(fake::logs(), [(Level::Warn, "careful".into())]);

    fake::fail_writes("db", Some(HostError::Denied));
    assert_eq!(kv::put("db", "k", "v"), Err(HostError::Denied));
    assert_eq!(kv::get("db", "k"), Ok(None), "reads still work");
    fake::fail("ch", Some(HostError::Unavailable));
    assert_eq!(publish("ch", &1), Err(HostError::Unavailable));
}

#[test]
fn clock_and_random_are_deterministic() {
    fake::reset();
    fake::set_now(1_500);
    assert_eq!(crate::now(), 1_500);
    let first: Vec<u64> = (0..3).map(|_| crate::random()).collect();
    fake::reset();
    let again: Vec<u64> = (0..3).map(|_| crate::random()).collect();
    assert_eq!(first, again);
    assert_ne!(first[0], first[1]);
}

#[test]
fn each_test_thread_has_its_own_world() {
    fake::reset();
    kv::put("db", "mine", "1").expect("put");
    let other = std::thread::spawn(|| kv::get("db", "mine")).join().expect("thread");
    assert_eq!(other, Ok(None));
}

/// `decode_reply` scans a flat reply once for both the error and the response; what it
/// answers must be what the probe-then-decode it short-cuts answered, on any reply.
#[test]
fn replies_scanned_once_decode_as_probe_then_decode_did() {
    #[derive(Debug, serde::Deserialize)]
    struct Probe {
        error: Option<String>,
    }
    fn probed<T: serde::de::DeserializeOwned>(reply: &[u8]) -> Result<T, CallError> {
        if crate::reply::mentions_error(reply)
            && let Ok(Probe { error: Some(code) }) = crate::json::from_slice(reply)
        {
            return Err(CallError::Failed(AppError::from_code(code)));
        }
        crate::json::from_slice(reply)
            .map_err(|e| CallError::BadReply(alloc::string::ToString::to_string(&e)))
    }
    let replies = [
        r#"{"name":"x"}"#,
        r#"{"error":"out_of_stock"}"#,
        r#"{"error":"out_of_stock","name":"x"}"#,
        r#"{"name":"x","error":"late"}"#,
        r#"{"error":null,"name":"x"}"#,
        r#"{"error":null}"#,
        r#"{"error":5,"name":"x"}"#,
        r#"{"error":true}"#,
        r#"{"error":"a","error":"b"}"#,
        r#"{"error":"a","error":"b","name":"x"}"#,
        r#"{"error":"a","error":null,"name":"x"}"#,
        r#"{"name":"error"}"#,
        r#"{"name":"x","extra":"error"}"#,
        r#"{"error":"caf\u00e9"}"#,
        "{\"error\":\"caf\u{e9}\"}",
        r#"{"error":{"code":1}}"#,
        r#"{"error":[],"name":"x"}"#,
        r#"{"name":"x","extra":[1]}"#,
        r#"{"name":"a\"b"}"#,
        r#" { "error" : "spaced" } "#,
        r#"{"name":1}"#,
        r#"{}"#,
        r#"[]"#,
        r#""error""#,
        "",
        r#"{"name":"x""#,
    ];
    for reply in replies {
        let ours = alloc::format!("{:?}", crate::reply::decode_reply::<Thing>(reply.as_bytes()));
        let theirs = alloc::format!("{:?}", probed::<Thing>(reply.as_bytes()));
        assert_eq!(ours, theirs, "{reply}");
        let ours = alloc::format!("{:?}", crate::reply::decode_reply::<Probe>(reply.as_bytes()));
        let theirs = alloc::format!("{:?}", probed::<Probe>(reply.as_bytes()));
        assert_eq!(ours, theirs, "{reply}");
    }
}
