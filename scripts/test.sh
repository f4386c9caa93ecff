#!/usr/bin/env bash
# Set up, then run the checks and the tests. The test suite starts its own real parts on free ports.
#   bash scripts/test.sh [PYTEST ARGS]           the checks, then every tier
#   bash scripts/test.sh TIER [PYTEST ARGS]      one tier of tests, no checks: unit (no server, no Docker, under a
#                                                minute), integration (each part by its own fixture), e2e (releases,
#                                                killed runs, the ECS pool, the browser), sandbox (the sandbox's own,
#                                                in its package: sandbox/sandbox_tests/)
set -euo pipefail
cd "$(dirname "$0")/.."
tier=""
case "${1:-}" in unit | integration | e2e) tier="tests/$1"; shift ;; sandbox) tier="sandbox/sandbox_tests"; shift ;; esac
bash scripts/setup.sh

export PREFECT_SERVER_ANALYTICS_ENABLED=false
# The tests' Prefect server: Prefect's own harness on the sandbox's PostgreSQL part (tests/prefect_harness.py), as
# a team's server runs; `CLOUDOPS_TEST_PREFECT_DATABASE=sqlite` runs it on SQLite instead. Measured on this
# 2-core machine: the whole suite in 20.8 min of pytest on PostgreSQL against 26-29 on SQLite, whose one writer
# at a time holds every run's state changes behind the others'.
export CLOUDOPS_TEST_PREFECT_DATABASE="${CLOUDOPS_TEST_PREFECT_DATABASE:-postgresql}"
if [ -n "$tier" ]; then
  echo "== pytest $tier"
  exec uv run --frozen pytest "$tier" "$@"
fi
echo "== ruff"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
echo "== import-linter (the layer rules in pyproject.toml)"
uv run --frozen lint-imports --no-cache
echo "== mypy"
uv run --frozen mypy
echo "== docs (docs/ as a site: its generated reference pages current, then built --strict, offline)"
uv run --frozen python -m cli.docs_reference --check
offline=(); if unshare --net true 2>/dev/null; then offline=(unshare --net); fi
NO_MKDOCS_2_WARNING=1 "${offline[@]}" tools/docs/.venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
echo "== pytest"
# In a random order, a new one each run (pytest-randomly, on whenever it is installed): the header's
# "Using --randomly-seed=N" replays a failing order with `bash scripts/test.sh -p randomly --randomly-seed=N`;
# `-p no:randomly` runs the tests in file order.
uv run --frozen pytest "$@"
