//! Run shard files: the figures of one slice of a multi-seed run (`fusebench run --seeds K
//! --shard I/N`: seeds `first + i` with `i mod N = I`), and joining every slice back into the
//! runs one process would have made (`fusebench merge`), so the aggregate — means, intervals,
//! SLO tallies, `report.json`, `report.md` — is the one `run --seeds K` gives, byte for byte.
//! Joining checks what `check`'s shards are checked for (`explore::shard`): one scenario, one
//! split, every shard once, every seed once and in its own shard.

use serde::{Deserialize, Serialize};

use super::multi::RunFigures;
use crate::explore::Shard;
use crate::explore::replay::scenario_hash;
use crate::explore::shard::{Numbering, ShardError, Slice, join_slices};
use crate::setup::ModuleFiles;
use fusebench_model::Scenario;

/// The run shard file format version (2: the runs' trace hashes are BLAKE3, see
/// `crate::trace`; shards of format 1 hold SHA-256 ones and cannot join them).
pub const FORMAT: u32 = 2;

/// The key that marks a run shard file (a `check` shard file has `fusebench_shard`).
pub const MARK: &str = "fusebench_run_shard";

/// One shard's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunShardFile {
    pub fusebench_run_shard: u32,
    /// [`scenario_hash`] of the scenario and modules the runs ran on.
    pub scenario_sha256: String,
    /// The whole run: seeds `first_seed ..= first_seed + seeds - 1`, each for `duration_ns` of
    /// workload.
    pub first_seed: u64,
    pub seeds: u64,
    pub duration_ns: u64,
    pub shard: Shard,
    /// This shard's runs, in seed order.
    pub runs: Vec<RunFigures>,
}

/// The split a set of run shards must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub first_seed: u64,
    pub seeds: u64,
    pub duration_ns: u64,
}

impl RunShardFile {
    /// The shard file of `runs` (this shard's, any order).
    #[must_use]
    pub fn new(
        s: &Scenario,
        files: &ModuleFiles,
        split: Split,
        shard: Shard,
        mut runs: Vec<RunFigures>,
    ) -> Self {
        runs.sort_by_key(|r| r.seed);
        RunShardFile {
            fusebench_run_shard: FORMAT,
            scenario_sha256: scenario_hash(s, files),
            first_seed: split.first_seed,
            seeds: split.seeds,
            duration_ns: split.duration_ns,
            shard,
            runs,
        }
    }

    /// Whether `value` (a shard file's JSON) is a run shard file rather than a `check` one: it has [`MARK`].
    #[must_use]
    pub fn is_one(value: &serde_json::Value) -> bool {
        value.get(MARK).is_some()
    }

    /// Reads a run shard file's JSON; `file` names it in errors.
    ///
    /// # Errors
    /// Not a run shard file, or another format version.
    pub fn parse(file: &str, value: serde_json::Value) -> Result<Self, ShardError> {
        let unreadable =
            |problem: String| ShardError::Unreadable { file: file.to_owned(), problem };
        match value.get(MARK).and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(FORMAT) => {}
            Some(v) => {
                let found = u32::try_from(v).unwrap_or(u32::MAX);
                return Err(ShardError::Version { file: file.to_owned(), found });
            }
            None => return Err(unreadable(format!("no `{MARK}` format number"))),
        }
        serde_json::from_value(value).map_err(|e| unreadable(e.to_string()))
    }
}

/// Joins `shards` (each with the name it was given by) into the split and every run, in seed
/// order.
///
/// # Errors
/// A file of another scenario or split, a shard twice or missing, a run of a seed that is not
/// the shard's, outside the split, twice, or missing.
pub fn join(
    s: &Scenario,
    files: &ModuleFiles,
    shards: &[(String, RunShardFile)],
) -> Result<(Split, Vec<RunFigures>), ShardError> {
    let Some((_, first)) = shards.first() else { return Err(ShardError::Empty) };
    let split =
        Split { first_seed: first.first_seed, seeds: first.seeds, duration_ns: first.duration_ns };
    let total = usize::try_from(split.seeds).unwrap_or(usize::MAX);
    let slices: Vec<Slice<'_, RunFigures>> = shards
        .iter()
        .map(|(name, f)| Slice {
            file: name,
            scenario_sha256: &f.scenario_sha256,
            split: format!(
                "{} seeds from {}, {} ns of workload, {} shards",
                f.seeds, f.first_seed, f.duration_ns, f.shard.count
            ),
            shard: f.shard,
            // A seed below the first wraps to an index past the end: refused as outside.
            items: f
                .runs
                .iter()
                .map(|r| {
                    let i = r.seed.wrapping_sub(f.first_seed);
                    (usize::try_from(i).unwrap_or(usize::MAX), r.seed, r)
                })
                .collect(),
        })
        .collect();
    let numbering = Numbering { unit: "seed", first: split.first_seed };
    let runs = join_slices(&scenario_hash(s, files), total, numbering, &slices)?;
    Ok((split, runs))
}
