#!/usr/bin/env bash
# Plan a cohort with GNU parallel: N shards at once on one machine (or over ssh with
# parallel's -S), each `vmatplan batch --shard i/N --resume`. Re-running continues where
# a killed run stopped. A final `batch --resume` (everything finished: nothing to plan)
# rebuilds the complete cohort_summary.csv/.json.
#
#   scripts/parallel_batch.sh cohort.csv runs/cohort1 4 [extra batch flags]
set -euo pipefail
cohort=${1:?usage: parallel_batch.sh COHORT OUT SHARDS [flags]}
out=${2:?usage: parallel_batch.sh COHORT OUT SHARDS [flags]}
shards=${3:?usage: parallel_batch.sh COHORT OUT SHARDS [flags]}
shift 3
vmatplan=${VMATPLAN:-vmatplan}
command -v parallel >/dev/null || { echo "parallel_batch.sh: GNU parallel not found" >&2; exit 1; }
parallel --line-buffer --jobs "$shards" \
  "$vmatplan" --threads 1 batch --cohort "$cohort" --out "$out" --shard {}/"$shards" --resume "$@" \
  ::: $(seq 1 "$shards")
"$vmatplan" --threads 1 batch --cohort "$cohort" --out "$out" --resume "$@"
