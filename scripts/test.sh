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
uv run --frozen pytest "$@"
