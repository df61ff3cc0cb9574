//! Exploration split over processes, as a batch engine runs it: `check --shard I/N` in N
//! processes at once, then `merge`, gives byte for byte what one `check` gives — in every output
//! format, replay file included; shard files that do not make one exploration are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{code, fusebench, root, stderr, stdout};

const DEFECT: &str = "scenarios/flawed/dynamic/payment-redelivery.toml";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fusebench"));
    c.current_dir(root());
    c
}

/// Runs `fusebench ARGS --shard I/N --out DIR` for every shard `I` of `n` as `n` processes at
/// once; each must exit 0 and name its shard.
fn shard_processes(n: usize, args: &[&str], dir: &Path) {
    let children: Vec<_> = (0..n)
        .map(|i| {
            bin()
                .args(args)
                .args(["--shard", &format!("{i}/{n}"), "--out", dir.to_str().expect("utf-8")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a shard process starts")
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out: Output = child.wait_with_output().expect("shard process");
        assert_eq!(code(&out), 0, "shard {i}: {}", stderr(&out));
        assert!(stdout(&out).contains(&format!("shard {i}/{n}:")), "{}", stdout(&out));
    }
}

/// Runs shards `0..n` of `cases` cases from `seed` as `n` processes at once, into `dir`.
fn shards(n: usize, cases: usize, seed: u64, dir: &Path) -> Vec<PathBuf> {
    let (cases, seed) = (cases.to_string(), seed.to_string());
    shard_processes(n, &["check", DEFECT, "--cases", &cases, "--seed", &seed], dir);
    (0..n).map(|i| dir.join(format!("payment-redelivery.shard-{i}-of-{n}.json"))).collect()
}

/// `fusebench merge SCENARIO FILES... EXTRA...`.
fn merge_of(scenario: &str, files: &[PathBuf], extra: &[&str]) -> Output {
    let mut args = vec!["merge".to_owned(), scenario.to_owned()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fusebench(&args)
}

fn merge(files: &[PathBuf], extra: &[&str]) -> Output {
    merge_of(DEFECT, files, extra)
}

#[test]
fn shards_merged_give_what_one_machine_gives_byte_for_byte() {
    let dir = crate::support::scratch("shard", "same");
    let files = shards(3, 6, 3, &dir.join("shards"));
    for format in ["json", "junit"] {
        let out = dir.join(format!("out-{format}"));
        let out_arg = out.to_str().expect("utf-8");
        let one = fusebench(&[
            "check", DEFECT, "--cases", "6", "--seed", "3", "--format", format, "--out", out_arg,
        ]);
        assert_eq!(code(&one), 1, "the defect fails: {}", stderr(&one));
        let replay = out.join("payment-redelivery.replay.json");
        let written_by_check = std::fs::read(&replay).expect("check's replay file");
        std::fs::remove_file(&replay).expect("removed");
        let merged = merge(&files, &["--format", format, "--out", out_arg]);
        assert_eq!(code(&merged), 1, "{}", stderr(&merged));
        assert_eq!(stdout(&merged), stdout(&one), "{format}: merged output differs");
        // The counterexample, shrunk again by the merge, is saved as the same replay file.
        let written_by_merge = std::fs::read(&replay).expect("merge's replay file");
        assert_eq!(written_by_merge, written_by_check, "{format}: replay files differ");
    }
}

#[test]
fn shard_files_that_are_not_one_exploration_are_refused() {
    let dir = crate::support::scratch("shard", "refused");
    let three = shards(3, 3, 1, &dir.join("a"));
    let other_seed = shards(3, 3, 2, &dir.join("b"));
    let cases: [(Vec<PathBuf>, &str); 3] = [
        (three[..2].to_vec(), "shard(s) 2 of 3 missing"),
        (
            vec![three[0].clone(), three[1].clone(), other_seed[2].clone()],
            "from another exploration",
        ),
        (vec![three[0].clone(), three[1].clone(), three[1].clone()], "given twice"),
    ];
    for (files, why) in cases {
        let o = merge(&files, &[]);
        assert_eq!(code(&o), 2, "{why}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{why}: {}", stderr(&o));
    }
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"fusebench_shard\": 99}").expect("write");
    let o = merge(&[bad], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("shard file format 99"), "{}", stderr(&o));
    let o = fusebench(&["check", DEFECT, "--shard", "3/3"]);
    assert_eq!(code(&o), 2, "a shard beyond the count is a usage error");
    assert!(stderr(&o).contains("0 ≤ I < N"), "{}", stderr(&o));
}

/// A design that misses an SLO objective in some seeds: the merge must give `run`'s exit 1 too.
const SLOW_PATH: &str = "scenarios/flawed/dynamic/hot-path-slo.toml";

/// `run --seeds 5 --seed 3 --duration 2`, the multi-seed run the shards split.
const SEEDS: [&str; 6] = ["--seeds", "5", "--seed", "3", "--duration", "2"];

/// Runs shards `0..n` of [`SEEDS`] as `n` processes at once, each with `--out dir`.
fn run_shards(n: usize, dir: &Path) -> Vec<PathBuf> {
    shard_processes(n, &[&["run", SLOW_PATH][..], &SEEDS].concat(), dir);
    (0..n).map(|i| dir.join(format!("hot-path-slo.run-shard-{i}-of-{n}.json"))).collect()
}

fn merge_runs(files: &[PathBuf], extra: &[&str]) -> Output {
    merge_of(SLOW_PATH, files, extra)
}

#[test]
fn run_shards_merged_give_what_run_seeds_gives_byte_for_byte() {
    let dir = crate::support::scratch("shard", "runs");
    let shard_dir = dir.join("shards");
    let files = run_shards(3, &shard_dir);
    let one = fusebench(&[&["run", SLOW_PATH][..], &SEEDS].concat());
    assert_eq!(code(&one), 1, "the hot path misses its p99: {}", stderr(&one));
    let merged = merge_runs(&files, &[]);
    assert_eq!(code(&merged), 1, "{}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(&one), "the summary differs");
    assert_eq!(stderr(&merged), stderr(&one), "the missed objectives differ");
    assert!(stdout(&one).contains("5 seeds (3..=7)"), "{}", stdout(&one));

    // With --out: the aggregate's files, and each seed's own files where its shard wrote them.
    let one_dir = dir.join("one");
    let merged_dir = dir.join("merged");
    let o = fusebench(
        &[&["run", SLOW_PATH][..], &SEEDS, &["--out", one_dir.to_str().expect("utf-8")]].concat(),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let m = merge_runs(&files, &["--out", merged_dir.to_str().expect("utf-8")]);
    assert_eq!(code(&m), 1, "{}", stderr(&m));
    for name in ["report.json", "report.md"] {
        let a = std::fs::read(one_dir.join(name)).expect("run's aggregate");
        let b = std::fs::read(merged_dir.join(name)).expect("merge's aggregate");
        assert!(a == b, "{name} differs");
    }
    for seed in 3..=7 {
        for name in ["report.json", "trace.jsonl"] {
            let a = std::fs::read(one_dir.join(format!("seed-{seed}/{name}"))).expect("run's");
            let b = std::fs::read(shard_dir.join(format!("seed-{seed}/{name}"))).expect("shard's");
            assert!(a == b, "seed {seed}: {name} differs");
        }
    }
}

#[test]
fn run_shards_that_are_not_one_run_are_refused() {
    let dir = crate::support::scratch("shard", "runs-refused");
    let files = run_shards(2, &dir.join("a"));
    let o = merge_runs(&files[..1], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("shard(s) 1 of 2 missing"), "{}", stderr(&o));
    let o = merge_runs(&files, &["--format", "json"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--format is for check shards"), "{}", stderr(&o));
    // A check shard among run shards.
    let check = dir.join("check");
    let c = fusebench(&[
        "check",
        SLOW_PATH,
        "--cases",
        "1",
        "--shard",
        "0/1",
        "--out",
        check.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    let mixed = [files[0].clone(), files[1].clone(), check.join("hot-path-slo.shard-0-of-1.json")];
    let o = merge_runs(&mixed, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("is a `check` shard file"), "{}", stderr(&o));
    // A run moved into the other shard's file.
    let text = std::fs::read_to_string(&files[1]).expect("shard 1");
    let moved = dir.join("moved.json");
    std::fs::write(&moved, text.replace("\"seed\":4,", "\"seed\":5,")).expect("write");
    let o = merge_runs(&[files[0].clone(), moved], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("holds seed 5, which belongs to another shard"), "{}", stderr(&o));
}
