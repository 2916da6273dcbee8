#!/usr/bin/env bash
# Regenerates the held-out generality zoo (tests/fixtures/generality/*.{float,int}.onnx):
# export with PyTorch (Debian's python3-torch), then hq's own calibration and conversion on 64
# Fashion-MNIST calibration images (Debian's dataset-fashion-mnist), then hq-check on both
# bundled marches. Usage: bench/generality/make_models.sh [BIN_DIR]   (default build/bin)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-build/bin}
OUT=tests/fixtures/generality
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

/usr/bin/python3 bench/generality/export_models.py "$OUT" 2> "$TMP/export.log" ||
  { cat "$TMP/export.log"; exit 1; }
for m in resnet_mini squeezenet_mini unet_mini mixed_mini misc_mini resnet_rgb; do
  data=fashion-mnist-calib
  [ "$m" = resnet_rgb ] && data=bench/generality/fashion-mnist-calib-rgb-20x36.json
  # The QDQ model goes next to the others (then is removed) so that the lineage hq-convert
  # records names a fixed path and a rerun reproduces the .int.onnx files byte for byte.
  "$BIN/hq-calib" "$OUT/$m.float.onnx" --data "$data" --limit 64 \
    --out "$OUT/$m.calib.onnx" --quiet
  "$BIN/hq-convert" "$OUT/$m.calib.onnx" --out "$OUT/$m.int.onnx"
  rm -f "$OUT/$m.calib.onnx"
done
for m in resnet_mini squeezenet_mini unet_mini mixed_mini misc_mini resnet_rgb; do
  for march in bayes bernoulli2; do
    echo "== hq-check $m.int.onnx --march $march"
    "$BIN/hq-check" "$OUT/$m.int.onnx" --march "$march" || echo "(exit $?)"
  done
done
