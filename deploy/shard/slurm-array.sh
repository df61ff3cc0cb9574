#!/usr/bin/env bash
# A Slurm job array running `fusebench check --shard I/N`: one array task per shard, each on
# one core; SLURM_ARRAY_TASK_ID is the shard index (0-based), SLURM_ARRAY_TASK_COUNT the count.
#   usage (README.md beside this file):
#   sbatch --array=0-$((SHARDS - 1)) deploy/shard/slurm-array.sh SCENARIO CASES SEED OUT
#SBATCH --job-name=fusebench-shard
#SBATCH --cpus-per-task=1
#SBATCH --output=fusebench-shard-%a.log
set -euo pipefail
scenario="$1" cases="$2" seed="$3" out="$4"
exec fusebench check "$scenario" --cases "$cases" --seed "$seed" \
    --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" --out "$out"
