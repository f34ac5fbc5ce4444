#!/bin/bash
# Two builds (or two ways of starting one) timed alternately on the same plans, so that the
# machine's drift between series does not pass for a difference between them. Each run is
# `BIN --threads 2 generate --patient P --out O` under /usr/bin/time (wall, peak, minor
# page faults), stages from the plan's summary.json; one line per run.
#
#   bench/alternate_generate.sh A_CMD B_CMD [runs=5] [patient...]
#   bench/alternate_generate.sh "env -u GLIBC_TUNABLES build/vmatplan-app" build/vmatplan
# Patients default to phantom seed 1 (made under $TMPDIR when missing), then the Eclipse
# phantom and BOXPHANTOM from ../shared/data (3 runs each) when present.
set -euo pipefail
A=$1 B=$2 RUNS=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
DATA=${VMATPLAN_TEST_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
run() {  # tag command patient [extra...]
  local tag=$1 cmd=$2 patient=$3 dir; shift 3
  dir=$OUT/$tag.$RANDOM
  /usr/bin/time -f "%e %M %R" -o "$dir.time" $cmd --threads 2 generate --patient "$patient" --out "$dir" "$@" > /dev/null 2>&1
  python3 - "$tag" "$dir" <<'PY'
import json, sys
tag, d = sys.argv[1:3]
wall, peak_kb, faults = open(d + '.time').read().split()[-3:]
s = json.load(open(d + '/summary.json'))
st = {x['stage']: x['seconds'] for x in s['stages']}
m = s.get('meterset_reoptimization', {})
print(f"{tag:10s} wall {float(wall):5.2f} s peak {int(peak_kb) / 1048576:4.2f} GB faults {int(faults) / 1000:5.1f} k | "
      f"load {st['load']:.2f} fluence {st['fluence']:.2f} aperture {st['aperture']:.2f} "
      f"(set-up {m.get('engine_setup_seconds', 0):.2f}) final {st['final_dose']:.2f} write {st['write']:.2f} | "
      f"goals {s['goals_passed']}/{s['goals_passed'] + s['goals_failed']} MU {s['plan']['mu_per_fraction']:.1f}")
PY
}
pair() {  # runs patient [extra...]
  local n=$1; shift
  for _ in $(seq "$n"); do run A "$A" "$@"; run B "$B" "$@"; done
}
if [ $# -gt 0 ]; then
  for p in "$@"; do echo "# $p"; pair "$RUNS" "$p"; done
  exit 0
fi
seed1=${TMPDIR:-/tmp}/vmatplan_phantom_seed1
[ -d "$seed1" ] || $B phantom --seed 1 --out "$seed1" > /dev/null
echo "# phantom seed 1"; pair "$RUNS" "$seed1"
if [ -d "$DATA/eclipse_prostate_phantom/dicom" ]; then
  echo "# Eclipse prostate phantom"; pair 3 "$DATA/eclipse_prostate_phantom/dicom"
fi
if [ -f "$DATA/matrad/BOXPHANTOM.mat" ]; then
  echo "# BOXPHANTOM"; pair 3 "$DATA/matrad/BOXPHANTOM.mat" --protocol boxphantom_60gy
fi
