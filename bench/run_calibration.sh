#!/usr/bin/env bash
# Post-training calibration throughput of hq-calib vs PyTorch FX (prepare_fx + calibration),
# same model, calibration images (hq's fashion-mnist-calib / -calib-32: 2,048 images), batch,
# threads and machine, in one run; plus the PTQ top-1 each reaches on the Fashion-MNIST test
# set (hq-eval on hq's QDQ model; PyTorch's convert_fx model on the onednn engine).
# Each of hq-calib --observer minmax, hq-calib --observer all and PyTorch runs ROUNDS times,
# interleaved, to spread the noise of a shared machine; the table shows median and best
# img/s, the largest peak RSS and the ratios hq/PyTorch (of the medians, of the bests, and
# the median of the per-round ratios: each round runs hq and PyTorch back to back). PyTorch's img/s times prepare_fx + the
# calibration passes (not convert_fx, not loading the data); hq's "calib" img/s is hq-calib's
# own --json images_per_s (calibration passes + choosing scales, + scoring candidates on the
# held-out images for --observer all), hq's "run" img/s is 2,048 / the wall time of the whole
# hq-calib process (import, data loading, calibration, writing the QDQ model).
#
#   bench/run_calibration.sh [--batch 256] [--threads 2] [--rounds 5]
#                            [--models "fmnist_cnn mobilenetv2_32"] [--observers "minmax all"]
#                            [--build-dir build-bench] [--profile]
# --profile: also run hq-calib-profile (bench/calib_profile.cpp) once per model: seconds
# spent loading data, in the float forward passes with and without keeping the activation
# points' tensors, and in the observers (scan and histogram), printed after the table.
# Needs: Debian python3-torch + python3-onnx (PyTorch is skipped when missing), GNU time
# (/usr/bin/time), dataset-fashion-mnist, cmake + the hq deps.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BATCH=256 THREADS=2 ROUNDS=5
MODELS="fmnist_cnn mobilenetv2_32"
OBSERVERS="minmax all"
BUILD_DIR="$ROOT/build-bench"
PROFILE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) BATCH="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --observers) OBSERVERS="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --profile) PROFILE=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run_calibration.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "run_calibration.sh: needs GNU time (apt-get install time)" >&2; exit 1; }

model_path() {
  local name="$1"
  for dir in "$ROOT/models" "$ROOT/../shared/models" /work/shared/models; do
    if [[ -f "$dir/$name.float.onnx" ]]; then echo "$dir/$name.float.onnx"; return; fi
  done
}

# --- hq-calib, hq-eval ---
TARGETS=(hq-calib hq-eval)
if [[ $PROFILE == 1 ]]; then TARGETS+=(hq-calib-profile); fi
echo "building ${TARGETS[*]} in $BUILD_DIR ..." >&2
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DHQ_BUILD_BENCH=ON \
  -DHQ_BUILD_TESTS=OFF >/dev/null
if ! cmake --build "$BUILD_DIR" -j2 --target "${TARGETS[@]}" > "$BUILD_DIR/calib_build.log" 2>&1; then
  cat "$BUILD_DIR/calib_build.log" >&2
  exit 1
fi
HQ_CALIB="$BUILD_DIR/bin/hq-calib" HQ_EVAL="$BUILD_DIR/bin/hq-eval"

# --- PyTorch ---
HAVE_TORCH=1
if ! /usr/bin/python3 -c "import torch, onnx" 2>/dev/null; then
  echo "PyTorch not found: apt-get install -y python3-torch python3-onnx (skipping PyTorch)" >&2
  HAVE_TORCH=0
fi
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824

OUT="$ROOT/bench/out"
mkdir -p "$OUT"
STAMP="$(date +%Y%m%d_%H%M%S)"
RESULTS="$OUT/calibration_$STAMP.jsonl"
WORK="$OUT/calibration_$STAMP"
mkdir -p "$WORK"
: > "$RESULTS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "batch $BATCH, threads $THREADS, $ROUNDS interleaved rounds, observers: $OBSERVERS"

# One line of $RESULTS: the JSON of file $2 (or {}), plus name, runtime and `time` fields.
record() {  # record NAME RUNTIME JSON_FILE TIME_FILE [EXTRA_JSON]
  local time_json='{}'
  if [[ -n "$4" ]]; then
    read -r wall rss_kb < "$4"
    time_json="{\"wall_s\": $wall, \"peak_rss_mib\": $(awk "BEGIN {printf \"%.1f\", $rss_kb / 1024}")}"
  fi
  jq -c --arg name "$1" --arg rt "$2" --argjson t "$time_json" --argjson extra "${5:-{\}}" \
    '{name: $name, runtime: $rt} + . + $t + $extra' "$3" >> "$RESULTS"
}

round_json() { echo "{\"round\": $1, \"load1\": $(cut -d' ' -f1 /proc/loadavg)}"; }

for name in $MODELS; do
  path="$(model_path "$name")"
  if [[ -z "$path" ]]; then
    echo "skipping $name: $name.float.onnx not found in models/ or ../shared/models/"
    continue
  fi
  data=fashion-mnist-calib test=fashion-mnist-test
  if [[ "$name" == *_32 ]]; then data=fashion-mnist-calib-32 test=fashion-mnist-test-32; fi
  for ((r = 1; r <= ROUNDS; ++r)); do
    echo "$name: round $r/$ROUNDS" >&2
    for obs in $OBSERVERS; do
      qdq="$WORK/$name.$obs.qdq.onnx"
      /usr/bin/time -f '%e %M' -o "$WORK/time" "$HQ_CALIB" "$path" --data "$data" --out "$qdq" \
        --observer "$obs" --batch "$BATCH" --threads "$THREADS" --json -q > "$WORK/calib.json"
      record "$name" "hq-calib $obs" "$WORK/calib.json" "$WORK/time" "$(round_json "$r")"
    done
    if [[ $HAVE_TORCH == 1 ]]; then
      eval_flag=()
      if [[ $r == 1 ]]; then eval_flag=(--eval); fi
      /usr/bin/python3 -W ignore "$ROOT/bench/torch_calib.py" "$path" --batch "$BATCH" \
        --threads "$THREADS" "${eval_flag[@]}" > "$WORK/torch.json"
      record "$name" "pytorch-fx" "$WORK/torch.json" "" "$(round_json "$r")"
    fi
  done
  # Accuracy of the last round's QDQ models (deterministic: same inputs, same model bytes).
  "$HQ_EVAL" "$path" --data "$test" --batch "$BATCH" --threads "$THREADS" --json -q \
    > "$WORK/eval.json"
  record "$name" "hq-eval float" "$WORK/eval.json" ""
  for obs in $OBSERVERS; do
    "$HQ_EVAL" "$WORK/$name.$obs.qdq.onnx" --data "$test" --batch "$BATCH" --threads "$THREADS" \
      --json -q > "$WORK/eval.json"
    record "$name" "hq-eval $obs" "$WORK/eval.json" ""
  done
  if [[ $PROFILE == 1 ]]; then
    "$BUILD_DIR/bin/hq-calib-profile" "$path" --data "$data" --batch "$BATCH" \
      --threads "$THREADS" --steps > "$WORK/profile.json"
    record "$name" "hq-calib-profile" "$WORK/profile.json" ""
  fi
done

/usr/bin/python3 "$ROOT/bench/calib_summary.py" "$RESULTS"
echo "raw results: $RESULTS (QDQ models in $WORK/)"
