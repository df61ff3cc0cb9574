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

/// Runs shards `0..n` of `cases` cases from `seed` as `n` processes at once, into `dir`.
fn shards(n: usize, cases: usize, seed: u64, dir: &Path) -> Vec<PathBuf> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            bin()
                .args(["check", DEFECT, "--cases", &cases.to_string(), "--seed", &seed.to_string()])
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
    (0..n).map(|i| dir.join(format!("payment-redelivery.shard-{i}-of-{n}.json"))).collect()
}

fn merge(files: &[PathBuf], extra: &[&str]) -> Output {
    let mut args = vec!["merge".to_owned(), DEFECT.to_owned()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fusebench(&args)
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
