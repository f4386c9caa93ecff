#!/usr/bin/env bash
# build-release of the example application, cold (a purged sandbox: no base image, no layers) then with no
# change. Run by hand from the repository root: bash bench/build_release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CLOUDOPS_SANDBOX_DIR="$PWD/bench/.work/sandbox"
uv run --frozen cloudops sandbox down --purge >/dev/null 2>&1 || true
uv run --frozen cloudops sandbox up --auto-ports >/dev/null
eval "$(uv run --frozen cloudops sandbox env)"
run() {
  local start end
  start=$(date +%s.%N)
  uv run --frozen cloudops build --ref HEAD > "bench/.work/$1.log" 2>&1
  end=$(date +%s.%N)
  echo "$1: $(echo "$end - $start" | bc) s"
}
run cold
run no-change
uv run --frozen cloudops sandbox down --purge >/dev/null
