//! The self-tests that keep the verdicts honest (issue 11): `scenarios/corpus/`, driven through
//! the `fusebench` binary as a user would (`check --format json`, `replay`).
//!
//! - The false-alarm corpus, `correct/*.toml`: designs that are right and stress timing. Each
//!   must pass every property over [`CASES`] cases from each of [`SEEDS`].
//! - The mutation corpus, `defects/<property-id>/*.toml`, headed `# expect-fail: <id>` and
//!   `# defect: <sentence>`: each must fail exactly its property (plus, only where a third line
//!   `# also-fails: <id> — <why>` names it, a property its defect necessarily breaks too: a
//!   lost acknowledged write under arrival order also leaves the replicas diverged), checked
//!   from [`DEFECT_SEED`] unless a header line `# seed: <n> — <why>` names the seed whose
//!   exploration finds it (a defect only some fault schedules expose), with a
//!   shrunk counterexample
//!   whose replay reproduces the violation. For every property at least one defect must also be
//!   caught by an explored case (a generated case fails it, as well as or instead of the
//!   declared one): a property whose oracle only works on the declared scenario is not doing its
//!   job. Defects that only exploration finds (the declared case passes) are counted too, and
//!   their counterexamples are shrunk from a case other than 0. Exempt: a property `check`
//!   reports as skipped in every generated case (the SLOs, written for the declared workload).
//! - The corpus's own shape: at least [`CORRECT_MIN`] correct designs, at least
//!   [`DEFECTS_PER_PROPERTY_MIN`] defects for every property of `PROPERTIES`.
//!
//! Every design is checked even after one fails, and a test lists every design that broke its
//! expectation with the reason, so one run says everything that is wrong. Designs run on
//! parallel threads (each `fusebench check` also explores its cases in parallel).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use fusebench_sim::properties::PROPERTIES;
use serde_json::Value;

use crate::support::{code, fusebench, rel, root, scratch, stderr, stdout, tomls};

/// Cases per `check`: the declared scenario and 15 explored ones.
const CASES: &str = "16";
/// Exploration seeds every correct design is checked from. Seed 6 explores the faults that
/// made a false alarm: a duplicated gRPC call's re-run counted as coupling traffic
/// (`corpus-grpc-chain.toml`). (It also made `rollout-safe` blame a rollout for a request whose
/// retry a crash lost, in a design since moved to the defects for a true flaw:
/// `defects/rollout-safe/rollout-safe-retries-no-drain.toml`; `properties::rollout` tests that
/// attribution.)
const SEEDS: &[u64] = &[1, 2, 6];
/// The seed defects are checked from, unless a design's header names its own (`# seed:`).
const DEFECT_SEED: u64 = 1;
const CORRECT_MIN: usize = 8;
/// Findings shown per failed property in a failure message (the command to reproduce follows).
const FINDINGS_SHOWN: usize = 3;
const DEFECTS_PER_PROPERTY_MIN: usize = 3;

const CORRECT_DIR: &str = "scenarios/corpus/correct";
const DEFECTS_DIR: &str = "scenarios/corpus/defects";

/// One `fusebench check --format json` of a corpus design.
struct Checked {
    /// The design, relative to the repository root.
    design: String,
    seed: u64,
    exit: i32,
    json: Value,
    stderr: String,
}

impl Checked {
    fn dynamic(&self) -> &Value {
        &self.json["dynamic"]
    }

    /// Each failed property with the cases it failed in. `check` reports every property over
    /// every case (`properties[i].failed`: the case indices); a `check` that reports one case's
    /// verdicts (the counterexample's, else the declared case's) gives only that case, the one
    /// the counterexample came from.
    fn failures(&self) -> Vec<(String, Vec<u64>)> {
        let mut out = Vec::new();
        for v in self.dynamic()["properties"].as_array().into_iter().flatten() {
            if v["status"] != "failed" {
                continue;
            }
            let id = v["id"].as_str().unwrap_or("?").to_owned();
            let cases: Vec<u64> = match v["failed"].as_array() {
                Some(cases) => cases.iter().filter_map(Value::as_u64).collect(),
                None => self.counterexample_case().into_iter().collect(),
            };
            out.push((id, cases));
        }
        out
    }

    /// Whether `check` judges property `id` in generated cases at all: not when it reports
    /// the property skipped in every generated case (`properties[i].skipped`, e.g. the SLOs,
    /// written for the declared workload). A `check` that does not report skipped cases is
    /// taken to judge it.
    fn judges_generated_cases(&self, id: &str) -> bool {
        let cases = self.dynamic()["cases"].as_u64().unwrap_or(0);
        let property = self.dynamic()["properties"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["id"] == id));
        let Some(skipped) = property.and_then(|v| v["skipped"].as_array()) else { return true };
        let skipped: Vec<u64> = skipped.iter().filter_map(Value::as_u64).collect();
        cases < 2 || !(1..cases).all(|case| skipped.contains(&case))
    }

    fn failed_properties(&self) -> Vec<String> {
        self.failures().into_iter().map(|(id, _)| id).collect()
    }

    /// Static checks that failed.
    fn failed_checks(&self) -> Vec<String> {
        self.json["checks"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter(|c| c["passed"] == false)
                    .filter_map(|c| c["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The findings of every failed property, one line each, for a failure message.
    fn findings(&self) -> String {
        let mut out = Vec::new();
        for v in self.dynamic()["properties"].as_array().into_iter().flatten() {
            let id = v["id"].as_str().unwrap_or("?");
            let findings = v["findings"].as_array().map_or(&[][..], Vec::as_slice);
            for f in findings.iter().take(FINDINGS_SHOWN) {
                out.push(format!("      {id}: {}", f.as_str().unwrap_or("?")));
            }
            if findings.len() > FINDINGS_SHOWN {
                out.push(format!("      {id}: … and {} more", findings.len() - FINDINGS_SHOWN));
            }
        }
        if let Some(why) = self.json["dynamic_skipped"].as_str() {
            out.push(format!("      dynamic properties not checked: {why}"));
        }
        for c in self.json["checks"].as_array().into_iter().flatten() {
            for f in c["findings"].as_array().into_iter().flatten() {
                if c["passed"] == false {
                    let id = c["id"].as_str().unwrap_or("?");
                    out.push(format!("      {id}: {}", f["message"].as_str().unwrap_or("?")));
                }
            }
        }
        if out.is_empty() && !self.stderr.trim().is_empty() {
            out.push(format!("      stderr: {}", self.stderr.trim()));
        }
        out.join("\n")
    }

    /// The case the counterexample was shrunk from (0: the declared scenario):
    /// `counterexample.shrinking.from_case`, or, where `check` does not say, derived from its
    /// seed (case `i` runs with seed `seed + i`, and the counterexample keeps its case's seed).
    fn counterexample_case(&self) -> Option<u64> {
        let ce = &self.dynamic()["counterexample"];
        if let Some(case) = ce["shrinking"]["from_case"].as_u64() {
            return Some(case);
        }
        let case_seed = ce["seed"].as_u64()?;
        Some(case_seed.wrapping_sub(self.seed))
    }

    /// Candidate runs shrinking evaluated (`shrinking.runs`, or `shrink_steps`).
    fn shrink_runs(&self) -> u64 {
        let ce = &self.dynamic()["counterexample"];
        ce["shrinking"]["runs"].as_u64().or_else(|| ce["shrink_steps"].as_u64()).unwrap_or(0)
    }

    fn command(&self) -> String {
        format!(
            "cargo run -- check {} --cases {CASES} --seed {} --format json",
            self.design, self.seed
        )
    }
}

/// `fusebench check DESIGN --cases CASES --seed SEED --format json --out <scratch>`.
fn check(design: &Path, seed: u64, out: &Path) -> Checked {
    let design = rel(design);
    let o = fusebench(&[
        "check",
        &design,
        "--cases",
        CASES,
        "--seed",
        &seed.to_string(),
        "--format",
        "json",
        "--out",
        out.to_str().expect("utf-8 scratch path"),
    ]);
    let json = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
    Checked { design, seed, exit: code(&o), json, stderr: stderr(&o) }
}

/// `f` over every item on a few threads; the results in the items' order.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let workers = workers.min(items.len()).max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results.lock().expect("no worker panicked holding the lock")[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("no worker panicked holding the lock")
        .into_iter()
        .map(|r| r.expect("every item was run"))
        .collect()
}

fn file_stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The defect directories: `(property id, its designs)`, sorted by id.
fn defect_dirs() -> Vec<(String, Vec<PathBuf>)> {
    let mut dirs: Vec<(String, Vec<PathBuf>)> = std::fs::read_dir(root().join(DEFECTS_DIR))
        .expect("scenarios/corpus/defects exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .map(|p| {
            let id = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let designs = tomls(&format!("{DEFECTS_DIR}/{id}"));
            (id, designs)
        })
        .collect();
    dirs.sort();
    dirs
}

/// What is wrong with a design's header: correct designs open with a one-line `# ` comment
/// saying what they model; defects with `# expect-fail: <id>` (their directory) and
/// `# defect: <sentence>`.
fn header_problems(path: &Path, expect_fail: Option<&str>) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("corpus design reads");
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let second = lines.next().unwrap_or_default();
    let at = rel(path);
    let mut out = Vec::new();
    match expect_fail {
        None => {
            if !first.starts_with("# ") || first.trim_end().len() < 12 {
                out.push(format!("{at}:1: no one-line `# <what it models>` header"));
            }
        }
        Some(id) => {
            let want = format!("# expect-fail: {id}");
            if first.trim_end() != want {
                out.push(format!("{at}:1: `{first}`, expected `{want}` (its directory)"));
            }
            if !second.starts_with("# defect: ") || second.trim_end().len() < 20 {
                out.push(format!("{at}:2: no `# defect: <one sentence>` line"));
            }
            let header = text.lines().take_while(|l| l.starts_with('#')).enumerate();
            for (i, line) in header.filter(|(_, l)| l.starts_with("# seed: ")) {
                if defect_seed(path) == DEFECT_SEED {
                    out.push(format!(
                        "{at}:{}: `{line}`, expected `# seed: <n> — <why>` (n ≠ {DEFECT_SEED})",
                        i + 1
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn the_corpus_has_its_shape() {
    let mut problems = Vec::new();
    let correct = tomls(CORRECT_DIR);
    if correct.len() < CORRECT_MIN {
        problems.push(format!(
            "{CORRECT_DIR}: {} correct designs, at least {CORRECT_MIN} wanted",
            correct.len()
        ));
    }
    for p in &correct {
        problems.extend(header_problems(p, None));
    }
    let dirs = defect_dirs();
    for (id, designs) in &dirs {
        if !PROPERTIES.iter().any(|p| p.id == id.as_str()) {
            problems.push(format!(
                "{DEFECTS_DIR}/{id}: no property has this id (PROPERTIES: {})",
                PROPERTIES.iter().map(|p| &*p.id).collect::<Vec<_>>().join(", ")
            ));
        }
        for p in designs {
            problems.extend(header_problems(p, Some(id)));
        }
    }
    for p in PROPERTIES {
        let n = dirs.iter().find(|(id, _)| **id == p.id).map_or(0, |(_, d)| d.len());
        if n < DEFECTS_PER_PROPERTY_MIN {
            problems.push(format!(
                "property `{}`: {n} defect(s) in {DEFECTS_DIR}/{}/, at least {DEFECTS_PER_PROPERTY_MIN} wanted",
                p.id, p.id
            ));
        }
    }
    assert!(problems.is_empty(), "the corpus is short of its shape:\n  {}", problems.join("\n  "));
}

#[test]
fn every_correct_design_passes_every_property() {
    let correct = tomls(CORRECT_DIR);
    assert!(!correct.is_empty(), "{CORRECT_DIR} holds no design");
    let runs: Vec<(PathBuf, u64)> =
        correct.iter().flat_map(|p| SEEDS.iter().map(move |s| (p.clone(), *s))).collect();
    let checked = in_parallel(&runs, |(p, seed)| {
        let dir = scratch("corpus-correct", &format!("{}-{seed}", file_stem(p)));
        let c = check(p, *seed, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        c
    });
    let mut alarms = Vec::new();
    for c in &checked {
        let failed = c.failed_properties();
        let checks = c.failed_checks();
        let ran = c.dynamic().is_object();
        if c.exit != 0 || !failed.is_empty() || !checks.is_empty() || !ran {
            alarms.push(format!(
                "{} (seed {}): exit {}, failed properties {failed:?}, failed static checks {checks:?}\n{}\n      reproduce: {}",
                c.design,
                c.seed,
                c.exit,
                c.findings(),
                c.command()
            ));
        }
    }
    assert!(
        alarms.is_empty(),
        "{} of {} checks of correct designs raised an alarm:\n  {}",
        alarms.len(),
        checked.len(),
        alarms.join("\n  ")
    );
}

#[test]
fn every_defect_fails_exactly_its_property_shrinks_and_replays() {
    let defects: Vec<(String, PathBuf)> = defect_dirs()
        .into_iter()
        .flat_map(|(id, designs)| designs.into_iter().map(move |p| (id.clone(), p)))
        .collect();
    assert!(!defects.is_empty(), "{DEFECTS_DIR} holds no defect");
    let outcomes = in_parallel(&defects, |(id, p)| {
        let dir = scratch("corpus-defect", &format!("{id}-{}", file_stem(p)));
        let c = check(p, defect_seed(p), &dir);
        let verdict = judge_defect(id, &c);
        let _ = std::fs::remove_dir_all(&dir);
        Outcome {
            id: id.clone(),
            design: c.design.clone(),
            generated_judged: c.judges_generated_cases(id),
            verdict,
        }
    });
    let mut problems = Vec::new();
    for o in &outcomes {
        if let Err(why) = &o.verdict {
            problems.push(format!("{}: {why}", o.design));
        }
    }
    // Per property, one defect at least must be caught by an explored case too — unless
    // `check` says it judges that property in the declared case only.
    let mut ids: Vec<&String> = outcomes.iter().map(|o| &o.id).collect();
    ids.dedup();
    for id in ids {
        let of_id = || outcomes.iter().filter(|o| &o.id == id);
        let explored = of_id().any(|o| o.verdict.as_ref().is_ok_and(|found| found.explored));
        let declared_only = of_id().all(|o| !o.generated_judged);
        if !explored && !declared_only {
            problems.push(format!(
                "property `{id}`: no defect in {DEFECTS_DIR}/{id}/ is caught by an explored case (each one fails in the declared case 0 only, or does not fail)"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the mutation corpus:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// One defect's check.
struct Outcome {
    id: String,
    design: String,
    /// `check` judged the defect's property in generated cases (see
    /// [`Checked::judges_generated_cases`]).
    generated_judged: bool,
    /// How it was found, or what is wrong with it.
    verdict: Result<Found, String>,
}

/// How a defect was caught.
struct Found {
    /// An explored (generated) case failed its property, as well as or instead of the
    /// declared one.
    explored: bool,
}

/// The properties a defect's header allows to fail beside its own: a third line
/// `# also-fails: <id> — <why>` (the why is required: a co-failure must be explained).
fn also_fails(design: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(design)).unwrap_or_default();
    text.lines()
        .nth(2)
        .and_then(|l| l.strip_prefix("# also-fails: "))
        .and_then(|rest| rest.split_once(" — "))
        .filter(|(_, why)| !why.trim().is_empty())
        .map(|(ids, _)| ids.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default()
}

/// The seed a defect is checked from: its header's `# seed: <n> — <why>` line (in the leading
/// comment block; the why is required), else [`DEFECT_SEED`].
fn defect_seed(design: &Path) -> u64 {
    let text = std::fs::read_to_string(design).unwrap_or_default();
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# seed: "))
        .and_then(|rest| rest.split_once(" — "))
        .filter(|(_, why)| !why.trim().is_empty())
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(DEFECT_SEED)
}

/// A defect must fail exactly `id`, shrink, and replay to the same violation.
fn judge_defect(id: &str, c: &Checked) -> Result<Found, String> {
    let again = || format!("\n      reproduce: {}", c.command());
    if c.exit != 1 {
        let findings = c.findings();
        let findings = if findings.is_empty() {
            format!("      no property failed in any of the {CASES} cases")
        } else {
            findings
        };
        return Err(format!(
            "exit {} (1 expected: its property fails)\n{findings}{}",
            c.exit,
            again()
        ));
    }
    let checks = c.failed_checks();
    if !checks.is_empty() {
        return Err(format!(
            "static checks failed: {checks:?} (a dynamic defect must pass them){}",
            again()
        ));
    }
    let failures = c.failures();
    let also = also_fails(&c.design);
    let failed: Vec<&str> =
        failures.iter().map(|(p, _)| p.as_str()).filter(|p| !also.iter().any(|a| a == p)).collect();
    if failed != [id] {
        return Err(format!(
            "failed properties {failed:?}, exactly [{id:?}] expected\n{}{}",
            c.findings(),
            again()
        ));
    }
    let ce = &c.dynamic()["counterexample"];
    if !ce.is_object() {
        return Err(format!("no counterexample{}", again()));
    }
    if c.shrink_runs() == 0 {
        return Err(format!("the counterexample was not shrunk (no shrink run): {ce}{}", again()));
    }
    let from =
        c.counterexample_case().ok_or_else(|| format!("counterexample without its case: {ce}"))?;
    let declared = ce["schedule"]["declared"] == true;
    if declared != (from == 0) {
        return Err(format!(
            "counterexample from case {from} but `declared` is {declared}: the JSON disagrees with itself: {ce}"
        ));
    }
    let cases_of = |p: &str| {
        failures.iter().find(|(f, _)| f == p).map_or(&[][..], |(_, cases)| cases.as_slice())
    };
    let cases = cases_of(id);
    // The counterexample is shrunk from the first failing case, for what failed there: its own
    // property, or a co-failure its header declares.
    let shrunk_for: Vec<&str> = std::iter::once(id)
        .chain(also.iter().map(String::as_str))
        .filter(|p| cases_of(p).contains(&from))
        .collect();
    if shrunk_for.is_empty() {
        return Err(format!(
            "the counterexample comes from case {from}, where `{id}` did not fail (it failed in cases {cases:?}): {ce}"
        ));
    }
    let file = ce["replay_file"].as_str().ok_or_else(|| format!("no replay file: {ce}"))?;
    let r = fusebench(&["replay", file]);
    let text = stdout(&r);
    if code(&r) != 1
        || !text.contains("reproduced exactly")
        || !shrunk_for.iter().any(|p| text.contains(&format!("violated: {p}")))
    {
        return Err(format!(
            "`fusebench replay` of its counterexample exited {} without reproducing `{id}`:\n{text}\n{}{}",
            code(&r),
            stderr(&r),
            again()
        ));
    }
    // Found by exploration: a generated case (not 0) is among the failing ones.
    Ok(Found { explored: cases.iter().any(|&case| case != 0) })
}
