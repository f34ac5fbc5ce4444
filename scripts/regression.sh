#!/usr/bin/env bash
# Regression harness: a fixed cohort (configs/regression/cohort.json: synthetic phantom
# seeds, plus BOXPHANTOM.mat and the Eclipse prostate phantom when the shared data is
# present) through `vmatplan batch`, compared with the committed ranges in
# configs/regression/expected_<size>.json. Prints every patient and metric that moved out
# of its range, and by how much; exit 1 on any regression.
#
#   scripts/regression.sh [--small|--full] [--out DIR] [--update] [--jobs N] [--resume]
#   --resume continues an interrupted run in the same --out (else the plans are redone).
#   --update writes expected_<size>.json from this run (value +- the config's tolerances).
# A patient without a PTV role (BOXPHANTOM) has no ptv_d95_gy range; its goals still count.
# Needs jq. VMATPLAN=path/to/vmatplan (default: the one on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=small out="" update=0 jobs=2 resume=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --small) size=small ;;
    --full) size=full ;;
    --out) out=$2; shift ;;
    --update) update=1 ;;
    --jobs) jobs=$2; shift ;;
    --resume) resume=1 ;;
    *) echo "regression.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
vmatplan=${VMATPLAN:-vmatplan}
config=$root/configs/regression/cohort.json
expected=$root/configs/regression/expected_$size.json
data=${VMATPLAN_TEST_DATA:-$root/../shared/data}
out=${out:-$(mktemp -d)/regression_$size}
mkdir -p "$out/patients"
[[ $resume == 1 ]] || rm -rf "$out/run"
command -v jq >/dev/null || { echo "regression.sh: jq not found" >&2; exit 1; }

# The cohort: phantoms (made once) and the public cases present here.
manifest=$out/cohort.csv
echo "id,path,protocol" > "$manifest"
phantom_flags=$(jq -r ".$size.phantom_flags" "$config")
for seed in $(jq -r ".$size.seeds[]" "$config"); do
  p=$out/patients/S$seed
  [[ -d $p ]] || "$vmatplan" phantom --seed "$seed" $phantom_flags --out "$p" >/dev/null
  echo "S$seed,$p," >> "$manifest"
done
jq -c ".$size.public[]" "$config" | while read -r e; do
  path=$data/$(jq -r .path <<<"$e")
  if [[ -e $path ]]; then
    echo "$(jq -r .id <<<"$e"),$path,$(jq -r '.protocol // ""' <<<"$e")" >> "$manifest"
  else
    echo "regression.sh: $path not present, skipped" >&2
  fi
done

# shellcheck disable=SC2046
# batch exits 1 when a patient failed; the comparison below still runs and names it.
batch_status=0
"$vmatplan" --threads 1 batch --cohort "$manifest" --out "$out/run" --jobs "$jobs" --resume \
  $(jq -r ".$size.batch_flags" "$config") >&2 || batch_status=$?
[[ -f $out/run/cohort_summary.json ]] || { echo "regression.sh: batch wrote no summary (exit $batch_status)" >&2; exit 1; }
summary=$out/run/cohort_summary.json

if [[ $update == 1 ]]; then
  jq --slurpfile cfg "$config" '
    ($cfg[0].tolerances) as $t
    | def band(v; rel; abs): [v - ([abs, (v|fabs) * rel] | max), v + ([abs, (v|fabs) * rel] | max)];
    {patients: ([.patients[] | select(.status == "done") | {key: .id, value: {
        goals_passed_min: (.goals_passed - $t.goals_passed_drop),
        ptv_d95_gy: (if .ptv_d95_gy == null then null else band(.ptv_d95_gy; 0; $t.dose_gy) end),
        rectum_mean_gy: band(.rectum_mean_gy // 0; 0; $t.dose_gy),
        mu_per_fraction: band(.mu_per_fraction; $t.mu_relative; 0),
        goal_values: (.goal_values | with_entries(.value = band(.value; $t.goal_value_relative; $t.goal_value_absolute)))
      }}] | from_entries)}' "$summary" > "$expected"
  echo "wrote $expected" >&2
  exit 0
fi

[[ -f $expected ]] || { echo "regression.sh: $expected missing (run with --update)" >&2; exit 1; }
# One line per moved metric: patient, metric, value, range, distance outside it.
report=$(jq -r --slurpfile exp "$expected" '
  def check(id; name; v; r):
    if v == null then "\(id) \(name): missing (expected \(r))"
    elif v < r[0] then "\(id) \(name): \(v) below [\(r[0]), \(r[1])] by \(r[0] - v)"
    elif v > r[1] then "\(id) \(name): \(v) above [\(r[0]), \(r[1])] by \(v - r[1])"
    else empty end;
  ($exp[0].patients) as $e
  | (.patients | map({key: .id, value: .}) | from_entries) as $got
  | $e | to_entries[] | .key as $id | .value as $x | ($got[$id] // {status: "missing"}) as $g
  | if $g.status != "done" then "\($id): status \($g.status) \($g.error // "")"
    else
      (if $g.goals_passed < $x.goals_passed_min then "\($id) goals_passed: \($g.goals_passed) < \($x.goals_passed_min)" else empty end),
      (if $x.ptv_d95_gy == null then empty else check($id; "ptv_d95_gy"; $g.ptv_d95_gy; $x.ptv_d95_gy) end),
      check($id; "rectum_mean_gy"; $g.rectum_mean_gy // 0; $x.rectum_mean_gy),
      check($id; "mu_per_fraction"; $g.mu_per_fraction; $x.mu_per_fraction),
      ($x.goal_values | to_entries[] | check($id; .key; $g.goal_values[.key]; .value))
    end' "$summary")
if [[ -n $report ]]; then
  echo "REGRESSION ($size):"
  echo "$report"
  exit 1
fi
echo "regression ($size): $(jq '.patients | length' "$expected") patients within range ($out)"
