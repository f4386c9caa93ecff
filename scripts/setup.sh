#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine, and nothing twice:
# the system packages of the sandbox's real parts (apt-get), uv, and the locked Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  docker.io        # dockerd: the sandbox's Docker engine
  docker-registry  # one OCI registry per stage account
  mariadb-server   # the MySQL-compatible database
  mariadb-client
  postgresql       # the Prefect server's database on PostgreSQL (`--prefect-database postgresql`, the tests')
  skopeo           # the reference image copier the promotion benchmark compares against
  debootstrap      # a minimal Debian root file system for base images (no Docker Hub here)
  chromium         # the headless browser the UI tests drive with Playwright (no browser download needed)
  ca-certificates
  procps
)

missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  # Keep the packages' services (dockerd, mariadb, postgresql) from starting system-wide: the sandbox starts its own.
  policy=/usr/sbin/policy-rc.d
  created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && created_policy=1
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -z "$created_policy" ] || $sudo rm -f "$policy"
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv"
  python3 -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
fi
# Compiled once here: with PYTHONDONTWRITEBYTECODE set (as on our CI machines) Python never saves what it
# compiles, and every process compiled Prefect, boto3 and the rest again (a release command spent 10 s
# importing instead of 4). Our own packages too, for the same reason; an edited module is compiled as usual.
uv sync --frozen --quiet --compile-bytecode
uv run --frozen python -m compileall -q -j 0 cloudops flows tasks blocks cli deployments sandbox
# checkov and parliament, in an environment of their own (tools/aws-static-checks/pyproject.toml says why)
uv sync --frozen --quiet --project tools/aws-static-checks
# the documentation site's builder, in an environment of its own too (tools/docs/pyproject.toml)
uv sync --frozen --quiet --project tools/docs
echo "setup: done ($(uv run --frozen python -c 'import prefect; print("prefect", prefect.__version__)'))"
