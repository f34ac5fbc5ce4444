#!/usr/bin/env bash
# Renders a vmatplan report.html with headless Chromium (Debian package `chromium`) to a PNG,
# as a browser shows it: DVH, dose pictures, tables.
#   scripts/screenshot_report.sh OUT/plan1/report.html report.png [WIDTHxHEIGHT]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT (default 1280x2400)]" >&2
  exit 2
fi
html="$(realpath "$1")"
png="$(realpath -m "$2")"
size="${3:-1280x2400}"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
command -v chromium >/dev/null || { echo "$0: chromium not installed (apt-get install chromium)" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --screenshot="$png" --window-size="${size/x/,}" "file://$html" 2>/dev/null
[ -s "$png" ] || { echo "$0: no screenshot written" >&2; exit 1; }
echo "wrote $png"
