use alloc::format;
use alloc::string::String;

use fusebench_guest::fake::invoke;

use super::request;

fn view(headers: &str) -> String {
    format!(
        r#"{{"phase":"request","proxy":"gateway","service":"orders","endpoint":"place_order","headers":{headers},"body":{{}}}}"#
    )
}

#[test]
fn a_known_key_passes() {
    assert_eq!(
        invoke(request, &view(r#"{"x-api-key":"key-bob-91c2"}"#)),
        r#"{"action":"continue"}"#
    );
}

#[test]
fn a_missing_or_unknown_key_is_refused_with_401() {
    assert_eq!(
        invoke(request, &view("{}")),
        r#"{"action":"stop","status":401,"body":{"error":"unauthorized: no x-api-key header"}}"#
    );
    assert_eq!(
        invoke(request, &view(r#"{"x-api-key":"key-mallory"}"#)),
        r#"{"action":"stop","status":401,"body":{"error":"unauthorized: unknown api key"}}"#
    );
}
