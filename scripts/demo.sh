#!/usr/bin/env bash
# The main job on the local sandbox (no AWS account needed): set up, bring the sandbox up, create the
# deployments, and release the example application from source to production, approvals given automatically.
# Run it again: nothing is rebuilt, copied or redeployed, and it says so.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
bash scripts/setup.sh

export PREFECT_SERVER_ANALYTICS_ENABLED=false
echo "== sandbox: moto server, a registry per stage, MariaDB, dockerd, a Prefect server and its worker"
uv run --frozen cloudops sandbox up "$@"
eval "$(uv run --frozen cloudops sandbox env)"

echo "== the stage accounts, each checked through its own credential block (sts:GetCallerIdentity)"
uv run --frozen cloudops accounts show --check

echo "== the deployments of prefect.yaml (nightly build, on-demand runs from the UI, the approval trigger)"
uv run --frozen cloudops deployments create

echo "== release examples/commerce at HEAD: build, then qa -> staging -> prod (promote, deploy, approve)"
echo "   (a first run builds a Debian base image with debootstrap: about 2 minutes; a second run rebuilds nothing)"
uv run --frozen cloudops release --ref HEAD --to prod --auto-approve

cat <<DONE

Done in $((SECONDS - started)) s. The sandbox is up. Look at:
  Prefect UI:          ${PREFECT_API_URL%/api}/runs  (the release run and its subflows; Deployments: run any flow with a form)
  Its login:           the UI asks for it first: type what \`cat ${CLOUDOPS_SANDBOX_DIR}/prefect-login\` prints
  The release:         ${PREFECT_API_URL%/api}/artifacts/key/release-summary
  Each stage's app:    the app endpoints above answer (curl <endpoint>/health or <endpoint>/products, or open
                       them in a browser): the sandbox's ECS runtime runs each stage's tasks behind its load
                       balancer's loopback address, over that stage's databases restored from the release
  Where it is:         eval "\$(uv run cloudops sandbox env)"; uv run cloudops status   (in a new shell)
  What they print:     uv run cloudops logs qa author/app -f   (after the eval line)
  Stop it:             uv run cloudops sandbox down   (the state is kept: sandbox up brings the stages back)
DONE
