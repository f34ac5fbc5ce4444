#!/usr/bin/env bash
# libFuzzer targets (clang, ASan + UBSan) for the readers that take untrusted files and need
# neither ITK, DCMTK nor LibTorch. Sources: tests/fuzz/fuzz_<target>.cpp; seed corpora:
# tests/fuzz/corpus/<target>/ (every crash found goes there too, as a regression input).
#   scripts/fuzz.sh TARGET MINUTES   fuzz one target (safetensors, delivery_json) for N minutes;
#                                    new inputs go to build-fuzz/corpus/TARGET, crashes to
#                                    build-fuzz/crash-TARGET-*
#   scripts/fuzz.sh --replay         build every target and run it once over its corpus (CI)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${FUZZ_DIR:-$here/build-fuzz}"
mkdir -p "$out"
cxx="${CXX_FUZZ:-clang++}"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$here/include")

# target -> the library sources it needs (each reader is self-contained below its layer)
declare -A sources=(
  [safetensors]="src/core/safetensors.cpp"
  [delivery_json]="src/geometry/delivery_plan.cpp"
)

build() {
  local t=$1 src=()
  for s in ${sources[$t]}; do src+=("$here/$s"); done
  if [ ! -x "$out/fuzz_$t" ] || [ -n "$(find "$here/tests/fuzz/fuzz_$t.cpp" "${src[@]}" "$here/include" -newer "$out/fuzz_$t" -print -quit)" ]; then
    echo "fuzz: building fuzz_$t" >&2
    "$cxx" "${flags[@]}" "$here/tests/fuzz/fuzz_$t.cpp" "${src[@]}" -o "$out/fuzz_$t"
  fi
}

if [ "${1:-}" = "--replay" ]; then
  for t in "${!sources[@]}"; do
    build "$t"
    "$out/fuzz_$t" -runs=0 "$here/tests/fuzz/corpus/$t"
  done
  exit 0
fi

t=${1:?usage: fuzz.sh TARGET MINUTES | --replay}
minutes=${2:?usage: fuzz.sh TARGET MINUTES}
[ -n "${sources[$t]:-}" ] || { echo "fuzz: unknown target '$t' (${!sources[*]})" >&2; exit 2; }
build "$t"
mkdir -p "$out/corpus/$t"
"$out/fuzz_$t" -max_total_time=$((minutes * 60)) -rss_limit_mb=2048 -artifact_prefix="$out/crash-$t-" \
  "$out/corpus/$t" "$here/tests/fuzz/corpus/$t"
