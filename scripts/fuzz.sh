#!/usr/bin/env bash
# libFuzzer targets (clang, ASan + UBSan) for the readers that take untrusted files. The
# layers without LibTorch are built with clang in a build folder of their own
# (-DVMATPLAN_FUZZ=ON, default build-fuzz/); sources: tests/fuzz/fuzz_<target>.cpp.
# Committed seeds and every crash found (kept as a regression input): tests/fuzz/corpus/
# <target>/; the shipped configs seed the JSON readers; the public samples under
# ${VMATPLAN_TEST_DATA:-../shared/data} are added when present (copied into the build folder,
# never into the repository).
#   scripts/fuzz.sh TARGET MINUTES   fuzz one target for N minutes; new inputs go to
#                                    build-fuzz/corpus/TARGET, crashes to
#                                    build-fuzz/crash-TARGET-*
#   scripts/fuzz.sh --replay         build every target and run it once over its seeds
#   FUZZ_DIR=build-asan scripts/fuzz.sh --replay
#                                    the same replay in the GCC sanitizer build of `.ci/run`
#                                    (VMATPLAN_SANITIZE): the targets link a replay main
#                                    (tests/fuzz/fuzz_replay_main.cpp) instead of libFuzzer,
#                                    on the layers that build has compiled already (CI)
# Targets: safetensors delivery_json machine protocol rtplan rtstruct ct_slice
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${FUZZ_DIR:-$here/build-fuzz}"
data="${VMATPLAN_TEST_DATA:-$here/../shared/data}"
targets=(safetensors delivery_json machine protocol rtplan rtstruct ct_slice)

configure() {
  [ -f "$out/build.ninja" ] && return 0
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$here" -B "$out" -G Ninja -DCMAKE_C_COMPILER="${CC_FUZZ:-clang}" \
    -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-O1 -g" -DVMATPLAN_FUZZ=ON "${launcher[@]}" >/dev/null
}

# Seed folders of a target: the committed corpus, the shipped configs it reads.
seed_dirs() {
  [ -d "$here/tests/fuzz/corpus/$1" ] && echo "$here/tests/fuzz/corpus/$1"
  case $1 in machine | protocol) echo "$here/configs/$1s" ;; esac
  return 0
}

# The public samples a target reads, copied into $out/public/$t (recreated on each run).
# ct_slice inputs hold the slices of one folder joined by the separator of fuzz_ct_slice.cpp.
public_seeds() {
  local t=$1 dir="$out/public/$1" f
  rm -rf "$dir"
  mkdir -p "$dir"
  [ -d "$data/dicom" ] || return 0
  case $t in
    rtplan)
      for f in "$data"/dicom/pydicom/rtplan.dcm "$data"/dicom/dicompyler-core/rtplan.dcm \
               "$data"/dicom/pymedphys/*.dcm; do
        [ -f "$f" ] && cp "$f" "$dir/$(basename "$(dirname "$f")")_$(basename "$f")"
      done ;;
    rtstruct)
      for f in "$data"/dicom/pydicom/rtstruct.dcm "$data"/dicom/dicompyler-core/rtss.dcm \
               "$data"/dicom/rt-utils/rt.dcm "$data"/eclipse_prostate_phantom/dicom/RS.dcm; do
        [ -f "$f" ] && cp "$f" "$dir/$(basename "$(dirname "$f")")_$(basename "$f")"
      done ;;
    ct_slice)
      for f in "$data"/dicom/pydicom/CT_small.dcm "$data"/dicom/dicompyler-core/ct.0.dcm; do
        [ -f "$f" ] && cp "$f" "$dir/$(basename "$(dirname "$f")")_$(basename "$f")"
      done
      if [ -f "$data/dicom/rt-utils/ct_1.dcm" ] && [ -f "$data/dicom/rt-utils/ct_2.dcm" ]; then
        { cat "$data/dicom/rt-utils/ct_1.dcm"; printf '\n--vmatplan-fuzz-next-slice--\n'
          cat "$data/dicom/rt-utils/ct_2.dcm"; } > "$dir/rt-utils_two_slices"
      fi ;;
  esac
}

build() {
  configure
  cmake --build "$out" --target "fuzz_$1" >/dev/null
}

if [ "${1:-}" = "--replay" ]; then
  configure
  cmake --build "$out" --target fuzz_targets >/dev/null
  for t in "${targets[@]}"; do
    public_seeds "$t"
    # -runs=0: read every input once (the seeds, each crash kept as a regression input) and stop.
    if ! log=$("$out/fuzz_$t" -runs=0 $(seed_dirs "$t") "$out/public/$t" 2>&1); then
      echo "$log" | tail -40 >&2
      echo "fuzz: $t: an input of its corpus fails" >&2
      exit 1
    fi
    echo "fuzz_$t: $(echo "$log" | grep -m1 -E 'INITED|DONE' || echo "$log" | tail -1)"
  done
  exit 0
fi

t=${1:?usage: fuzz.sh TARGET MINUTES | --replay}
minutes=${2:?usage: fuzz.sh TARGET MINUTES}
case " ${targets[*]} " in *" $t "*) ;; *) echo "fuzz: unknown target '$t' (${targets[*]})" >&2; exit 2 ;; esac
build "$t"
public_seeds "$t"
mkdir -p "$out/corpus/$t"
# An input that takes over 25 s (a hang) or 2 GB is a finding too.
"$out/fuzz_$t" -max_total_time=$((minutes * 60)) -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$out/crash-$t-" \
  "$out/corpus/$t" $(seed_dirs "$t") "$out/public/$t"
