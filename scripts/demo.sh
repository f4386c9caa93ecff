#!/usr/bin/env bash
# The main job on the local sandbox (no AWS account needed): set up, bring the sandbox up, and run the
# pipeline's flows against it: the stage accounts and their blocks, then the build side of a release.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PREFECT_SERVER_ANALYTICS_ENABLED=false
echo "== sandbox: moto server, a registry per stage, MariaDB, dockerd, a Prefect server"
uv run --frozen cloudops sandbox up "$@"
eval "$(uv run --frozen cloudops sandbox env)"

echo "== the stage accounts, each checked through its own credential block (sts:GetCallerIdentity)"
uv run --frozen cloudops accounts show --check

echo "== the check-accounts flow, run against the sandbox's Prefect server"
uv run --frozen python -m flows.check_accounts

echo "== build-release of the example application (examples/commerce at HEAD): package, images, snapshots"
echo "   (the first run builds a Debian base image with debootstrap: about 2 minutes; a second run rebuilds nothing)"
uv run --frozen cloudops build --ref HEAD --rds-databases sandbox-mariadb

echo "== promote the release into QA (QA's registry pulls by digest from build's) and deploy Author and Live there"
uv run --frozen cloudops promote latest --to qa --deploy author-live

cat <<DONE

The sandbox is up. Look at:
  Prefect UI:         ${PREFECT_API_URL%/api}  (Runs: build-release, promote, deploy-environment; Artifacts: release, images, snapshots, promotion-qa, deploy-qa-author-live)
  Use it from a shell: eval "\$(uv run cloudops sandbox env)"
  Stop it:            uv run cloudops sandbox down
DONE
