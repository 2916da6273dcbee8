#!/usr/bin/env bash
# The README's second command: install dependencies, build, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
HQ_SETUP_TEST=1 bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "${JOBS:-$(nproc)}"
