#!/usr/bin/env bash
# Regression harness: a fixed cohort through `vmatplan batch`, checked against committed
# expected ranges by `vmatplan regression-report` (docs/regression.md). Prints every patient
# and metric out of its range (value, expected range, distance); exit 1 on any. Writes a
# report (report.html, regression.json, regression.csv) into OUT/report.
#
#   scripts/regression.sh [--small|--full|--cohort FILE.json] [--out DIR] [--update] [--jobs N] [--resume]
#   scripts/regression.sh --compare OLD_DIR NEW_DIR [--out DIR] [--cohort FILE.json]
#
# --full (CI, ctest -L regression): the generate defaults with the shipped FMD generator on 10
#   synthetic test phantoms and the public cases present in $VMATPLAN_TEST_DATA
#   (default ../shared/data); --small: 3 coarse phantoms, the classical optimiser (by hand).
#   Both are in configs/regression/cohort.json, their expected files beside it.
# --cohort FILE.json: your own cohort (DICOM folders, a protocol per patient, batch flags);
#   expected files FILE_expected.json and FILE_expected_dvh.json beside it.
# --update rewrites the expected files from this run (value +- the cohort's tolerances).
# --resume continues an interrupted run in the same --out (else the plans are redone).
# --compare checks NEW's plans against ranges around OLD's (the same tolerances) and
#   overlays their DVHs; OLD_DIR and NEW_DIR are earlier --out folders (or batch outputs).
# Needs jq. VMATPLAN=path/to/vmatplan (default: the one on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=full cohort_file="" out="" update=0 jobs=2 resume=0 compare=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --small) size=small ;;
    --full) size=full ;;
    --cohort) cohort_file=$(realpath "$2"); shift ;;
    --out) out=$2; shift ;;
    --update) update=1 ;;
    --jobs) jobs=$2; shift ;;
    --resume) resume=1 ;;
    --compare) compare=("$2" "$3"); shift 2 ;;
    *) echo "regression.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
vmatplan=${VMATPLAN:-vmatplan}
command -v jq >/dev/null || { echo "regression.sh: jq not found" >&2; exit 1; }
data=${VMATPLAN_TEST_DATA:-$root/../shared/data}

# The cohort description: a size of the built-in file, or the user's file.
if [[ -n $cohort_file ]]; then
  [[ -f $cohort_file ]] || { echo "regression.sh: $cohort_file: no such file" >&2; exit 1; }
  jq -e 'type == "object" and (.patients // [] | type == "array")' "$cohort_file" >/dev/null 2>&1 ||
    { echo "regression.sh: $cohort_file: not a cohort description (JSON object with a 'patients' array)" >&2; exit 1; }
  cohort=$(jq -c . "$cohort_file")
  base=$(dirname "$cohort_file")
  name=$(basename "$cohort_file" .json)
  expected=$base/${name}_expected.json
  expected_dvh=$base/${name}_expected_dvh.json
  tolerances_file=$cohort_file
else
  config=$root/configs/regression/cohort.json
  cohort=$(jq -c ".$size" "$config")
  base=$root
  name=$size
  expected=$root/configs/regression/expected_$size.json
  expected_dvh=$root/configs/regression/expected_${size}_dvh.json
  tolerances_file=$config
fi
field() { jq -r "$1" <<<"$cohort"; }

# A folder of an earlier run: OUT/run when it is a regression.sh --out, else itself.
run_dir() { if [[ -f $1/run/cohort_summary.json ]]; then echo "$1/run"; else echo "$1"; fi; }

if [[ ${#compare[@]} -eq 2 ]]; then
  old=$(run_dir "${compare[0]}") new=$(run_dir "${compare[1]}")
  "$vmatplan" regression-report --run "$new" --baseline "$old" --tolerances "$tolerances_file" \
    --out "${out:-${compare[1]}/compare}" --title "vmatplan regression: ${compare[1]} against ${compare[0]}"
  exit $?
fi

out=${out:-$(mktemp -d)/regression_$name}
mkdir -p "$out/patients"
[[ $resume == 1 ]] || rm -rf "$out/run"

# The manifest: phantoms (made once), the public cases present here, the user's patients.
manifest=$out/cohort.csv
echo "id,path,protocol" > "$manifest"
phantom_flags=$(field '.phantom_flags // ""')
seeds=$(field '.seeds // [] | .[]')
# Made --jobs at a time, one thread each.
for seed in $seeds; do
  [[ -d $out/patients/S$seed ]] || echo "$seed"
done | xargs -r -P "$jobs" -I{} sh -c \
  '"$1" --threads 1 phantom --seed "$2" $3 --out "$4/S$2" >/dev/null' _ "$vmatplan" {} "$phantom_flags" "$out/patients"
for seed in $seeds; do
  [[ -d $out/patients/S$seed ]] || { echo "regression.sh: phantom $seed was not made" >&2; exit 1; }
  echo "S$seed,$out/patients/S$seed," >> "$manifest"
done
absent=()  # public cases not present here: skipped, as the tests skip what reads them
while read -r e; do
  [[ -n $e ]] || continue
  path=$data/$(jq -r .path <<<"$e")
  if [[ -e $path ]]; then
    echo "$(jq -r .id <<<"$e"),$path,$(jq -r '.protocol // ""' <<<"$e")" >> "$manifest"
  else
    echo "regression.sh: $path not present, skipped" >&2
    absent+=("$(jq -r .id <<<"$e")")
  fi
done < <(field '.public // [] | .[] | tojson')
while read -r e; do
  [[ -n $e ]] || continue
  path=$(jq -r .path <<<"$e")
  [[ $path == /* ]] || path=$base/$path
  [[ -e $path ]] || { echo "regression.sh: $path (patient $(jq -r .id <<<"$e")): no such file or folder" >&2; exit 1; }
  echo "$(jq -r .id <<<"$e"),$path,$(jq -r '.protocol // ""' <<<"$e")" >> "$manifest"
done < <(field '.patients // [] | .[] | tojson')

# batch exits 1 when a patient failed; the check below still runs and names it.
batch_status=0
# shellcheck disable=SC2046
"$vmatplan" --threads 1 batch --cohort "$manifest" --out "$out/run" --jobs "$jobs" --resume \
  $(field '.batch_flags // ""') >&2 || batch_status=$?
[[ -f $out/run/cohort_summary.json ]] || { echo "regression.sh: batch wrote no summary (exit $batch_status)" >&2; exit 1; }

if [[ $update == 1 ]]; then
  exec "$vmatplan" regression-report --run "$out/run" --update --tolerances "$tolerances_file" \
    --expected "$expected" --expected-dvh "$expected_dvh"
fi
[[ -f $expected ]] || { echo "regression.sh: $expected missing (run with --update)" >&2; exit 1; }
if [[ ${#absent[@]} -gt 0 ]]; then
  # The absent public cases are not expected of this run (said above, one line each).
  jq --args 'reduce $ARGS.positional[] as $id (.; del(.patients[$id]))' "${absent[@]}" < "$expected" \
    > "$out/expected_present.json"
  expected=$out/expected_present.json
fi
dvh_flag=()
[[ -f $expected_dvh ]] && dvh_flag=(--expected-dvh "$expected_dvh")
"$vmatplan" regression-report --run "$out/run" --expected "$expected" "${dvh_flag[@]}" \
  --out "$out/report" --title "vmatplan regression ($name)"
