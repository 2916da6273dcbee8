#!/usr/bin/env bash
# Check an hq-perf HTML page in headless Chromium (Debian's `chromium`): it renders (the DOM
# has the summary, the layer table with one row per layer, both charts), and the FPS the page
# shows equals the FPS of the report JSON.
#   scripts/check_perf_html.sh perf_out/NAME.html perf_out/NAME.json
# Exit 0 when it passes or when chromium is not installed (prints "skipped"), 1 when it fails.
set -euo pipefail
if (($# != 2)); then
  echo "usage: $0 REPORT.html REPORT.json" >&2
  exit 2
fi
html=$(realpath "$1")
json=$2
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
  echo "check_perf_html: chromium not installed; skipped"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --no-sandbox: CI and containers run as root; the page is local and has no network access.
if ! HOME="$work" timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$work/profile" --dump-dom "file://$html" > "$work/dom.html" 2> "$work/err.log"; then
  echo "check_perf_html: chromium failed:" >&2
  tail -n 20 "$work/err.log" >&2
  exit 1
fi
fail() { echo "check_perf_html: $html: $*" >&2; exit 1; }
dom=$work/dom.html
[[ -s "$dom" ]] || fail "empty DOM"
# The JSON's FPS as written ("FPS": 5722.98,), and the page's <span id="fps">.
json_fps=$(grep -m1 -o '"FPS": [0-9.eE+-]*' "$json" | sed 's/.*: //')
dom_fps=$(grep -o '<span id="fps">[^<]*</span>' "$dom" | head -n1 | sed 's/<[^>]*>//g')
[[ -n "$json_fps" ]] || fail "no FPS in $json"
[[ "$dom_fps" == "$json_fps" ]] || fail "the page shows FPS '$dom_fps', the JSON has '$json_fps'"
grep -q '<table id="summary">' "$dom" || fail "no summary table"
grep -q '<svg id="utilization"' "$dom" || fail "no utilization chart"
grep -q '<svg id="bandwidth"' "$dom" || fail "no bandwidth chart"
# One table row per layer (the JSON's "layers" entries carry "op_type").
layers=$(grep -c '"op_type":' "$json")
rows=$(sed -n '/<table id="layers"/,/<\/table>/p' "$dom" | grep -o '<tr>' | wc -l)
((rows == layers + 1)) || fail "the layer table has $((rows - 1)) rows, the JSON $layers layers"
echo "check_perf_html: $html renders; FPS $dom_fps matches the JSON; $layers layers"
