#!/usr/bin/env bash
# Plan a cohort as a Slurm job array: task i of N runs `vmatplan batch --shard i/N`.
# Every task writes its patients' folders (staged, so unfinished ones never look done) and
# rebuilds cohort_summary.csv/.json from what is on disk; the last task to finish leaves the
# complete summary. Resubmitting the same array with --resume skips finished patients.
#
#   sbatch --array=1-8 scripts/slurm_batch.sh cohort.csv runs/cohort1 [extra batch flags]
#
#SBATCH --job-name=vmatplan-batch
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=vmatplan-batch-%A_%a.log
set -euo pipefail
cohort=${1:?usage: sbatch --array=1-N slurm_batch.sh COHORT OUT [flags]}
out=${2:?usage: sbatch --array=1-N slurm_batch.sh COHORT OUT [flags]}
shift 2
vmatplan=${VMATPLAN:-vmatplan}
i=${SLURM_ARRAY_TASK_ID:?run under sbatch --array}
n=${SLURM_ARRAY_TASK_COUNT:?run under sbatch --array}
exec "$vmatplan" --threads "${SLURM_CPUS_PER_TASK:-1}" batch --cohort "$cohort" --out "$out" \
  --shard "$i/$n" --resume "$@"
