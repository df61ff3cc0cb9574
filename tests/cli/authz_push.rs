//! Pushed authorization end to end: istiod pushes a DENY policy that locks `reports` out of
//! `payments.refund` at 2 s; `payments`' sidecar refuses its refunds from the moment it
//! applied the push (after its own propagation delay), and served them until then — read back
//! from the trace. The static check names the push that denies the declared call; the
//! property `authorization-never-bypassed` holds (no false alarm around the push); a bad
//! pushed policy is a located error.

use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{code, fusebench, root, scratch, stderr, stdout};

const BYPASS: &str = "scenarios/flawed/dynamic/authz-bypass.toml";

/// The push appended to the design (everything meshed, no declared policy).
const LOCK_OUT: &str = r#"
  [mesh.control_plane]
  propagation = { dist = "uniform", min_ms = 100, max_ms = 1500 }

  [[mesh.push]]
  at_s = 2
    [[mesh.push.authorization]]
    name = "lock-reports"
    service = "payments"
    action = "deny"
    from = ["reports"]
    endpoints = ["refund"]
"#;

/// The bypass design with every service in the mesh, its declared DENY replaced by `tail`.
fn design(name: &str, tail: &str) -> (String, String) {
    let text = std::fs::read_to_string(root().join(BYPASS)).expect("read");
    let cut = text.find("  [[mesh.authorization]]").expect("the declared policy");
    let text = format!("{}{tail}", &text[..cut])
        .replace("services = [\"storefront\", \"payments\"]", "all = true");
    let dir = scratch("authz_push", name);
    std::fs::create_dir_all(&dir).expect("scratch");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, &text).expect("write");
    (path.to_str().expect("utf-8").to_owned(), text)
}

struct Run {
    trace: Vec<Value>,
    md: String,
    check: Value,
}

fn locked() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let (path, _) = design("lock", LOCK_OUT);
        let out = std::path::Path::new(&path).with_file_name("out");
        let o = fusebench(&["run", &path, "--seed", "1", "--out", out.to_str().expect("utf-8")]);
        assert!(code(&o) <= 1, "{}", stderr(&o));
        let read = |f: &str| {
            std::fs::read_to_string(out.join(f))
                .unwrap_or_else(|e| panic!("no {f} ({e})\n{}\n{}", stdout(&o), stderr(&o)))
        };
        let trace = read("trace.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a trace line is JSON"))
            .collect();
        let o = fusebench(&["check", &path, "--format", "json", "--seed", "1"]);
        let check = serde_json::from_str(&stdout(&o)).expect("check json");
        Run { trace, md: read("report.md"), check }
    })
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn lines(ev: &str) -> impl Iterator<Item = &Value> {
    locked().trace.iter().filter(move |l| l["ev"] == ev)
}

#[test]
fn denials_start_at_each_callees_apply_time_and_the_refunds_before_were_served() {
    let applied = |proxy: &str| {
        lines("mesh_route")
            .find(|l| l["action"] == "applied" && l["proxy"] == proxy)
            .map(|l| (n(l, "t"), l["detail"].as_str().unwrap_or_default().to_owned()))
            .unwrap_or_else(|| panic!("{proxy} applied the push"))
    };
    let (t, detail) = applied("payments");
    assert_eq!(detail, "authz lock-reports", "what changed is traced");
    assert!((2_100_000_000..=3_500_000_000).contains(&t), "{t}");
    // The callers' own apply times do not matter: the callee's sidecar enforces.
    assert_ne!(applied("reports").0, t);
    let denied: Vec<u64> = lines("mesh_refused")
        .filter(|l| l["filter"] == "rbac")
        .inspect(|l| {
            assert_eq!(
                (l["caller"].as_str(), l["target"].as_str()),
                (Some("reports"), Some("payments.refund"))
            );
        })
        .map(|l| n(l, "t"))
        .collect();
    assert!(!denied.is_empty(), "reports is locked out");
    assert!(
        denied.iter().all(|&d| d >= t),
        "refused before payments applied it at {t}: {denied:?}"
    );
    // Every refund call that left after the apply was refused; those before it were served.
    let refunds: Vec<(u64, u64)> = lines("call_start")
        .filter(|l| l["endpoint"] == "refund")
        .map(|l| (n(l, "call"), n(l, "t")))
        .collect();
    let after = refunds.iter().filter(|(_, s)| *s >= t).count();
    assert_eq!(denied.len(), after);
    let served = lines("invocation_start").filter(|l| l["endpoint"] == "refund").count();
    let before = refunds.iter().filter(|(_, s)| *s < t).count();
    assert!(before > 0 && served == before, "{before} sent before {t}, {served} served");
    // The report's push table lists the change and each proxy's apply time.
    assert!(
        locked().md.contains("| 1 | payments | authz lock-reports | 2.000 | payments |"),
        "{}",
        locked().md
    );
}

#[test]
fn the_static_check_names_the_push_and_the_property_holds_around_it() {
    let json = &locked().check;
    let check = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == "mesh-authz-denies-call")
        .expect("the check");
    assert_eq!(check["passed"], false);
    let msg = check["findings"][0]["message"].as_str().expect("message");
    assert!(
        msg.starts_with("after mesh.push[0] (at 2 s): the authorization policy denies `reports`'s declared call to `payments.refund`"),
        "{msg}"
    );
    let (_, text) = design("lock-line", LOCK_OUT);
    let push_line = text.lines().position(|l| l.trim() == "[[mesh.push]]").expect("push") + 1;
    assert_eq!(check["findings"][0]["location"]["line"], push_line);
    let v = json["dynamic"]["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["id"] == "authorization-never-bypassed")
        .expect("the property");
    assert_eq!(v["status"], "held", "{v:#}");
}

#[test]
fn a_bad_pushed_policy_is_a_located_error() {
    let bad = LOCK_OUT.replace("from = [\"reports\"]", "from = [\"reprots\"]")
        + "  [[mesh.push]]\n  at_s = 3\n  remove_authorization = [\"lock-report\"]\n";
    let (path, text) = design("bad", &bad);
    let o = fusebench(&["check", &path, "--static"]);
    let err = stderr(&o) + &stdout(&o);
    assert_eq!(code(&o), 2, "{err}");
    for (needle, field) in [
        (
            "unknown source identity (a service, or `gateway`) `reprots`",
            "mesh.push[0].authorization[0].from",
        ),
        (
            "no authorization policy named `lock-report` is in force when push 1 applies",
            "mesh.push[1].remove_authorization",
        ),
    ] {
        let hit =
            err.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {err}"));
        assert!(hit.starts_with(&format!("{path}:")), "located in the file: {hit}");
        assert!(hit.contains(&format!("(field `{field}")), "{hit}");
        let line: usize =
            hit[path.len() + 1..].split(':').next().and_then(|l| l.parse().ok()).expect("line");
        assert!(
            line > text.find("[[mesh.push]]").map_or(0, |i| text[..i].lines().count()),
            "{hit}"
        );
    }
    assert!(err.contains("did you mean `lock-reports`?"), "{err}");
}
