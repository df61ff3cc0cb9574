//! The batch-engine templates of deploy/shard/, run on this machine as their engines run them:
//! the Slurm script once per array task with the variables Slurm sets, then the merge its
//! README launches; the Kubernetes Jobs' container commands after the README's `envsubst`, once
//! per pod index, then the merge pod's; the GitHub Actions workflow's `run:` steps once per
//! matrix entry in a checkout of its own, the shard files gathered as its artifacts are, then
//! the merge job's. Each must give the JUnit report one `fusebench check` gives, byte for byte
//! — so a template or a launch command that would not work on its engine fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{code, root, scratch, stderr, stdout};

/// The exploration the templates run in place of their examples' (the shop takes seconds per
/// case in a debug build): a design with a defect, so the verdicts and the exit code say
/// something.
const DEFECT: &str = "scenarios/flawed/dynamic/payment-redelivery.toml";
const CASES: &str = "6";
const SEED: &str = "3";

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What one machine gives: `check --format junit --out OUT`'s output in `dir` (it exits 1: the
/// defect fails; the failure names its replay file under OUT, as the merge's does).
fn one_machine(dir: &Path, out: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_fusebench"))
        .args([
            "check", DEFECT, "--cases", CASES, "--seed", SEED, "--format", "junit", "--out", out,
        ])
        .current_dir(dir)
        .output()
        .expect("fusebench runs");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    stdout(&o)
}

/// A directory standing for a checkout or an image's working directory: the repository's
/// `scenarios/` visible in it.
fn workdir(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("workdir");
    std::os::unix::fs::symlink(root().join("scenarios"), dir.join("scenarios")).expect("symlink");
    dir.to_path_buf()
}

/// `PATH` with this test's `fusebench` first, as an install would put it.
fn path_with_fusebench(scratch_dir: &Path) -> String {
    let bin = scratch_dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fusebench"), bin.join("fusebench"))
        .expect("symlink");
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// Runs `sh -c script` in `dir` with `env`.
fn sh(script: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("sh runs")
}

/// The first code span of deploy/shard/README.md's table row for `engine` that holds `word`:
/// a launch command, with the table's escaped `\|` a pipe again.
fn launch(engine: &str, word: &str) -> String {
    let readme = read("deploy/shard/README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with(&format!("| {engine} |")))
        .unwrap_or_else(|| panic!("deploy/shard/README.md has no row for {engine}"));
    let span = row.split('`').skip(1).step_by(2).find(|span| span.contains(word));
    span.unwrap_or_else(|| panic!("{engine}: no `{word}` command")).replace("\\|", "|")
}

/// The text between `open` and the next `close` after it in `s`.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let from = s.find(open)? + open.len();
    let len = s[from..].find(close)?;
    Some(&s[from..from + len])
}

/// gettext's `envsubst`: every `$NAME` and `${NAME}` replaced by its value in `env` (empty
/// when unset) — or, given a SHELL-FORMAT (`'$A $B'`), only the names it lists.
fn envsubst(text: &str, only: Option<&str>, env: &BTreeMap<String, String>) -> String {
    let listed: Option<Vec<&str>> =
        only.map(|f| f.split_whitespace().map(|v| v.trim_start_matches('$')).collect());
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (mut out, mut rest) = (String::new(), text);
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after.find(|c: char| !ident(c)).unwrap_or(after.len());
            (&after[..end], end)
        };
        let substituted = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(ident)
            && listed.as_ref().is_none_or(|l| l.contains(&name));
        if substituted {
            out.push_str(env.get(name).map_or("", String::as_str));
            rest = &after[len..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The folded (`>-`) block scalars of a YAML text that follow a line ending in `key`, each
/// joined into one line as YAML folds them.
fn folded_after(yaml: &str, key: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.trim_end().ends_with(key) {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .map(|l| l.trim())
            .collect();
        out.push(body.join(" ").trim().to_owned());
    }
    out
}

#[test]
fn the_slurm_array_and_its_merge_give_one_machine_s_report() {
    let dir = scratch("templates", "slurm");
    let work = workdir(&dir.join("work"));
    let path = path_with_fusebench(&dir);
    let row = launch("Slurm job array", "sbatch");
    // `sbatch --array=0-7 deploy/shard/slurm-array.sh SCENARIO CASES SEED OUT`: its OUT.
    let script_args = between(&row, "deploy/shard/slurm-array.sh ", ")").expect("sbatch args");
    let out_dir = script_args.split_whitespace().nth(3).expect("the script's OUT argument");
    let tasks = 3;
    for task in 0..tasks {
        let o = Command::new("bash")
            .arg(root().join("deploy/shard/slurm-array.sh"))
            .args([DEFECT, CASES, SEED, out_dir])
            .current_dir(&work)
            .env("PATH", &path)
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", tasks.to_string())
            .output()
            .expect("bash runs");
        assert_eq!(code(&o), 0, "array task {task}: {}", stderr(&o));
    }
    let wrap = between(&row, "--wrap '", "'").expect("the merge's --wrap command");
    let merge = wrap.replace("scenarios/shop/shop.toml", DEFECT);
    let expected =
        one_machine(&workdir(&dir.join("one")), between(&merge, "--out ", " ").expect("out"));
    let o = sh(&merge, &work, &[("PATH", &path)]);
    assert_eq!(code(&o), 1, "the merge exits as check does: {}", stderr(&o));
    let got = std::fs::read_to_string(work.join("verdicts.xml")).expect("verdicts.xml");
    assert_eq!(got, expected, "{merge}");
}

#[test]
fn the_kubernetes_indexed_job_after_envsubst_gives_one_machine_s_report() {
    let dir = scratch("templates", "k8s");
    let work = workdir(&dir.join("work"));
    let results = dir.join("results");
    std::fs::create_dir_all(&results).expect("results");
    let path = path_with_fusebench(&dir);
    // `SHARDS=8 … envsubst ['$A $B …'] < deploy/shard/k8s-indexed-job.yaml | kubectl apply`:
    // its variables, with this test's exploration in place of the example's.
    let command = launch("Kubernetes Indexed Job", "envsubst");
    let (assignments, rest) = command.split_once("envsubst").expect("envsubst");
    let mut env: BTreeMap<String, String> = assignments
        .split_whitespace()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for (k, v) in [("SHARDS", "3"), ("CASES", CASES), ("SEED", SEED), ("SCENARIO", DEFECT)] {
        assert!(env.contains_key(k), "the launch command sets no {k}");
        env.insert(k.to_owned(), v.to_owned());
    }
    let format =
        between(rest.trim_start(), "'", "'").filter(|_| rest.trim_start().starts_with('\''));
    let yaml = envsubst(&read("deploy/shard/k8s-indexed-job.yaml"), format, &env);
    assert!(yaml.contains("completions: 3") && yaml.contains("parallelism: 3"), "{yaml}");
    let args = folded_after(&yaml, "- >-");
    let [shard, merge] = &args[..] else { panic!("two container commands expected: {args:?}") };
    // The pods' volume mounted at /results is this test's directory.
    let mount = |c: &str| c.replace("/results", results.to_str().expect("utf-8"));
    for index in 0..3 {
        let o = sh(
            &mount(shard),
            &work,
            &[("PATH", &path), ("JOB_COMPLETION_INDEX", &index.to_string())],
        );
        assert_eq!(code(&o), 0, "pod {index}: `{shard}`: {}", stderr(&o));
    }
    let expected = one_machine(&work, results.to_str().expect("utf-8"));
    let o = sh(&mount(merge), &work, &[("PATH", &path)]);
    assert_eq!(code(&o), 1, "`{merge}`: {}", stderr(&o));
    let got = std::fs::read_to_string(results.join("verdicts.xml")).expect("verdicts.xml");
    assert_eq!(got, expected, "{merge}");
}

#[test]
fn the_github_actions_matrix_gives_one_machine_s_report() {
    let dir = scratch("templates", "gha");
    let path = path_with_fusebench(&dir);
    let yaml = read("deploy/shard/github-actions-matrix.yml");
    let (shard_job, merge_job) = yaml.split_once("\n  merge:\n").expect("a shard and a merge job");
    // The workflow's env, with this test's exploration in place of the example's.
    let env_block = between(&yaml, "\nenv:\n", "\njobs:").expect("env");
    let mut env: BTreeMap<&str, String> = env_block
        .lines()
        .filter_map(|l| l.trim().split_once(": "))
        .map(|(k, v)| (k, v.trim_matches('"').to_owned()))
        .collect();
    let shards: usize = env["SHARDS"].parse().expect("SHARDS");
    let matrix = between(shard_job, "shard: [", "]").expect("the matrix");
    let matrix: Vec<&str> = matrix.split(',').map(str::trim).collect();
    let indices: Vec<String> = (0..shards).map(|i| i.to_string()).collect();
    assert_eq!(matrix, indices, "the matrix must list shards 0..SHARDS");
    env.insert("SCENARIO", DEFECT.to_owned());
    env.insert("CASES", CASES.to_owned());
    env.insert("SEED", SEED.to_owned());
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.push(("PATH", &path));
    // A job's `run:` steps that use fusebench (installing it is what `path` stands for).
    let runs = |job: &str| -> Vec<String> {
        let mut steps = folded_after(job, "- run: >-");
        steps.extend(
            job.lines()
                .filter_map(|l| l.trim().strip_prefix("- run: "))
                .filter(|s| *s != ">-")
                .map(str::to_owned),
        );
        steps.retain(|s| s.contains("fusebench ") && !s.starts_with("cargo install"));
        steps
    };
    let (shard_steps, merge_steps) = (runs(shard_job), runs(merge_job));
    assert!(!shard_steps.is_empty() && !merge_steps.is_empty(), "{shard_steps:?} {merge_steps:?}");
    let merge_dir = workdir(&dir.join("merge"));
    for entry in &matrix {
        let checkout = workdir(&dir.join(format!("shard-{entry}")));
        for step in &shard_steps {
            let step = step.replace("${{ matrix.shard }}", entry);
            let o = sh(&step, &checkout, &vars);
            assert_eq!(code(&o), 0, "matrix {entry}: `{step}`: {}", stderr(&o));
        }
        // upload-artifact `shards/*.json`, download-artifact `path: shards`, merge-multiple.
        let uploaded = shard_job.lines().find_map(|l| l.trim().strip_prefix("path: "));
        let uploaded = uploaded.expect("the artifact's path");
        assert_eq!(uploaded, "shards/*.json");
        std::fs::create_dir_all(merge_dir.join("shards")).expect("shards");
        for f in std::fs::read_dir(checkout.join("shards")).expect("shards written") {
            let f = f.expect("entry").path();
            if f.extension().is_some_and(|x| x == "json") {
                std::fs::copy(&f, merge_dir.join("shards").join(f.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
    let merge = merge_steps.last().expect("the merge step");
    let expected =
        one_machine(&workdir(&dir.join("one")), between(merge, "--out ", " ").expect("out"));
    for step in &merge_steps {
        let o = sh(step, &merge_dir, &vars);
        assert_eq!(code(&o), 1, "`{step}` exits as check does: {}", stderr(&o));
    }
    let got = std::fs::read_to_string(merge_dir.join("verdicts.xml")).expect("verdicts.xml");
    assert_eq!(got, expected);
}

#[test]
fn envsubst_replaces_what_gettext_s_does() {
    let env: BTreeMap<String, String> = [("A", "1"), ("B", "two")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let text = "x ${A} $B $UNSET/${A}$ 5$ ${A";
    assert_eq!(envsubst(text, None, &env), "x 1 two /1$ 5$ ${A");
    assert_eq!(envsubst(text, Some("$A"), &env), "x 1 $B $UNSET/1$ 5$ ${A");
}
