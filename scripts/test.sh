#!/usr/bin/env bash
# Set up, then run the checks and the tests. The test suite starts its own real parts on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PREFECT_SERVER_ANALYTICS_ENABLED=false
echo "== ruff"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
echo "== import-linter (the layer rules in pyproject.toml)"
uv run --frozen lint-imports --no-cache
echo "== mypy"
uv run --frozen mypy
echo "== pytest"
# In a random order, a new one each run (pytest-randomly, on whenever it is installed): the header's
# "Using --randomly-seed=N" replays a failing order with `bash scripts/test.sh -p randomly --randomly-seed=N`;
# `-p no:randomly` runs the tests in file order.
uv run --frozen pytest "$@"
