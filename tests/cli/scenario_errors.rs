//! Bad input: a scenario with mistakes gets every problem at once, with file, line, column,
//! field and hint, and exit code 2 — never a panic.

use crate::support::{code, fusebench, root, stderr};

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fusebench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn a_scenario_with_several_mistakes_lists_them_all() {
    let shop = std::fs::read_to_string(root().join("scenarios/shop/shop.toml")).expect("shop");
    let broken = shop
        .replacen("tier = \"cloud\"", "tier = \"clod\"", 1)
        .replacen("owns = [\"orders-db\"]", "owns = [\"order-db\"]", 1)
        .replacen(
            "replicas = 3\nconsistency = \"strong\"",
            "replicas = 3\nconsistency = \"strongest\"",
            1,
        )
        .replacen("timeout_ms = 2000\n", "timeout_ms = 2000\ntimeout = 3\n", 1);
    let path = write_temp("broken-shop.toml", &broken);
    let out = fusebench(&["check", path.to_str().expect("utf-8")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    let file = path.display().to_string();
    for expected in [
        "error[parse.value]: `tier` = \"clod\" is not one of: cloud, regional-edge, local-edge",
        "did you mean `cloud`?",
        "error[parse.unknown-reference]: unknown store `order-db`",
        "did you mean `orders-db`?",
        "`consistency` = \"strongest\" is not one of: strong, eventual",
        "error[parse.unknown-field]: unknown field `timeout` in `gateway`",
        "did you mean `timeout_ms`?",
        "has 4 error(s); nothing was checked",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    // Every diagnostic line starts with file:line:col.
    for line in err.lines().filter(|l| l.contains("error[")) {
        let rest =
            line.strip_prefix(&format!("{file}:")).unwrap_or_else(|| panic!("no file in {line}"));
        let mut parts = rest.splitn(3, ':');
        let (l, c) = (parts.next().expect("line"), parts.next().expect("col"));
        assert!(l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok(), "{line}");
    }
}

#[test]
fn a_missing_module_file_is_bad_input_at_its_line() {
    let shop = std::fs::read_to_string(root().join("scenarios/shop/shop.toml")).expect("shop");
    let path = write_temp("moved-shop.toml", &shop);
    let out = fusebench(&["check", path.to_str().expect("utf-8")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("module file `modules/as/catalog.wasm` of service `catalog` not found"),
        "{err}"
    );
    let line_of_module =
        shop.lines().position(|l| l.contains("modules/as/catalog.wasm")).expect("line") + 1;
    assert!(err.contains(&format!("moved-shop.toml:{line_of_module}:")), "{err}");
}

#[test]
fn unreadable_and_non_toml_files_are_clear_errors() {
    let out = fusebench(&["check", "scenarios/no-such.toml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read scenario scenarios/no-such.toml"),
        "{}",
        stderr(&out)
    );
    let path = write_temp("binary.toml", "\u{0}\u{1}not toml at all [[[");
    let out = fusebench(&["check", path.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("error[parse.syntax]"), "{}", stderr(&out));
}

/// The same contract field declared required and optional (`id`, `"id?"`) is bad input at the
/// second declaration, in either order: the last key no longer silently wins.
#[test]
fn a_contract_field_declared_twice_is_bad_input_at_its_line() {
    let shop = std::fs::read_to_string(root().join("scenarios/shop/shop.toml")).expect("shop");
    let declared = "response = { sku = \"string\", name = \"string\", price_cents = \"integer\" }";
    assert!(shop.contains(declared), "the shop's catalog contract changed");
    let line = shop.lines().position(|l| l.contains(declared)).expect("line") + 1;
    for (dup, second) in [
        ("price_cents = \"integer\", \"price_cents?\" = \"string\"", "price_cents?"),
        ("\"price_cents?\" = \"string\", price_cents = \"integer\"", "price_cents"),
    ] {
        let text = shop.replacen(
            declared,
            &format!("response = {{ sku = \"string\", name = \"string\", {dup} }}"),
            1,
        );
        let path = write_temp("dup-contract-field.toml", &text);
        let out = fusebench(&["check", path.to_str().expect("utf-8"), "--static"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{err}");
        let file = path.display().to_string();
        assert!(
            err.contains(&format!("{file}:{line}:"))
                && err.contains(
                    "error[parse.duplicate]: contract field `price_cents` is declared twice"
                ),
            "{err}"
        );
        assert!(err.contains(&format!("as `{second}` here")), "{err}");
    }
}
