#!/usr/bin/env bash
# The NPU side's speed goals, measured: hq-compile time (issue 6: mobilenetv2_32 at -O3 < 1 s),
# hq-perf time (issue 7: < 2 s), and the functional simulator's throughput (hq-eval on an .hbm)
# next to the integer executor's on the same images. There is no PyTorch peer for compiling to
# an NPU; the seed's vendor compiler took 10.4 s at O1 with 16 threads (its own log).
#
#   bench/run_compile.sh [--rounds 3] [--batch 256] [--build-dir build-bench]
# Each timing is the median of ROUNDS runs (wall time, GNU time). Models are calibrated once
# with hq-calib (default qconfig, 256 calibration images) into bench/out/compile_STAMP/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=3 BATCH=256
BUILD_DIR="$ROOT/build-bench"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run_compile.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "run_compile.sh: needs GNU time (apt-get install time)" >&2; exit 1; }

TARGETS=(hq-calib hq-convert hq-compile hq-perf hq-eval)
echo "building ${TARGETS[*]} in $BUILD_DIR ..." >&2
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DHQ_BUILD_TESTS=OFF >/dev/null
if ! cmake --build "$BUILD_DIR" -j2 --target "${TARGETS[@]}" > "$BUILD_DIR/compile_build.log" 2>&1; then
  cat "$BUILD_DIR/compile_build.log" >&2
  exit 1
fi
BIN="$BUILD_DIR/bin"
WORK="$ROOT/bench/out/compile_$(date +%Y%m%d_%H%M%S)"
mkdir -p "$WORK"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

model_path() {
  for dir in "$ROOT/models" "$ROOT/../shared/models" /work/shared/models; do
    if [[ -f "$dir/$1.float.onnx" ]]; then echo "$dir/$1.float.onnx"; return; fi
  done
}

# Median wall seconds of ROUNDS runs of a command.
median_time() {
  local t=()
  for ((r = 0; r < ROUNDS; r++)); do
    /usr/bin/time -f "%e" -o "$WORK/time.txt" "$@" > /dev/null 2>&1
    t+=("$(cat "$WORK/time.txt")")
  done
  printf '%s\n' "${t[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

printf '\n%-16s %-4s %6s %10s %12s %12s\n' model level batch compile_s hq-perf_s "FPS (timing)"
for m in fmnist_cnn mobilenetv2_32; do
  f="$(model_path "$m")"
  [[ -n "$f" ]] || { echo "$m: model not found, skipped" >&2; continue; }
  suffix=""; [[ $m == mobilenetv2_32 ]] && suffix="-32"
  "$BIN/hq-calib" "$f" --data "fashion-mnist-calib$suffix" --limit 256 -q \
    --out "$WORK/$m.calib.onnx"
  "$BIN/hq-convert" "$WORK/$m.calib.onnx" --out "$WORK/$m.int.onnx" -q > /dev/null
  for level in 0 1 2 3; do
    for batch in 1 "$BATCH"; do
      hbm="$WORK/$m.O$level.b$batch.hbm"
      c=$(median_time "$BIN/hq-compile" "$WORK/$m.int.onnx" --march bayes -O"$level" \
        --input-source pyramid --batch "$batch" --out "$hbm")
      p=$(median_time "$BIN/hq-perf" "$WORK/$m.int.onnx" --march bayes -O"$level" \
        --input-source pyramid --batch "$batch" --out-dir "$WORK/perf" -q)
      fps=$("$BIN/hq-perf" "$hbm" --out-dir "$WORK/perf" | sed -n 's/^FPS=\([0-9.]*\),.*/\1/p')
      printf '%-16s -O%-2s %6s %10s %12s %12s\n' "$m" "$level" "$batch" "$c" "$p" "$fps"
    done
  done
  # The functional simulator against the integer executor, same 1,000 test images.
  hbm="$WORK/$m.O3.b1.hbm"
  sim=$("$BIN/hq-eval" "$hbm" --data "fashion-mnist-test$suffix" --limit 1000 2>&1 |
    sed -n 's/.*(1000 images, \([0-9.]*\) img\/s).*/\1/p' | tail -1)
  int=$("$BIN/hq-eval" "$WORK/$m.int.onnx" --data "fashion-mnist-test$suffix" --limit 1000 2>&1 |
    sed -n 's/.*(1000 images, \([0-9.]*\) img\/s).*/\1/p' | tail -1)
  echo "$m: simulator (-O3, pyramid) $sim img/s, integer executor $int img/s on 1,000 test images"
done
echo "work files: $WORK"
