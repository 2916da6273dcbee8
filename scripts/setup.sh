#!/usr/bin/env bash
# Install hq's build and test dependencies from Debian 12 packages (needs root or sudo).
# Skips apt entirely when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache git
  libcli11-dev libonnx-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev
  nlohmann-json3-dev catch2 libdnnl-dev ocl-icd-opencl-dev zlib1g-dev libvalijson-dev
  libpng-dev libjpeg-dev libgraphviz-dev
  dataset-fashion-mnist
)
# Test extras (scripts/test.sh sets HQ_SETUP_TEST=1): chromium, in which a test renders the
# hq-perf page headless (scripts/check_perf_html.sh; the test skips where it is missing).
if [[ "${HQ_SETUP_TEST:-0}" == 1 || "${HQ_SETUP_DEV:-0}" == 1 ]]; then
  PACKAGES+=(chromium)
fi
# Developer extras (not needed to build or test): the generators of tests' reference data
# (python3-onnx, python3-numpy, python3-torch) and the benches' peers (see bench/README.md).
if [[ "${HQ_SETUP_DEV:-0}" == 1 ]]; then
  PACKAGES+=(python3-onnx python3-numpy python3-torch nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} Debian packages already installed"
  exit 0
fi
SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
