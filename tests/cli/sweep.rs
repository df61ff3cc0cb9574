//! `fusebench sweep`: the grid (size, order), independence from the thread count, the figures
//! (recomputed from `run` of the same edited scenario), their direction where queueing theory
//! gives one, the machine formats, and every bad `--set` refused with the argument named.

use serde_json::Value as J;

use crate::support::{code, fusebench, scratch, stderr, stdout};

/// M/D/1 with 1 ms of service: one replica serves at most 1000 requests/s.
const MD1: &str = "scenarios/validation/md1-rho080.toml";

fn sweep_json(args: &[&str]) -> J {
    let mut all = vec!["sweep", MD1];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let o = fusebench(&all);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn points(j: &J) -> &Vec<J> {
    j["points"].as_array().expect("points")
}

fn f(v: &J) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_grid_is_the_cartesian_product_first_parameter_slowest() {
    let j = sweep_json(&[
        "--set",
        "service.station.replicas=1,2",
        "--set",
        "service.station.concurrency=1,3",
        "--set",
        "workload.rate_rps=100,200",
        "--duration",
        "0.2",
    ]);
    let ps = points(&j);
    assert_eq!(ps.len(), 8);
    let mut expected = Vec::new();
    for r in ["1", "2"] {
        for c in ["1", "3"] {
            for rate in ["100", "200"] {
                expected.push(vec![r, c, rate]);
            }
        }
    }
    for (i, (p, want)) in ps.iter().zip(&expected).enumerate() {
        assert_eq!(p["point"], i + 1);
        let got: Vec<&str> = p["settings"]
            .as_array()
            .expect("settings")
            .iter()
            .map(|s| s[1].as_str().unwrap_or(""))
            .collect();
        assert_eq!(&got, want, "point {}", i + 1);
        assert_eq!(p["settings"][0][0], "service.station.replicas");
        assert_eq!(p["seeds"], serde_json::json!([1]));
    }
    // The rate is applied: about twice the requests at 200/s as at 100/s (0.2 s of Poisson).
    let (slow, fast) = (f(&ps[0]["requests"]), f(&ps[1]["requests"]));
    assert!(fast > slow * 1.3, "{slow} vs {fast}");
    // replica-seconds follow the replicas (a fixed service: replicas × the run's end).
    let (one, two) = (f(&ps[0]["replica_seconds"]), f(&ps[4]["replica_seconds"]));
    assert!((two - 2.0 * one).abs() < 0.05 * one, "{one} vs {two}");
}

#[test]
fn the_output_does_not_depend_on_the_number_of_threads() {
    let args = |jobs: &'static str, format: &'static str| {
        vec![
            "sweep",
            MD1,
            "--set",
            "service.station.replicas=1,2,3",
            "--set",
            "workload.rate_rps=900,1200",
            "--duration",
            "0.5",
            "--seeds",
            "2",
            "--jobs",
            jobs,
            "--format",
            format,
        ]
    };
    for format in ["text", "json", "csv"] {
        let one = fusebench(&args("1", format));
        let two = fusebench(&args("2", format));
        assert_eq!(code(&one), 0, "{}", stderr(&one));
        assert_eq!(code(&two), 0, "{}", stderr(&two));
        assert_eq!(stdout(&one), stdout(&two), "{format}");
    }
}

/// Past one replica's capacity (1500 requests/s on 1000/s of service) the queue grows for the
/// whole run; two replicas (ρ = 0.75) and four (ρ = 0.375) answer in ever less time. The cost
/// grows the other way.
#[test]
fn more_replicas_lower_p99_under_a_load_that_saturates_one() {
    let j = sweep_json(&[
        "--set",
        "workload.rate_rps=1500",
        "--set",
        "service.station.replicas=1,2,4",
        "--duration",
        "2",
    ]);
    let ps = points(&j);
    let p99: Vec<f64> = ps.iter().map(|p| f(&p["p99_ms"])).collect();
    let cost: Vec<f64> = ps.iter().map(|p| f(&p["replica_seconds"])).collect();
    assert!(p99[0] > p99[1] && p99[1] > p99[2], "p99 per replica count 1, 2, 4: {p99:?}");
    // One saturated replica falls behind by ~500 requests/s × 2 s: a p99 of several hundred ms.
    assert!(p99[0] > 100.0 && p99[2] < 10.0, "{p99:?}");
    assert!(cost[0] < cost[1] && cost[1] < cost[2], "{cost:?}");
    for p in ps {
        assert_eq!(f(&p["availability"]), 1.0, "the gateway never times out in md1: {p}");
    }
}

/// A point is `run` of the edited scenario with the same seed: same trace, same figures.
#[test]
fn a_point_is_the_run_of_its_edited_scenario() {
    let j = sweep_json(&[
        "--set",
        "service.station.replicas=1,2",
        "--set",
        "workload.rate_rps=1200",
        "--duration",
        "1",
        "--seed",
        "5",
    ]);
    let point = &points(&j)[1];
    // The same edit by hand.
    let dir = scratch("sweep", "edited");
    let text = std::fs::read_to_string(crate::support::root().join(MD1)).expect("md1");
    let edited = text
        .replace("concurrency = 1\n", "replicas = 2\nconcurrency = 1\n")
        .replace("rate_rps = 800", "rate_rps = 1200");
    assert_ne!(edited, text);
    let path = dir.join("edited.toml");
    std::fs::write(&path, edited).expect("write");
    let out = dir.join("run");
    let o = fusebench(&[
        "run",
        path.to_str().expect("utf-8"),
        "--duration",
        "1",
        "--seed",
        "5",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report: J =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(point["trace_hashes"][0], report["trace_hash"]);
    let e = &report["endpoints"]["station.serve"];
    assert_eq!(f(&point["p99_ms"]), f(&e["latency"]["p99_ms"]));
    assert_eq!(point["requests"], e["requests"]);
    assert_eq!(f(&point["availability"]), f(&e["availability"]));
    let cost = 2.0 * f(&report["end_s"]);
    assert!((f(&point["replica_seconds"]) - cost).abs() < 1e-9, "{point} vs {cost}");
}

#[test]
fn csv_and_json_carry_the_same_rows_and_out_writes_them_with_the_plot() {
    let dir = scratch("sweep", "out");
    let base = [
        "sweep",
        MD1,
        "--set",
        "service.station.replicas=1,2",
        "--set",
        "service.station.load_balancing=round-robin,least-outstanding",
        "--duration",
        "0.3",
    ];
    let csv = fusebench(
        &[&base[..], &["--format", "csv", "--out", dir.to_str().expect("utf-8")]].concat(),
    );
    assert_eq!(code(&csv), 0, "{}", stderr(&csv));
    let json = fusebench(&[&base[..], &["--format", "json"]].concat());
    let j: J = serde_json::from_str(&stdout(&json)).expect("json");
    let text = stdout(&csv);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "point",
            "service.station.replicas",
            "service.station.load_balancing",
            "requests",
            "successes",
            "availability",
            "p99_ms",
            "replica_seconds",
            "cold_starts",
            "slo"
        ]
    );
    assert_eq!(rows.len(), 5);
    for (row, p) in rows[1..].iter().zip(points(&j)) {
        assert_eq!(row.len(), rows[0].len());
        assert_eq!(row[0], p["point"].to_string());
        assert_eq!(row[3], p["requests"].to_string());
        let p99: f64 = row[6].parse().expect("a number");
        assert_eq!(p99, f(&p["p99_ms"]));
        assert_eq!(row[9], "", "md1 declares no SLO");
    }
    assert_eq!(std::fs::read_to_string(dir.join("sweep.csv")).expect("sweep.csv"), text);
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).expect("sweep.svg");
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    for label in
        ["p99 latency (ms)", "availability (%)", "replica-seconds", "2 · least-outstanding"]
    {
        assert!(svg.contains(label), "{label} missing from the plot");
    }
}

#[test]
fn the_text_table_is_aligned_and_names_every_parameter() {
    let o =
        fusebench(&["sweep", MD1, "--set", "service.station.replicas=1,10", "--duration", "0.2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("md1-rho080 · 2 point(s) · seed 1 · 0.2 s workload"), "{text}");
    assert!(lines[2].starts_with("point  service.station.replicas  requests"), "{text}");
    // Right-aligned figures: every row ends its columns where the header does.
    let end = |l: &str, col: &str| l.find(col).map(|i| i + col.len());
    let req_end = end(lines[2], "requests").expect("header");
    for row in &lines[3..5] {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 8, "{row}");
        assert_eq!(end(row, cells[2]), Some(req_end), "{text}");
        assert_eq!(cells[7], "–", "no SLO declared: {row}");
    }
}

/// Runs a sweep of md1 with `set`; it must exit 2 with nothing on stdout and `want` (every
/// fragment) on stderr.
fn refused(set: &str, want: &[&str]) {
    let o = fusebench(&["sweep", MD1, "--set", set, "--duration", "0.1"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{set}: {err}");
    assert!(stdout(&o).is_empty(), "{set}: {}", stdout(&o));
    for w in want {
        assert!(err.contains(w), "{set}: `{w}` not in\n{err}");
    }
    assert!(err.contains("nothing was run"), "{err}");
}

#[test]
fn bad_sets_are_refused_naming_the_argument() {
    refused(
        "service.statoin.replicas=1,2",
        &[
            "--set 'service.statoin.replicas=1,2'",
            "no service named `statoin`",
            "did you mean `station`?",
        ],
    );
    refused(
        "service.station.replica=1,2",
        &[
            "--set 'service.station.replica=1,2'",
            "`replica` is not a service field",
            "did you mean `replicas`?",
        ],
    );
    refused("service.station.replicas=1,two", &["value `two`: not a whole number"]);
    refused("service.station.replicas=", &["no value for `service.station.replicas`"]);
    refused("service.station.replicas=1,,2", &["an empty value in `1,,2`"]);
    refused("service.station.replicas=1,1", &["`1` is listed twice"]);
    refused("service.station", &["no `=`"]);
    refused("station.replicas=2", &["`station.replicas`: write PARAM=V1,V2,…"]);
    refused("store.db.replicas=2", &["no store named `db`"]);
    refused(
        "service.station.autoscale.target=2",
        &["service `station` has no `[service.autoscale]`"],
    );
    refused("workload.rate_rps=fast", &["value `fast`: not a finite number"]);
    // Values the reader refuses: its located diagnostic, then the argument and the value.
    refused(
        "service.station.replicas=2,0",
        &[
            "md1-rho080.toml:",
            "replicas",
            "--set 'service.station.replicas=2,0': value `0` makes the scenario invalid",
        ],
    );
    refused(
        "service.station.node=host,mars",
        &["md1-rho080.toml:", "mars", "value `mars` makes the scenario invalid"],
    );
    refused(
        "service.station.load_balancing=fastest",
        &["fastest", "value `fastest` makes the scenario invalid"],
    );
}

#[test]
fn a_parameter_swept_twice_or_an_unknown_endpoint_is_refused() {
    let o = fusebench(&[
        "sweep",
        MD1,
        "--set",
        "service.station.replicas=1",
        "--set",
        "service.station.replicas=2",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("is already swept by --set 'service.station.replicas=1'"),
        "{}",
        stderr(&o)
    );
    let o = fusebench(&[
        "sweep",
        MD1,
        "--set",
        "service.station.replicas=1",
        "--endpoint",
        "station.serv",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("did you mean `station.serve`?"), "{}", stderr(&o));
}

/// One warm replica against scale to zero, on the serverless pipeline: the second pays a cold
/// start when the burst at 60 s finds no replica, the first pays replica-seconds.
#[test]
fn an_autoscale_policy_trades_cold_starts_for_replica_seconds() {
    let o = fusebench(&[
        "sweep",
        "scenarios/serverless/serverless-warm.toml",
        "--set",
        "service.resize.autoscale.min_replicas=1,0",
        "--duration",
        "65",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j: J = serde_json::from_str(&stdout(&o)).expect("json");
    let ps = points(&j);
    let (warm, zero) = (&ps[0], &ps[1]);
    assert!(f(&zero["cold_starts"]) >= 1.0, "{zero}");
    assert_eq!(f(&warm["cold_starts"]), 0.0, "{warm}");
    assert!(f(&zero["replica_seconds"]) < f(&warm["replica_seconds"]), "{zero} vs {warm}");
}

/// The README's sweep command prints exactly the table the README shows under it.
#[test]
fn the_readme_sweep_table_reproduces() {
    let (command, args, line, shown) = crate::support::readme_command_and_output("-- sweep ");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = fusebench(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), shown, "README.md:{line}: `{command}`");
}
