use alloc::format;
use alloc::string::String;

use fusebench_guest::fake::invoke;

use super::request;

fn view(headers: &str) -> String {
    format!(
        r#"{{"phase":"request","proxy":"gateway","service":"catalog","endpoint":"get_product","headers":{headers},"body":{{"sku":"sku-1"}}}}"#
    )
}

#[test]
fn canaries_go_to_v2_and_every_other_request_to_v1_keeping_its_headers() {
    assert_eq!(
        invoke(request, &view(r#"{"x-api-key":"k","x-canary":"true"}"#)),
        r#"{"action":"continue","headers":{"x-api-key":"k","x-canary":"true","x-route":"v2"}}"#
    );
    assert_eq!(
        invoke(request, &view(r#"{"x-canary":"false"}"#)),
        r#"{"action":"continue","headers":{"x-canary":"false","x-route":"v1"}}"#
    );
    assert_eq!(invoke(request, &view("{}")), r#"{"action":"continue","headers":{"x-route":"v1"}}"#);
}

#[test]
fn a_route_already_chosen_is_kept() {
    assert_eq!(invoke(request, &view(r#"{"x-route":"v3"}"#)), r#"{"action":"continue"}"#);
}
