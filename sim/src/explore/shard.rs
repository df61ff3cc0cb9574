//! Shard files: the verdicts of one slice of an exploration (`fusebench check --shard I/N`),
//! and joining every slice back into the cases one process would have judged
//! (`fusebench merge`). A shard file is user input — it travels through a batch engine's
//! storage — so joining checks that every file belongs to the same exploration of the same
//! scenario and that together they hold every case exactly once, naming what does not fit.

use serde::{Deserialize, Serialize};

use super::replay::scenario_hash;
use super::{CaseVerdicts, Shard};
use crate::setup::ModuleFiles;
use fusebench_model::Scenario;

/// The shard file format version (2: the cases' trace hashes are BLAKE3, see
/// `crate::trace`; shards of format 1 hold SHA-256 ones and cannot join them).
pub const FORMAT: u32 = 2;

/// One shard's verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    pub fusebench_shard: u32,
    /// [`scenario_hash`] of the scenario and modules the cases ran on.
    pub scenario_sha256: String,
    /// The exploration: its number of cases and seed (every shard derives all schedules).
    pub cases: usize,
    pub seed: u64,
    pub shard: Shard,
    /// This shard's cases, in case order.
    pub results: Vec<ShardCase>,
}

/// One judged case and its number in the exploration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardCase {
    pub case: usize,
    #[serde(flatten)]
    pub verdicts: CaseVerdicts,
}

/// Why shard files do not join into one exploration. Each names the file (as given) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    #[error("{file}: not a shard file: {problem}")]
    Unreadable { file: String, problem: String },
    #[error("{file}: shard file format {found}; this fusebench reads format {FORMAT}")]
    Version { file: String, found: u32 },
    #[error(
        "{file}: made from a different scenario or modules (hash {found}, this one {expected})"
    )]
    OtherScenario { file: String, found: String, expected: String },
    #[error("{file}: from another exploration ({found}) than {first} ({expected})")]
    OtherExploration { file: String, first: String, found: String, expected: String },
    #[error("{file}: shard {shard} was given twice (also in {other})")]
    Duplicate { file: String, other: String, shard: Shard },
    #[error("shard(s) {} of {count} missing: every shard's file is needed", .missing.join(", "))]
    Missing { missing: Vec<String>, count: usize },
    /// `unit` is what the shards split: `case` or `seed`.
    #[error("{file}: holds {unit} {number}, which {why}")]
    BadItem { file: String, unit: &'static str, number: u64, why: String },
    #[error("no shard file given")]
    Empty,
}

impl ShardFile {
    /// The shard file of `results` (this shard's cases, in case order).
    #[must_use]
    pub fn new(
        s: &Scenario,
        files: &ModuleFiles,
        cases: usize,
        seed: u64,
        shard: Shard,
        results: Vec<(usize, CaseVerdicts)>,
    ) -> Self {
        ShardFile {
            fusebench_shard: FORMAT,
            scenario_sha256: scenario_hash(s, files),
            cases,
            seed,
            shard,
            results: results
                .into_iter()
                .map(|(case, verdicts)| ShardCase { case, verdicts })
                .collect(),
        }
    }

    /// Reads a shard file's JSON; `file` names it in errors.
    ///
    /// # Errors
    /// Not a shard file, or another format version.
    pub fn parse(file: &str, value: serde_json::Value) -> Result<Self, ShardError> {
        let unreadable =
            |problem: String| ShardError::Unreadable { file: file.to_owned(), problem };
        match value.get("fusebench_shard").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(FORMAT) => {}
            Some(v) => {
                let found = u32::try_from(v).unwrap_or(u32::MAX);
                return Err(ShardError::Version { file: file.to_owned(), found });
            }
            None => return Err(unreadable("no `fusebench_shard` format number".into())),
        }
        serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))
    }
}

/// Joins `shards` (each with the name it was given by) into the exploration they are slices
/// of: `(cases, seed, every case's verdicts in case order)`.
///
/// # Errors
/// A file of another scenario or exploration, a shard twice or missing, a case that is not the
/// shard's, out of range, or twice.
pub fn join(
    s: &Scenario,
    files: &ModuleFiles,
    shards: &[(String, ShardFile)],
) -> Result<(usize, u64, Vec<CaseVerdicts>), ShardError> {
    let Some((_, first)) = shards.first() else { return Err(ShardError::Empty) };
    let (cases, seed) = (first.cases, first.seed);
    let slices: Vec<Slice<'_, CaseVerdicts>> = shards
        .iter()
        .map(|(name, f)| Slice {
            file: name,
            scenario_sha256: &f.scenario_sha256,
            split: format!("{} cases from seed {}, {} shards", f.cases, f.seed, f.shard.count),
            shard: f.shard,
            items: f.results.iter().map(|c| (c.case, c.case as u64, &c.verdicts)).collect(),
        })
        .collect();
    let all = join_slices(&scenario_hash(s, files), cases, Numbering::CASES, &slices)?;
    Ok((cases, seed, all))
}

/// What one shard file claims, as [`join_slices`] checks it.
pub(crate) struct Slice<'a, T> {
    /// The file's name as given (errors name it).
    pub file: &'a str,
    pub scenario_sha256: &'a str,
    /// The whole split (what is split, from where, into how many shards): the same text in
    /// every file of one split, shown when two differ.
    pub split: String,
    pub shard: Shard,
    /// `(index within the split, the number errors show, item)`, in the file's order.
    pub items: Vec<(usize, u64, &'a T)>,
}

/// How errors name item `i` of a split that no file holds: `unit` and `first + i` (`case 3`,
/// `seed 12`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Numbering {
    pub unit: &'static str,
    pub first: u64,
}

impl Numbering {
    const CASES: Numbering = Numbering { unit: "case", first: 0 };
}

/// Joins the slices of one split of `total` items (item `i` belongs to shard `i mod N`) made
/// from the scenario whose hash is `expected`: every item in index order.
///
/// # Errors
/// A file of another scenario or split, a shard twice or missing, an item that is not the
/// shard's, out of range, twice, or missing from its shard's file.
pub(crate) fn join_slices<T: Clone>(
    expected: &str,
    total: usize,
    numbering: Numbering,
    slices: &[Slice<'_, T>],
) -> Result<Vec<T>, ShardError> {
    let Some(first) = slices.first() else { return Err(ShardError::Empty) };
    let count = first.shard.count;
    let mut by_shard: Vec<Option<&str>> = vec![None; count];
    let mut slots: Vec<Option<T>> = vec![None; total];
    for f in slices {
        let name = f.file.to_owned();
        if f.scenario_sha256 != expected {
            return Err(ShardError::OtherScenario {
                file: name,
                found: f.scenario_sha256.to_owned(),
                expected: expected.to_owned(),
            });
        }
        if f.split != first.split {
            return Err(ShardError::OtherExploration {
                file: name,
                first: first.file.to_owned(),
                found: f.split.clone(),
                expected: first.split.clone(),
            });
        }
        let at = f.shard.index;
        if at >= count {
            let why = format!("shard {} does not exist", f.shard);
            return Err(ShardError::Unreadable { file: name, problem: why });
        }
        if let Some(other) = by_shard[at] {
            return Err(ShardError::Duplicate {
                file: name,
                other: other.to_owned(),
                shard: f.shard,
            });
        }
        by_shard[at] = Some(f.file);
        for &(i, shown, item) in &f.items {
            let bad = |why: &str| ShardError::BadItem {
                file: name.clone(),
                unit: numbering.unit,
                number: shown,
                why: why.to_owned(),
            };
            if i >= total {
                return Err(bad("is outside the split"));
            }
            if !f.shard.owns(i) {
                return Err(bad("belongs to another shard"));
            }
            if slots[i].is_some() {
                return Err(bad("it holds twice"));
            }
            slots[i] = Some(item.clone());
        }
    }
    let missing: Vec<String> = by_shard
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ShardError::Missing { missing, count });
    }
    let mut all = Vec::with_capacity(total);
    for (i, slot) in slots.into_iter().enumerate() {
        let owner = by_shard[i % count].unwrap_or_default().to_owned();
        all.push(slot.ok_or(ShardError::BadItem {
            file: owner,
            unit: numbering.unit,
            number: numbering.first.saturating_add(i as u64),
            why: "is missing from its shard's file".into(),
        })?);
    }
    Ok(all)
}
