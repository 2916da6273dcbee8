#!/usr/bin/env bash
# Training throughput of hq vs PyTorch (issue 5's speed goals), same model, batch, threads,
# images and machine, in one run. Modes (--modes, default all three):
#   qat:    hq-qat on hq-calib's QDQ model (made from MODEL.float.onnx, BN folded; Adam lr 1e-4)
#           vs PyTorch FX prepare_qat_fx(get_default_qat_qconfig_mapping("fbgemm")) on that
#           same MODEL.float.onnx rebuilt as a torch module (Adam lr 1e-4). Goal: hq >= 2.0x.
#   qat-bn: the same with BatchNorm kept: hq-qat --float-bn MODEL.float-bn.onnx (Conv+BN train
#           as PyTorch's ConvBn QAT modules) vs prepare_qat_fx on MODEL.float-bn.onnx's module
#           (Conv+BN(+ReLU) fused into ConvBn(ReLU)2d QAT modules). Goal: hq >= 2.0x.
#   float:  hq-qat --float on MODEL.float-bn.onnx (BN batch statistics, Dropout) vs PyTorch
#           eager train mode on the same graph (Adam lr 1e-3, weight decay 1e-4). Goal: >= 1.5x.
# Both train on the first (WARMUP + BATCHES) * BATCH Fashion-MNIST training images (hq:
# fashion-mnist-train(-32) --limit N, one epoch; PyTorch: the same file, same preprocessing),
# softmax cross-entropy. Peak RSS: each whole process (GNU time's maximum resident set size);
# goal: hq below PyTorch. Each runtime runs ROUNDS times, interleaved; the table shows medians.
# hq's img/s is hq-qat --json's images_per_second (the whole epoch: warm-up batches included);
# PyTorch's "epoch" img/s counts the same images the same way, its "steady" img/s is BATCH /
# the median step after WARMUP steps. The ratio uses the epoch numbers (same definition on
# both sides); "x steady" compares hq's epoch number with PyTorch's steady state (harsher).
# Without tools/hq-qat the hq side falls back to `hq-bench MODEL --train [--qdq]`
# (bench/hq_bench.cpp, when it has --train; no qat-bn).
#
#   bench/run_training.sh [--batch 128] [--threads 2] [--warmup 3] [--batches N] [--rounds 2]
#   (--batches: default 200 for fmnist_cnn, 20 for mobilenetv2_32: ~3 s of hq steps each)
#                         [--models "fmnist_cnn mobilenetv2_32"] [--modes "qat qat-bn float"]
#                         [--build-dir build-bench] [--no-build] [--no-hq]
# --no-build: use the tools already built in the build dir. --no-hq: PyTorch only (otherwise
# a missing hq tool is an error).
# Writes bench/out/training_<stamp>.jsonl (raw), bench/out/training_<stamp>/ (QDQ and trained
# models, logs) and bench/out/training.json (the summary of the latest run).
# Needs: Debian python3-torch + python3-onnx, GNU time (/usr/bin/time), jq,
# dataset-fashion-mnist, cmake + the hq deps.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BATCH=128 THREADS=2 WARMUP=3 BATCHES="" ROUNDS=2
MODELS="fmnist_cnn mobilenetv2_32"
MODES="qat qat-bn float"
BUILD_DIR="$ROOT/build-bench"
BUILD=1 HQ=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) BATCH="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --modes) MODES="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-hq) HQ=0; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "run_training.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
die() { echo "run_training.sh: $*" >&2; exit 1; }
for mode in $MODES; do
  [[ $mode == qat || $mode == qat-bn || $mode == float ]] ||
    die "--modes takes qat, qat-bn and/or float, not '$mode'"
done
[[ -x /usr/bin/time ]] || die "needs GNU time (apt-get install time)"
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
/usr/bin/python3 -c "import torch, onnx" 2>/dev/null ||
  die "needs PyTorch: apt-get install -y python3-torch python3-onnx"
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] ||
  die "needs the Fashion-MNIST training set: apt-get install dataset-fashion-mnist"

model_dir() {
  local name="$1"
  for dir in "$ROOT/models" "$ROOT/../shared/models" /work/shared/models; do
    if [[ -f "$dir/$name.float.onnx" ]]; then echo "$dir"; return; fi
  done
}

# --- hq tools: hq-qat, else hq-bench --train ---
HQ_TOOL=none
if [[ $HQ == 1 ]]; then
  TARGETS=()
  if [[ -d "$ROOT/tools/hq-qat" || ($BUILD == 0 && -x "$BUILD_DIR/bin/hq-qat") ]]; then
    HQ_TOOL=hq-qat TARGETS=(hq-qat)
  elif grep -q -- '--train' "$ROOT/bench/hq_bench.cpp"; then
    HQ_TOOL=hq-bench TARGETS=(hq-bench)
  else
    die "no hq training tool: tools/hq-qat does not exist yet and bench/hq_bench.cpp has no --train (run with --no-hq for PyTorch only)"
  fi
  if [[ " $MODES " == *" qat"* ]]; then TARGETS+=(hq-calib); fi
  if [[ $BUILD == 1 ]]; then
    echo "building ${TARGETS[*]} in $BUILD_DIR ..." >&2
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DHQ_BUILD_BENCH=ON \
      -DHQ_BUILD_TESTS=OFF >/dev/null
    if ! cmake --build "$BUILD_DIR" -j2 --target "${TARGETS[@]}" > "$BUILD_DIR/train_build.log" 2>&1; then
      cat "$BUILD_DIR/train_build.log" >&2
      die "building ${TARGETS[*]} failed (log above, $BUILD_DIR/train_build.log)"
    fi
  fi
  for t in "${TARGETS[@]}"; do
    [[ -x "$BUILD_DIR/bin/$t" ]] || die "$BUILD_DIR/bin/$t missing (drop --no-build to build it)"
  done
fi
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824  # PyTorch's faster setting

OUT="$ROOT/bench/out"
STAMP="$(date +%Y%m%d_%H%M%S)"
RESULTS="$OUT/training_$STAMP.jsonl"
WORK="$OUT/training_$STAMP"
mkdir -p "$WORK"
: > "$RESULTS"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "batch $BATCH, threads $THREADS, $WARMUP warm-up + ${BATCHES:-200 (fmnist_cnn) / 20 (mobilenetv2_32)} timed batches, $ROUNDS interleaved rounds, modes: $MODES, hq tool: $HQ_TOOL"

# One line of $RESULTS: the JSON object in file $4 plus name, mode, runtime and `time` fields.
record() {  # record NAME MODE RUNTIME JSON_FILE TIME_FILE EXTRA_JSON
  local time_json='{}'
  if [[ -n "$5" ]]; then
    read -r wall rss_kb < "$5"
    time_json="{\"wall_s\": $wall, \"peak_rss_mib\": $(awk "BEGIN {printf \"%.1f\", $rss_kb / 1024}")}"
  fi
  jq -c --arg name "$1" --arg mode "$2" --arg rt "$3" --argjson t "$time_json" \
    --argjson extra "$6" '. + {name: $name, mode: $mode, runtime: $rt} + $t + $extra' "$4" \
    >> "$RESULTS" || die "$3 on $1 ($2) printed no JSON object: see $4"
}
round_json() { echo "{\"round\": $1, \"load1\": $(cut -d' ' -f1 /proc/loadavg)}"; }

# run_logged LOG_PREFIX CMD...: stdout to PREFIX.json, stderr to PREFIX.log, time to $WORK/time.
# A failed run is reported, counted in $FAILED and returns 1; the bench goes on without it.
FAILED=0
run_logged() {
  local prefix="$1"; shift
  if ! /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" > "$prefix.json" 2> "$prefix.log"; then
    tail -5 "$prefix.log" | grep -v '^Command exited' >&2
    echo "run_training.sh: FAILED: $* (log: $prefix.log)" >&2
    FAILED=$((FAILED + 1))
    return 1
  fi
}
failed_json() { jq -cn --arg e "$(grep -v '^Command exited' "$1.log" | tail -1)" '{error: $e}'; }

hq_train() {  # hq_train NAME MODE MODEL_DIR DATA ROUND
  local name="$1" mode="$2" dir="$3" data="$4" r="$5" prefix="$WORK/$1.$2.hq.r$5"
  local args=()
  if [[ $HQ_TOOL == hq-qat ]]; then
    if [[ $mode == qat ]]; then
      args=("$WORK/$name.calib.onnx" --lr 1e-4 --optimizer adam --out "$WORK/$name.qat.onnx")
    elif [[ $mode == qat-bn ]]; then
      args=("$WORK/$name.calib.onnx" --float-bn "$dir/$name.float-bn.onnx" --lr 1e-4
            --optimizer adam --out "$WORK/$name.qat-bn.onnx")
    else
      args=("$dir/$name.float-bn.onnx" --float --lr 1e-3 --weight-decay 1e-4 --optimizer adam
            --out "$WORK/$name.float-trained.onnx")
    fi
    if ! run_logged "$prefix" "$BUILD_DIR/bin/hq-qat" "${args[@]}" --data "$data" --epochs 1 \
      --batch "$BATCH" --threads "$THREADS" --limit "$IMAGES" --json; then
      failed_json "$prefix" > "$prefix.json"
      record "$name" "$mode" "hq-qat" "$prefix.json" "" "$(round_json "$r")"
      return 0
    fi
    jq -e '.images_per_second' "$prefix.json" >/dev/null ||
      die "hq-qat --json printed no images_per_second: see $prefix.json"
    record "$name" "$mode" "hq-qat" "$prefix.json" "$WORK/time" \
      "$(jq -c --argjson r "$(round_json "$r")" '$r + {img_per_s: .images_per_second}' "$prefix.json")"
  else
    if [[ $mode == qat-bn ]]; then die "hq-bench --train has no QAT with BN (qat-bn): needs hq-qat"
    elif [[ $mode == qat ]]; then args=("$WORK/$name.calib.onnx" --qdq); else
      args=("$dir/$name.float-bn.onnx"); fi
    if ! run_logged "$prefix" "$BUILD_DIR/bin/hq-bench" "${args[@]}" --train --batch "$BATCH" \
      --threads "$THREADS"; then
      failed_json "$prefix" > "$prefix.json"
      record "$name" "$mode" "hq-bench" "$prefix.json" "" "$(round_json "$r")"
      return 0
    fi
    jq -e '.img_per_s // .images_per_second' "$prefix.json" >/dev/null ||
      die "hq-bench --train printed no img_per_s: see $prefix.json"
    record "$name" "$mode" "hq-bench" "$prefix.json" "$WORK/time" \
      "$(jq -c --argjson r "$(round_json "$r")" '$r + {img_per_s: (.img_per_s // .images_per_second)}' "$prefix.json")"
  fi
}

torch_train() {  # torch_train NAME MODE RUNTIME MODEL ROUND
  local prefix="$WORK/$1.$2.$3.r$5"
  if ! run_logged "$prefix" /usr/bin/python3 -W ignore "$ROOT/bench/torch_train_bench.py" "$4" \
    --mode "${2%-bn}" --batch "$BATCH" --threads "$THREADS" --warmup "$WARMUP" \
    --batches "$NB"; then
    failed_json "$prefix" > "$prefix.json"
    record "$1" "$2" "$3" "$prefix.json" "" "$(round_json "$5")"
    return 0
  fi
  record "$1" "$2" "$3" "$prefix.json" "$WORK/time" "$(round_json "$5")"
}

for name in $MODELS; do
  dir="$(model_dir "$name")"
  if [[ -z "$dir" ]]; then
    echo "skipping $name: $name.float.onnx not found in models/ or ../shared/models/"
    continue
  fi
  data=fashion-mnist-train calib=fashion-mnist-calib
  if [[ "$name" == *_32 ]]; then data=fashion-mnist-train-32 calib=fashion-mnist-calib-32; fi
  # Default length: about 3 s of hq steps per run, so that start-up (plans, oneDNN primitives,
  # loader) does not dominate: 200 batches of the small CNN, 20 of MobileNetV2.
  NB=${BATCHES:-20}
  if [[ -z "$BATCHES" && "$name" != *_32 ]]; then NB=200; fi
  IMAGES=$(((WARMUP + NB) * BATCH))
  echo "$name: $WARMUP warm-up + $NB timed batches ($IMAGES Fashion-MNIST training images)" >&2
  if [[ $HQ == 1 && " $MODES " == *" qat"* ]]; then
    echo "$name: hq-calib -> $WORK/$name.calib.onnx" >&2
    run_logged "$WORK/$name.calib" "$BUILD_DIR/bin/hq-calib" "$dir/$name.float.onnx" \
      --data "$calib" --out "$WORK/$name.calib.onnx" --threads "$THREADS" --json -q ||
      die "hq-calib failed on $name: no QDQ model to train"
  fi
  for ((r = 1; r <= ROUNDS; ++r)); do
    for mode in $MODES; do
      echo "$name: $mode round $r/$ROUNDS" >&2
      if [[ $HQ == 1 ]]; then hq_train "$name" "$mode" "$dir" "$data" "$r"; fi
      if [[ $mode == qat ]]; then
        torch_train "$name" qat pytorch-fx-qat "$dir/$name.float.onnx" "$r"
      elif [[ $mode == qat-bn ]]; then
        torch_train "$name" qat-bn pytorch-fx-qat-convbn "$dir/$name.float-bn.onnx" "$r"
      else
        torch_train "$name" float pytorch-eager "$dir/$name.float-bn.onnx" "$r"
      fi
    done
  done
done

/usr/bin/python3 "$ROOT/bench/train_summary.py" "$RESULTS" --json "$OUT/training.json"
echo "raw results: $RESULTS (models and logs in $WORK/), summary: $OUT/training.json"
if [[ $FAILED -gt 0 ]]; then die "$FAILED run(s) failed (marked FAILED above)"; fi
