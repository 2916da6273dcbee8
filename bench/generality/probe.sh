#!/usr/bin/env bash
# Runs each probe of export_probes.py through hq-calib, hq-convert, hq-check (bayes) and
# hq-compile (bayes, -O0 and -O3) and prints the first stage that refuses it, with its message.
# Usage: bench/generality/probe.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-build/bin}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 bench/generality/export_probes.py "$TMP" > /dev/null 2> "$TMP/export.log" ||
  { cat "$TMP/export.log"; exit 1; }
for f in "$TMP"/*.float.onnx; do
  m=$(basename "$f" .float.onnx)
  run() { local out; out=$("$@" 2>&1) || { echo "$m: FAIL at $(basename "$1"): $out"; return 1; }; }
  run "$BIN/hq-calib" "$f" --data fashion-mnist-calib --limit 64 --out "$TMP/$m.calib.onnx" -q &&
    run "$BIN/hq-convert" "$TMP/$m.calib.onnx" --out "$TMP/$m.int.onnx" -q &&
    run "$BIN/hq-check" "$TMP/$m.int.onnx" --march bayes &&
    run "$BIN/hq-compile" "$TMP/$m.int.onnx" --march bayes -O 0 -o "$TMP/$m.O0.hbm" -q &&
    run "$BIN/hq-compile" "$TMP/$m.int.onnx" --march bayes -O 3 -o "$TMP/$m.O3.hbm" -q &&
    echo "$m: ok (calib, convert, check bayes, compile -O0/-O3)"
done
