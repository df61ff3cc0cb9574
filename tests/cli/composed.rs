//! Composed services through the command line: `scenarios/composed/composed.toml` — a `money`
//! library (C) shared by two Rust services, and a Rust adapter in front of a legacy WAT core
//! that calls the host itself — checks clean, runs, and answers through the linked modules; a
//! broken composition is a located error; a library that traps fails only the invocations it
//! trapped in, and the run goes on.

use serde_json::Value;

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

const COMPOSED: &str = "scenarios/composed/composed.toml";

#[test]
fn the_composed_example_checks_clean_including_the_link_checks() {
    let o = fusebench(&["check", COMPOSED, "--static", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let json: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let text = json.to_string();
    for id in ["link-unresolved", "link-signature", "link-cycle", "module-capability"] {
        assert!(text.contains(id), "{id} is reported: {json:#}");
    }
}

#[test]
fn the_composed_example_runs_every_endpoint_through_its_libraries() {
    let dir = scratch("composed", "run");
    let o = fusebench(&[
        "run",
        COMPOSED,
        "--seed",
        "1",
        "--duration",
        "3",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).expect("report.json"),
    )
    .expect("json");
    let text = report.to_string();
    assert!(!text.contains("guest_fault\":1"), "{report:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn invoke(service: &str, endpoint: &str, data: &str) -> Value {
    let o = fusebench(&["invoke", COMPOSED, service, endpoint, "--data", data, "--json"]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("json")
}

#[test]
fn both_services_compute_with_the_shared_library_and_the_adapter_reaches_the_legacy_core() {
    let json =
        invoke("checkout", "checkout", r#"{"order_id":"o-1","subtotal_cents":1001,"region":"eu"}"#);
    // 20 % of 1001 = 200.2, rounded by the library.
    assert_eq!(json["response"]["tax_cents"], 200, "{json:#}");
    assert_eq!(json["response"]["total_cents"], 1201, "{json:#}");
    let json = invoke(
        "invoice",
        "invoice",
        r#"{"invoice_id":"i-1","amount_cents":1000,"currency":"USD"}"#,
    );
    // 1000 USD cents = 920 EUR cents; VAT 184; 1104 cash-rounded to 1105.
    assert_eq!(json["response"]["amount_eur_cents"], 920, "{json:#}");
    assert_eq!(json["response"]["vat_cents"], 184, "{json:#}");
    assert_eq!(json["response"]["total_cents"], 1105, "{json:#}");
    // The core's price list × qty × the markup it read from legacy-db itself (120 %).
    let json = invoke("quotes", "quote", r#"{"sku":2,"qty":3}"#);
    assert_eq!(json["response"]["price_cents"], 16380, "{json:#}");
    let json = invoke("quotes", "quote", r#"{"sku":9,"qty":3}"#);
    assert_eq!(json["response"]["error"], "unknown_sku", "{json:#}");
}

/// The example with `edit` applied, written into a scratch directory with its module paths
/// pointing back at the example's modules.
fn broken(name: &str, edit: impl Fn(&str) -> String) -> String {
    let text = std::fs::read_to_string(root().join(COMPOSED)).expect("read");
    let modules = root().join("scenarios/composed/modules");
    let text = edit(&text).replace("\"modules/", &format!("\"{}/", modules.display()));
    let dir = scratch("composed", name);
    let path = dir.join("broken.toml");
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn a_link_to_an_unknown_library_is_a_located_error() {
    let path = broken("unknown", |t| t.replacen("links = [\"money\"]", "links = [\"mony\"]", 1));
    let o = fusebench(&["check", &path, "--static"]);
    assert_eq!(code(&o), 2, "{}\n{}", stdout(&o), stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("unknown library `mony`"), "{all}");
    assert!(all.contains("broken.toml:"), "the file and line: {all}");
    assert!(all.contains("service[checkout].links"), "the field: {all}");
    assert!(all.contains("did you mean `money`?"), "{all}");
}

#[test]
fn an_import_no_linked_library_resolves_fails_the_check_and_the_run() {
    // checkout links the legacy core instead of money: its `money.*` imports are unresolved.
    let path =
        broken("unresolved", |t| t.replacen("links = [\"money\"]", "links = [\"legacy\"]", 1));
    let o = fusebench(&["check", &path, "--static"]);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(code(&o), 1, "{all}");
    assert!(all.contains("link-unresolved"), "{all}");
    assert!(
        all.contains("`checkout` imports `money.tax_cents`, but does not link library `money`"),
        "{all}"
    );
    assert!(all.contains("broken.toml:"), "{all}");
    let o = fusebench(&["run", &path, "--duration", "1"]);
    assert_ne!(code(&o), 0, "the run is refused: {}", stdout(&o));
}

#[test]
fn a_library_reaching_a_capability_the_service_lacks_fails_the_check() {
    // quotes without `kv`: the legacy core's kv_get is a sandbox violation, named as the library's.
    let path = broken("capability", |t| t.replacen("capabilities = [\"kv\"]\n", "", 1));
    let o = fusebench(&["check", &path, "--static"]);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(code(&o), 1, "{all}");
    assert!(all.contains("broken.toml:"), "located: {all}");
    assert!(
        all.contains(
            "`quotes`'s library `legacy` imports `fusebench.kv_get`, which needs capability `kv`"
        ),
        "{all}"
    );
}

#[test]
fn a_faulting_library_fails_its_invocations_and_the_run_goes_on() {
    // The legacy core traps for sku 3 (of 1–4 in the workload): those quotes fail as guest
    // faults of `quotes`, every other quote — before and after — is answered, and the other
    // services never notice.
    let core =
        std::fs::read_to_string(root().join("scenarios/composed/modules/wat/legacy-pricing.wat"))
            .expect("the legacy core");
    let known = "      (local.set $base (i64.const 12000))";
    assert!(core.contains(known), "the core's sku 3 line");
    let trapping = core.replacen(
        known,
        &format!("      (if (i32.eq (local.get $sku) (i32.const 3)) (then unreachable))\n{known}"),
        1,
    );
    let dir = scratch("composed", "library-trap");
    let library = dir.join("legacy-trap.wat");
    std::fs::write(&library, trapping).expect("write the library");
    let path = broken("library-trap-scenario", |t| {
        t.replacen("\"modules/wat/legacy-pricing.wat\"", &format!("\"{}\"", library.display()), 1)
    });
    let out = scratch("composed", "library-trap-out");
    let o = fusebench(&[
        "run",
        &path,
        "--seed",
        "1",
        "--duration",
        "3",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    // The run finishes; only the quote SLO's availability fails it.
    assert_eq!(code(&o), 1, "{all}");
    assert!(all.contains("guest-fault"), "{all}");
    assert!(all.contains("FAIL  quotes.quote                 availability"), "{all}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("json");
    let traps = report["services"]["quotes"]["guest_faults"]["trap"].as_u64().unwrap_or(0);
    let quotes = &report["endpoints"]["quotes.quote"];
    let (requests, successes) =
        (quotes["requests"].as_u64().unwrap_or(0), quotes["successes"].as_u64().unwrap_or(0));
    assert!(traps > 0 && successes > 0 && successes + traps <= requests, "{quotes:#}\n{traps}");
    for other in ["checkout.checkout", "invoice.invoice"] {
        assert_eq!(report["endpoints"][other]["availability"], 1.0, "{other}: {report:#}");
    }
    // In the trace: each fault names the trap and the sku-3 request; quotes answered after
    // the first one.
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).expect("trace.jsonl");
    let lines: Vec<Value> =
        trace.lines().map(|l| serde_json::from_str(l).expect("a json line")).collect();
    let faults: Vec<&Value> = lines.iter().filter(|l| l["ev"] == "guest_fault").collect();
    assert_eq!(faults.len() as u64, traps);
    for f in &faults {
        assert_eq!(f["service"], "quotes", "{f}");
        assert!(f["cause"].as_str().is_some_and(|c| c.contains("unreachable")), "{f}");
        assert!(f["input"].as_str().is_some_and(|i| i.contains("\"sku\":3")), "{f}");
    }
    let first = faults[0]["t"].as_u64().expect("t");
    let quote_invs: Vec<u64> = lines
        .iter()
        .filter(|l| l["ev"] == "invocation_start" && l["service"] == "quotes")
        .filter_map(|l| l["inv"].as_u64())
        .collect();
    let answered_after = lines.iter().any(|l| {
        l["ev"] == "invocation_end"
            && l["outcome"] == "ok"
            && l["t"].as_u64().is_some_and(|t| t > first)
            && l["inv"].as_u64().is_some_and(|i| quote_invs.contains(&i))
    });
    assert!(answered_after, "quotes went on answering after the first fault");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&out);
}
