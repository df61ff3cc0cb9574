//! User-stated invariants end to end: `fusebench check` finds the ledger's lost credit through
//! the scenario's own `balanced` invariant, shrinks and saves it, `fusebench replay` reproduces
//! it; the fixed twin passes; a bad expression is refused at file:line:col with exit 2.

use serde_json::Value;

use crate::support::{check_json, code, fusebench, stderr, stdout};

const FLAWED: &str = "scenarios/flawed/invariants-ledger.toml";
const FIXED: &str = "scenarios/fixed/invariants-ledger.toml";

fn statuses(json: &Value) -> Vec<(String, String)> {
    json["dynamic"]["properties"]
        .as_array()
        .expect("verdicts")
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_owned(),
                v["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_lost_credit_is_found_by_the_invariant_shrunk_and_replayed() {
    let dir = crate::support::scratch("invariants", "flawed");
    let (exit, json) = check_json(FLAWED, &dir);
    assert_eq!(exit, 1, "{json:#}");
    let failed: Vec<String> =
        statuses(&json).into_iter().filter(|(_, s)| s == "failed").map(|(id, _)| id).collect();
    assert_eq!(failed, ["balanced"], "only the stated invariant sees the defect: {json:#}");
    let ce = &json["dynamic"]["counterexample"];
    let replay_file = ce["replay_file"].as_str().expect("replay file");
    let r = fusebench(&["replay", replay_file]);
    let text = stdout(&r);
    assert_eq!(code(&r), 1, "{}", stderr(&r));
    assert!(text.contains("reproduced exactly"), "{text}");
    assert!(text.contains("violated: balanced"), "{text}");
    assert!(text.contains("invariant `balanced` is false (left side "), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_fixed_ledger_holds_both_invariants() {
    let dir = crate::support::scratch("invariants", "fixed");
    let (exit, json) = check_json(FIXED, &dir);
    assert_eq!(exit, 0, "{json:#}");
    let all = statuses(&json);
    for id in ["balanced", "credits-covered"] {
        assert!(all.contains(&(id.to_owned(), "held".to_owned())), "{id}: {all:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_expression_is_refused_at_its_line_and_column_with_exit_2() {
    let dir = crate::support::scratch("invariants", "bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let text = std::fs::read_to_string(crate::support::root().join(FIXED)).expect("read");
    let from = r#"expr = 'sum(values(scan(stores.ledger, "debit/")))"#;
    assert!(text.contains(from));
    for (bad, needle, says) in [
        (
            r#"expr = 'sum(values(scan(stores.ledgr, "debit/")))"#,
            ".ledgr",
            "did you mean `ledger`?",
        ),
        (
            r#"expr = 'sum(values(scan(stores.ledger, "debit/"))) +"#,
            r#"== sum(values(scan(stores.ledger, "credit/")))'"#,
            "invariant `balanced`: Syntax error",
        ),
        (
            r#"expr = 'total(values(scan(stores.ledger, "debit/")))"#,
            "total(",
            "unknown function `total`",
        ),
    ] {
        let variant = text.replacen(from, bad, 1);
        let path = dir.join("ledger.toml");
        std::fs::write(&path, &variant).expect("write");
        let at = variant.find(needle).expect("needle");
        let line = variant[..at].matches('\n').count() + 1;
        let col = at - variant[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
        let p = path.to_str().expect("utf-8");
        for args in [vec!["check", p, "--cases", "1"], vec!["run", p]] {
            let o = fusebench(&args);
            let err = stderr(&o);
            assert_eq!(code(&o), 2, "{args:?}: {err}");
            assert!(err.contains(&format!("{p}:{line}:{col}")), "{bad}: {err}");
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
