#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run the pipeline on the
# bundled model (models/fmnist_cnn.float.onnx) with Fashion-MNIST from Debian's
# dataset-fashion-mnist, printing accuracy at each stage as the seed does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "build: cmake + make (log in build.log) ..."
if ! bash scripts/build.sh > build.log 2>&1; then
  tail -n 40 build.log
  echo "build failed; full log in build.log" >&2
  exit 1
fi
echo "build: done, tools in build/bin/"

BIN=build/bin
MODEL=models/fmnist_cnn.float.onnx
OUT=${HQ_DEMO_OUT:-out/demo}
mkdir -p "$OUT"

echo
echo "== hq pipeline on $MODEL, Fashion-MNIST test set (10,000 images) =="
echo "Reports go to $OUT/."
echo
echo "-- float model --"
$BIN/hq-eval "$MODEL" --data fashion-mnist-test --label "Float model" --report "$OUT/float.eval.json"

echo
echo "-- calibration (hq-calib: 2,048 training images, default qconfig: qint8, input scale 1/128) --"
$BIN/hq-calib "$MODEL" --data fashion-mnist-calib --out "$OUT/fmnist_cnn.calib.onnx" \
  --report "$OUT/calib.report.json"
$BIN/hq-eval "$OUT/fmnist_cnn.calib.onnx" --data fashion-mnist-test --label "Calibration" \
  --report "$OUT/calib.eval.json"

echo
echo "-- quantization-aware training (hq-qat: 1 epoch on the 60,000 training images, Adam lr 1e-4, batch 128) --"
$BIN/hq-qat "$OUT/fmnist_cnn.calib.onnx" --data fashion-mnist-train --eval-data fashion-mnist-test \
  --epochs 1 --lr 1e-4 --out "$OUT/fmnist_cnn.qat.onnx"

echo
echo "-- fixed point (hq-convert: integer model, ai.hq ops; schemas/int-ops.md) --"
$BIN/hq-convert "$OUT/fmnist_cnn.qat.onnx" --out "$OUT/fmnist_cnn.int.onnx" \
  --report "$OUT/convert.report.json"
$BIN/hq-eval "$OUT/fmnist_cnn.int.onnx" --data fashion-mnist-test --label "Quantized model" \
  --report "$OUT/int.eval.json"

echo
echo "-- hardware check (hq-check: every node runs on march bayes within its limits; configs/marches/) --"
$BIN/hq-check "$OUT/fmnist_cnn.int.onnx" --march bayes

echo
echo "-- compile (hq-compile: march bayes, -O3, pyramid NV12 input like the seed's compile_model; schemas/hbm.md) --"
$BIN/hq-compile "$OUT/fmnist_cnn.int.onnx" --march bayes -O3 --input-source pyramid \
  --out "$OUT/fmnist_cnn.hbm"
$BIN/hq-eval "$OUT/fmnist_cnn.hbm" --data fashion-mnist-test --label "Compiled model (NPU simulator)" \
  --report "$OUT/hbm.eval.json"

echo
echo "-- where accuracy is lost (hq-convert --compare: float vs fake-quant vs integer, 1,000 test images) --"
$BIN/hq-convert "$OUT/fmnist_cnn.qat.onnx" --out "$OUT/fmnist_cnn.int.onnx" \
  --float "$MODEL" --compare fashion-mnist-test --limit 1000 --quiet | tail -n +2

echo
echo "-- performance (hq-perf: the seed's perf_model; compiled in memory for bayes, -O3, pyramid, batch 256, timed by the simulator) --"
$BIN/hq-perf "$OUT/fmnist_cnn.int.onnx" --march bayes -O3 --input-source pyramid --batch 256 \
  --out-dir "$OUT/perf_out" --layer-details

echo
echo "-- pictures (hq-viz: the integer model and the compiled .hbm, Graphviz SVG) --"
$BIN/hq-viz "$OUT/fmnist_cnn.int.onnx" --out "$OUT/fmnist_cnn.int.svg"
$BIN/hq-viz "$OUT/fmnist_cnn.hbm" --out "$OUT/fmnist_cnn.hbm.svg"
