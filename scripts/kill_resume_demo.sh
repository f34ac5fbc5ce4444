#!/usr/bin/env bash
# Kill-and-resume demonstration of `vmatplan batch`: N synthetic phantoms planned once
# without interruption, then again in a batch that is killed with SIGKILL (the whole
# process group, workers included) once N/2 patients are finished and then resumed with
# --resume. The two cohort summaries must agree in every column but the run times.
#
#   scripts/kill_resume_demo.sh [N=20] [JOBS=2] [--out DIR]
#   VMATPLAN=build/vmatplan  PHANTOM_FLAGS="--spacing 3 3 3"  PLAN_FLAGS="--bixel 5 ..."
#
# Prints the times of the three runs and IDENTICAL or DIFFERENT (exit 1). The batches run
# with --threads 1 and --training-set, so the training examples (and the dataset's
# data_version) are compared too.
set -euo pipefail
n=20 jobs=2 out=""
pos=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) if [[ $pos == 0 ]]; then n=$1; else jobs=$1; fi; pos=$((pos + 1)) ;;
  esac
  shift
done
vmatplan=${VMATPLAN:-vmatplan}
phantom_flags=${PHANTOM_FLAGS:---spacing 3 3 3}
plan_flags=${PLAN_FLAGS:---bixel 5 --dose-spacing 8 --max-iter 30 --final-dose-spacing 5 --meterset-iter 20}
out=${out:-$(mktemp -d)/kill_resume}
command -v python3 >/dev/null || { echo "kill_resume_demo.sh: python3 not found" >&2; exit 1; }
mkdir -p "$out"
now() { date +%s.%N; }
elapsed() { python3 -c "print('%.1f' % ($2 - $1))"; }
finished() { find "$1" -mindepth 2 -maxdepth 2 -name summary.json -not -path '*/.*' 2>/dev/null | wc -l; }

echo "kill_resume_demo: N=$n jobs=$jobs out=$out"
echo "  phantom flags: $phantom_flags"
echo "  plan flags:    $plan_flags"
rm -rf "$out/cohort" "$out/full" "$out/killed"
# shellcheck disable=SC2086
"$vmatplan" phantom --cohort "$n" --seed 1000 --format nifti $phantom_flags --out "$out/cohort" >/dev/null
manifest=$out/cohort/cohort.json
# shellcheck disable=SC2086
batch=("$vmatplan" --threads 1 batch --cohort "$manifest" --jobs "$jobs" --training-set $plan_flags)

t0=$(now)
"${batch[@]}" --out "$out/full" >"$out/full.log" 2>&1
t1=$(now)
echo "uninterrupted: $(elapsed "$t0" "$t1") s"

# Own session, so that one kill reaches the batch and every worker it forked.
setsid "${batch[@]}" --out "$out/killed" >"$out/killed.log" 2>&1 </dev/null &
pid=$!
half=$(( (n + 1) / 2 ))
while kill -0 "$pid" 2>/dev/null && [[ $(finished "$out/killed") -lt $half ]]; do sleep 0.2; done
kill -KILL -- "-$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
t2=$(now)
at_kill=$(finished "$out/killed")
stages=$(find "$out/killed" -mindepth 1 -maxdepth 1 -name '.*.partial-*' | wc -l)
echo "killed after $(elapsed "$t1" "$t2") s with $at_kill/$n finished ($stages half-written stages left)"

"${batch[@]}" --resume --out "$out/killed" >"$out/resume.log" 2>&1
t3=$(now)
echo "resumed: $(elapsed "$t2" "$t3") s ($(grep -c 'finished earlier, skipped' "$out/resume.log") skipped); killed + resumed: $(elapsed "$t1" "$t3") s"

python3 - "$out/full" "$out/killed" <<'PY'
import csv, json, sys
def rows(d):
    with open(d + "/cohort_summary.csv") as f:
        r = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if "seconds" not in k and k != "host"} for row in r]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
done = sum(r["status"] == "done" for r in a)
diff = [(x["id"], k, x[k], y[k]) for x, y in zip(a, b) for k in x if x[k] != y.get(k)]
ma = json.load(open(sys.argv[1] + "/training_manifest.json"))
mb = json.load(open(sys.argv[2] + "/training_manifest.json"))
same_data = ma["data_version"] == mb["data_version"]
print("cohort summaries (without total_seconds): %d rows, %d done, %s" %
      (len(a), done, "IDENTICAL" if not diff and len(a) == len(b) else "DIFFERENT"))
for d in diff[:20]:
    print("  %s %s: %s vs %s" % d)
print("training sets: %d examples each, data_version %s" %
      (ma["count"], "IDENTICAL" if same_data else "DIFFERENT"))
sys.exit(0 if not diff and len(a) == len(b) and same_data else 1)
PY
