#!/usr/bin/env bash
# Float inference throughput of hq vs ONNX Runtime vs PyTorch, same model, batch, threads
# and machine, in one run. Random uniform [-1, 1) inputs of each model's shape (the same
# distribution in all three; throughput does not depend on the values).
# Each runtime runs ROUNDS times, interleaved (hq, ORT, PyTorch, hq, ...), to spread the
# noise of a shared machine; the table shows the median img/s over rounds and the largest
# peak RSS (each process's own getrusage maxrss).
#
#   bench/run_inference.sh [--batch 256] [--threads 2] [--seconds 5] [--rounds 3]
#                          [--models "fmnist_cnn mobilenetv2_32"] [--build-dir build-bench]
# Needs: Node.js with onnxruntime-node@1.30.0 in bench/node_modules (installed here when
# missing), Debian python3-torch (apt-get install -y python3-torch), cmake + the hq deps.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BATCH=256 THREADS=2 SECONDS_PER_RUN=5 ROUNDS=3
MODELS="fmnist_cnn mobilenetv2_32"
BUILD_DIR="$ROOT/build-bench"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) BATCH="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --seconds) SECONDS_PER_RUN="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run_inference.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

model_path() {
  local name="$1"
  for dir in "$ROOT/models" "$ROOT/../shared/models" /work/shared/models; do
    if [[ -f "$dir/$name.float.onnx" ]]; then echo "$dir/$name.float.onnx"; return; fi
  done
}

# --- hq-bench ---
HQ_BENCH="$BUILD_DIR/bin/hq-bench"
echo "building hq-bench in $BUILD_DIR ..." >&2
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DHQ_BUILD_BENCH=ON \
  -DHQ_BUILD_TESTS=OFF >/dev/null
if ! cmake --build "$BUILD_DIR" -j2 --target hq-bench > "$BUILD_DIR/bench_build.log" 2>&1; then
  cat "$BUILD_DIR/bench_build.log" >&2
  exit 1
fi

# --- ONNX Runtime ---
if [[ ! -d "$ROOT/bench/node_modules/onnxruntime-node" ]]; then
  echo "installing onnxruntime-node@1.30.0 into bench/node_modules ..." >&2
  (cd "$ROOT/bench" && npm install --no-audit --no-fund onnxruntime-node@1.30.0 \
    --onnxruntime-node-install-cuda=skip >/dev/null)
fi

# --- PyTorch ---
HAVE_TORCH=1
if ! /usr/bin/python3 -c "import torch, onnx" 2>/dev/null; then
  echo "PyTorch not found: apt-get install -y python3-torch python3-onnx (skipping PyTorch)" >&2
  HAVE_TORCH=0
fi
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824

OUT="$ROOT/bench/out"
mkdir -p "$OUT"
RESULTS="$OUT/inference_$(date +%Y%m%d_%H%M%S).jsonl"
: > "$RESULTS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "batch $BATCH, threads $THREADS, ${SECONDS_PER_RUN}s per run, $ROUNDS interleaved rounds, random uniform [-1, 1) inputs"

for name in $MODELS; do
  path="$(model_path "$name")"
  if [[ -z "$path" ]]; then
    echo "skipping $name: $name.float.onnx not found in models/ or ../shared/models/"
    continue
  fi
  for ((r = 1; r <= ROUNDS; ++r)); do
    "$HQ_BENCH" "$path" --batch "$BATCH" --threads "$THREADS" --seconds "$SECONDS_PER_RUN" \
      | sed "s/^{/{\"name\": \"$name\", /" >> "$RESULTS"
    node "$ROOT/bench/ort_bench.js" "$path" "$BATCH" "$THREADS" "$SECONDS_PER_RUN" \
      | sed "s/^{/{\"name\":\"$name\",/" >> "$RESULTS"
    if [[ $HAVE_TORCH == 1 ]]; then
      /usr/bin/python3 "$ROOT/bench/torch_bench.py" "$path" "$BATCH" "$THREADS" "$SECONDS_PER_RUN" \
        | sed "s/^{/{\"name\": \"$name\", /" >> "$RESULTS"
    fi
  done
done

node "$ROOT/bench/summarize.js" "$RESULTS"
echo "raw results: $RESULTS"
