#!/usr/bin/env bash
# Integer inference throughput of hq vs ONNX Runtime (on hq's own QDQ model) vs PyTorch int8,
# same model architecture, batch, threads and machine, in one run (issue 4's speed goal:
# hq-int >= 1.0x the faster peer on mobilenetv2_32); with --accuracy also the top-1 of each
# on the Fashion-MNIST test set (issue 4's interoperability goal: ORT on hq's QDQ model
# within 0.1 points of hq-eval on it; integer model within 0.1 points of its QDQ model).
# Per model: hq-calib (default qconfig, fashion-mnist-calib / -calib-32) -> QDQ model;
# hq-convert -> integer model; then ROUNDS interleaved rounds of
#   hq-int     hq-bench on the integer model
#   hq-qdq     hq-bench on the QDQ model (fake-quant, for reference)
#   ort-qdq    ONNX Runtime 1.30 (onnxruntime-node, intraOpNumThreads THREADS) on hq's QDQ model
#   pytorch-int8  bench/torch_int8_bench.py: FX prepare_fx (fbgemm qconfig mapping) + calibration
#              on the same 2,048 images + convert_fx, onednn engine, glibc malloc keeping big
#              buffers (MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_, its faster setting)
# Random uniform [-1, 1) inputs of batch BATCH (the median batch time of >= SECONDS each).
# The table shows median img/s over rounds and the ratios hq-int / each peer.
#
#   bench/run_int_inference.sh [--models fmnist_cnn,mobilenetv2_32] [--rounds 3] [--seconds 5]
#                              [--batch 256] [--threads 2] [--build-dir build-bench]
#                              [--accuracy] [--no-speed] [--no-int] [--no-build]
# --accuracy: also top-1 on the 10,000 test images: hq-eval on the QDQ and integer models,
#   ORT on the QDQ model (test tensors exported once to bench/out/data/ by
#   bench/export_test_set.py; as run and with --opt-level disabled), PyTorch int8; and the
#   fraction of images whose top-1 agrees with hq-eval on the QDQ model.
# --no-speed: skip the throughput rounds. --no-int: run without hq-convert (peers and hq-qdq
#   only; for when hq-convert is not built yet). Without --no-int a missing hq-convert fails.
# --no-build: use the tools already built in the build dir (no cmake; e.g. while a colleague's
#   half-done change breaks the build).
# Needs: Node.js with onnxruntime-node@1.30.0 in bench/node_modules (installed when missing),
# Debian python3-torch + python3-onnx + python3-numpy, dataset-fashion-mnist, jq, cmake + hq deps.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BATCH=256 THREADS=2 SECONDS_PER_RUN=5 ROUNDS=3
MODELS="fmnist_cnn,mobilenetv2_32"
BUILD_DIR="$ROOT/build-bench"
ACCURACY=0 SPEED=1 WITH_INT=1 BUILD=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) BATCH="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --seconds) SECONDS_PER_RUN="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --accuracy) ACCURACY=1; shift ;;
    --no-speed) SPEED=0; shift ;;
    --no-int) WITH_INT=0; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run_int_inference.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
MODELS="${MODELS//,/ }"
command -v jq >/dev/null || { echo "run_int_inference.sh: needs jq (apt-get install jq)" >&2; exit 1; }

model_path() {
  local name="$1"
  for dir in "$ROOT/models" "$ROOT/../shared/models" /work/shared/models; do
    if [[ -f "$dir/$name.float.onnx" ]]; then echo "$dir/$name.float.onnx"; return; fi
  done
}

# --- hq tools ---
TARGETS=(hq-bench hq-calib hq-eval)
if [[ $WITH_INT == 1 ]]; then
  if [[ ! -d "$ROOT/tools/hq-convert" ]]; then
    echo "run_int_inference.sh: hq-convert does not exist yet (no tools/hq-convert/); run with" \
      "--no-int to measure the peers and hq's QDQ model only" >&2
    exit 1
  fi
  TARGETS+=(hq-convert)
fi
if [[ $BUILD == 1 ]]; then
  echo "building ${TARGETS[*]} in $BUILD_DIR ..." >&2
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DHQ_BUILD_BENCH=ON \
    -DHQ_BUILD_TESTS=OFF >/dev/null
  if ! cmake --build "$BUILD_DIR" -j2 --target "${TARGETS[@]}" > "$BUILD_DIR/int_build.log" 2>&1; then
    cat "$BUILD_DIR/int_build.log" >&2
    echo "run_int_inference.sh: building ${TARGETS[*]} failed (log above)" >&2
    exit 1
  fi
fi
for t in "${TARGETS[@]}"; do
  [[ -x "$BUILD_DIR/bin/$t" ]] || { echo "run_int_inference.sh: $BUILD_DIR/bin/$t not built" >&2; exit 1; }
done
BIN="$BUILD_DIR/bin"

# --- ONNX Runtime ---
if [[ ! -d "$ROOT/bench/node_modules/onnxruntime-node" ]]; then
  echo "installing onnxruntime-node@1.30.0 into bench/node_modules ..." >&2
  (cd "$ROOT/bench" && npm install --no-audit --no-fund onnxruntime-node@1.30.0 \
    --onnxruntime-node-install-cuda=skip >/dev/null)
fi

# --- PyTorch ---
HAVE_TORCH=1
if ! /usr/bin/python3 -c "import torch, onnx, numpy" 2>/dev/null; then
  echo "PyTorch not found: apt-get install -y python3-torch python3-onnx (skipping PyTorch)" >&2
  HAVE_TORCH=0
fi
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824

OUT="$ROOT/bench/out"
STAMP="$(date +%Y%m%d_%H%M%S)"
RESULTS="$OUT/int_inference_$STAMP.jsonl"
WORK="$OUT/int_inference_$STAMP"
mkdir -p "$WORK"
: > "$RESULTS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "batch $BATCH, threads $THREADS, ${SECONDS_PER_RUN}s per run, $ROUNDS interleaved rounds, random uniform [-1, 1) inputs"

# Appends JSON line(s) read on stdin to $RESULTS with name, runtime and extra fields set.
record() {  # ... | record NAME RUNTIME [EXTRA_JSON]
  jq -c --arg name "$1" --arg rt "$2" --argjson extra "${3:-{\}}" \
    '. + {name: $name, runtime: $rt} + $extra' >> "$RESULTS"
}
load_json() { echo "{\"round\": $1, \"load1\": $(cut -d' ' -f1 /proc/loadavg)}"; }

if [[ $ACCURACY == 1 ]]; then
  /usr/bin/python3 "$ROOT/bench/export_test_set.py" "$OUT/data"
fi

for name in $MODELS; do
  path="$(model_path "$name")"
  if [[ -z "$path" ]]; then
    echo "skipping $name: $name.float.onnx not found in models/ or ../shared/models/"
    continue
  fi
  calib=fashion-mnist-calib test=fashion-mnist-test
  if [[ "$name" == *_32 ]]; then calib=fashion-mnist-calib-32 test=fashion-mnist-test-32; fi
  qdq="$WORK/$name.qdq.onnx" int="$WORK/$name.int.onnx"
  echo "$name: hq-calib --data $calib" >&2
  "$BIN/hq-calib" "$path" --data "$calib" --out "$qdq" --batch "$BATCH" --threads "$THREADS" -q
  if [[ $WITH_INT == 1 ]]; then
    echo "$name: hq-convert" >&2
    "$BIN/hq-convert" "$qdq" --out "$int" --report "$WORK/$name.convert.json" -q
  fi

  if [[ $SPEED == 1 ]]; then
    for ((r = 1; r <= ROUNDS; ++r)); do
      echo "$name: round $r/$ROUNDS" >&2
      if [[ $WITH_INT == 1 ]]; then
        extra="$(load_json "$r")"
        "$BIN/hq-bench" "$int" --batch "$BATCH" --threads "$THREADS" --seconds "$SECONDS_PER_RUN" \
          | record "$name" hq-int "$extra"
      fi
      extra="$(load_json "$r")"
      "$BIN/hq-bench" "$qdq" --batch "$BATCH" --threads "$THREADS" --seconds "$SECONDS_PER_RUN" \
        | record "$name" hq-qdq "$extra"
      extra="$(load_json "$r")"
      node "$ROOT/bench/ort_bench.js" "$qdq" "$BATCH" "$THREADS" "$SECONDS_PER_RUN" \
        | record "$name" ort-qdq "$extra"
      if [[ $HAVE_TORCH == 1 ]]; then
        extra="$(load_json "$r")"
        /usr/bin/python3 -W ignore "$ROOT/bench/torch_int8_bench.py" "$path" --batch "$BATCH" \
          --threads "$THREADS" --seconds "$SECONDS_PER_RUN" | record "$name" pytorch-int8 "$extra"
      fi
    done
  fi

  if [[ $ACCURACY == 1 ]]; then
    echo "$name: accuracy on $test" >&2
    images="$OUT/data/$test.images.npy" labels="$OUT/data/fashion-mnist-test.labels.npy"
    "$BIN/hq-eval" "$qdq" --data "$test" --batch "$BATCH" --threads "$THREADS" --json -q \
      --dump-outputs "$WORK/$name.hq-qdq.logits.npy" \
      | record "$name" "acc hq-eval qdq" "{\"logits\": \"$WORK/$name.hq-qdq.logits.npy\"}"
    if [[ $WITH_INT == 1 ]]; then
      "$BIN/hq-eval" "$int" --data "$test" --batch "$BATCH" --threads "$THREADS" --json -q \
        --dump-outputs "$WORK/$name.hq-int.logits.npy" \
        | record "$name" "acc hq-eval int" "{\"logits\": \"$WORK/$name.hq-int.logits.npy\"}"
    fi
    node "$ROOT/bench/ort_accuracy.js" "$qdq" "$images" "$labels" --batch "$BATCH" \
      --threads "$THREADS" --dump-logits "$WORK/$name.ort-qdq.logits.npy" \
      --optimized-out "$WORK/$name.qdq.ort-optimized.onnx" 2>/dev/null \
      | record "$name" "acc ort qdq" "{\"logits\": \"$WORK/$name.ort-qdq.logits.npy\", \"optimized\": \"$WORK/$name.qdq.ort-optimized.onnx\"}"
    node "$ROOT/bench/ort_accuracy.js" "$qdq" "$images" "$labels" --batch "$BATCH" \
      --threads "$THREADS" --dump-logits "$WORK/$name.ort-qdq-noopt.logits.npy" \
      --opt-level disabled \
      | record "$name" "acc ort qdq (opt disabled)" "{\"logits\": \"$WORK/$name.ort-qdq-noopt.logits.npy\"}"
    if [[ $HAVE_TORCH == 1 ]]; then
      /usr/bin/python3 -W ignore "$ROOT/bench/torch_int8_bench.py" "$path" --batch "$BATCH" \
        --threads "$THREADS" --no-speed --eval --dump-logits "$WORK/$name.pytorch-int8.logits.npy" \
        | jq -c '. + {top1: .int8_top1}' \
        | record "$name" "acc pytorch int8" "{\"logits\": \"$WORK/$name.pytorch-int8.logits.npy\"}"
    fi
  fi
done

/usr/bin/python3 "$ROOT/bench/int_summary.py" "$RESULTS" "$OUT/data/fashion-mnist-test.labels.npy"
echo "raw results: $RESULTS (models and logits in $WORK/)"
