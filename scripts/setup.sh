#!/usr/bin/env bash
# Installs every Debian 12 package vmatplan needs (build, run and test tools) and builds
# it in Release under build/. Safe to run again: installed packages are skipped and the
# build is incremental.
#   scripts/setup.sh            install + configure + build
#   BUILD_DIR=... JOBS=... scripts/setup.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$here/build}"
jobs="${JOBS:-$(nproc)}"

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libinsighttoolkit5-dev libgdcm-tools libdcmtk-dev libcli11-dev
  libspdlog-dev nlohmann-json3-dev catch2 libmatio-dev zlib1g-dev
  # independent checkers used by the tests: dciodvfy, dcmdump, pydicom, plastimatch;
  # chromium renders report.html headless (screenshot test)
  dicom3tools dcmtk python3-pydicom python3-numpy plastimatch jq chromium
  # libFuzzer targets (scripts/fuzz.sh, replayed by .ci/run)
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "$jobs"
echo "setup: built $build_dir/vmatplan"
