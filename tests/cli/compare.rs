//! `fusebench compare`: designs side by side under the same seeds — each row is what `run`
//! of that file gives, the README's table is the command's output, bad input exits 2 named.

use serde_json::Value as J;

use crate::support::{code, fusebench, readme_command_and_output, scratch, stderr, stdout};

/// The README's mesh side-by-side prints exactly the table the README shows under it.
#[test]
fn the_readme_mesh_side_by_side_reproduces() {
    let (command, args, line, shown) = readme_command_and_output("-- compare ");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = fusebench(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), shown, "README.md:{line}: `{command}`");
}

fn compare_json(args: &[&str]) -> J {
    let mut all = vec!["compare"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    let o = fusebench(&all);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("json")
}

/// The figures of `run`'s table for one endpoint: (requests, avail %, p99 ms), as printed.
fn run_row(scenario: &str, seed: &str, endpoint: &str) -> (String, u64, String, String) {
    let o = fusebench(&["run", scenario, "--duration", "2", "--seed", seed]);
    let out = stdout(&o);
    let hash = out
        .lines()
        .next()
        .and_then(|l| l.split(" · trace ").nth(1))
        .expect("run's first line names its trace")
        .to_owned();
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(endpoint))
        .expect("the endpoint's row")
        .split_whitespace()
        .collect();
    (hash, row[1].parse().expect("requests"), row[2].to_owned(), row[6].to_owned())
}

/// Each design's row is `run` of that file with the same seed: same trace, same requests,
/// availability and p99 — and the designs differ where the files do.
#[test]
fn each_row_is_the_run_of_its_file() {
    let files = ["scenarios/mesh/shop-crash.toml", "scenarios/shop/shop.toml"];
    let j = compare_json(&[
        files[0],
        files[1],
        "--duration",
        "2",
        "--seed",
        "3",
        "--endpoint",
        "catalog.get_product",
    ]);
    let designs = j["designs"].as_array().expect("designs");
    assert_eq!(designs.len(), 2);
    for (d, file) in designs.iter().zip(files) {
        assert_eq!(d["scenario"], file);
        let (hash, requests, avail, p99) = run_row(file, "3", "catalog.get_product");
        let full = d["trace_hashes"][0].as_str().expect("hash");
        assert!(full.starts_with(&hash), "{file}: {full} vs run's {hash}");
        assert_eq!(d["requests"].as_u64(), Some(requests), "{file}");
        let a = d["availability"].as_f64().expect("availability") * 100.0;
        assert_eq!(format!("{a:.3}"), avail, "{file}");
        assert_eq!(format!("{:.2}", d["p99_ms"].as_f64().expect("p99")), p99, "{file}");
        let failures: u64 =
            d["failures"].as_object().expect("failures").values().filter_map(J::as_u64).sum();
        let (req, ok) = (d["requests"].as_u64().unwrap_or(0), d["successes"].as_u64().unwrap_or(0));
        assert_eq!(failures, req - ok, "{file}: failures by outcome sum to the failures");
    }
    assert_ne!(designs[0]["trace_hashes"], designs[1]["trace_hashes"]);
}

/// Several seeds: counts summed, the same seeds for every design; the order of the files is
/// the order of the rows.
#[test]
fn seeds_are_shared_and_rows_keep_the_order_given() {
    let a = "scenarios/mesh/shop-mesh.toml";
    let b = "scenarios/mesh/shop-crash.toml";
    let j = compare_json(&[a, b, "--duration", "1", "--seeds", "2", "--jobs", "2"]);
    assert_eq!(j["seeds"], serde_json::json!([1, 2]));
    let designs = j["designs"].as_array().expect("designs");
    assert_eq!(designs[0]["scenario"], a);
    assert_eq!(designs[1]["scenario"], b);
    for d in designs {
        assert_eq!(d["seeds"], serde_json::json!([1, 2]));
        assert_eq!(d["trace_hashes"].as_array().map(Vec::len), Some(2));
    }
    let swapped = compare_json(&[b, a, "--duration", "1", "--seeds", "2"]);
    assert_eq!(swapped["designs"][0]["trace_hashes"], designs[1]["trace_hashes"]);
}

/// The crash costs the mesh-less shop its timeouts; the meshed one rides it out: the table
/// says so in its failures and p99-of-every-answer columns, and `--out` writes both files.
#[test]
fn the_table_shows_failures_by_outcome_and_writes_its_files() {
    let dir = scratch("compare", "out");
    let out = dir.join("cmp");
    let o = fusebench(&[
        "compare",
        "scenarios/mesh/shop-crash.toml",
        "scenarios/mesh/shop-mesh.toml",
        "--duration",
        "15",
        "--endpoint",
        "catalog.get_product",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let crash = text.lines().find(|l| l.starts_with("scenarios/mesh/shop-crash")).expect("row");
    let mesh = text.lines().find(|l| l.starts_with("scenarios/mesh/shop-mesh")).expect("row");
    assert!(crash.contains(" timeout"), "{text}");
    assert!(mesh.split_whitespace().nth(3) == Some("0"), "{text}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).expect("compare.csv");
    assert!(csv.starts_with("scenario,system,requests,"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let svg = std::fs::read_to_string(out.join("compare.svg")).expect("compare.svg");
    assert!(svg.contains("<svg"), "compare.svg is an SVG");
}

#[test]
fn bad_input_exits_2_naming_what_is_wrong() {
    // One design is no comparison.
    let o = fusebench(&["compare", "scenarios/shop/shop.toml"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // An endpoint one design does not serve: that design is named, with a suggestion.
    let o = fusebench(&[
        "compare",
        "scenarios/shop/shop.toml",
        "scenarios/validation/mmc3-rho080.toml",
        "--duration",
        "1",
        "--endpoint",
        "catalog.get_produt",
    ]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("scenarios/shop/shop.toml") && e.contains("catalog.get_product"), "{e}");
    let o = fusebench(&[
        "compare",
        "scenarios/shop/shop.toml",
        "scenarios/validation/mmc3-rho080.toml",
        "--duration",
        "1",
        "--endpoint",
        "catalog.get_product",
    ]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("not a public endpoint of scenarios/validation/mmc3-rho080.toml"), "{e}");
    // Workloads of different lengths without --duration.
    let o = fusebench(&["compare", "scenarios/shop/shop.toml", "scenarios/mesh/shop-filters.toml"]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("30 s") && e.contains("10 s") && e.contains("--duration"), "{e}");
    // A scenario that does not read: its located error, nothing run.
    let dir = scratch("compare", "bad");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[system]\nname = \"x\"\nbogus = 1\n").expect("write");
    let o = fusebench(&["compare", "scenarios/shop/shop.toml", bad.to_str().expect("utf-8")]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("bad.toml:3") && e.contains("nothing was run"), "{e}");
    assert!(stdout(&o).is_empty(), "nothing printed on stdout: {}", stdout(&o));
}
