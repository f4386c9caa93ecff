"""No secret anywhere it does not belong: a release deployed with recognisable database passwords, then every place
the pipeline writes to searched for them and for every other secret the sandbox holds.

Where secrets belong (and are not searched): the SSM SecureStrings themselves, Prefect's block documents (the
server encrypts them), and the sandbox's own credential files (mode 0600: its state, AWS profiles, the Docker
client's config, moto's saved state).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL, get_current_settings
from pydantic import SecretStr

from cloudops import config_store
from sandbox.sandbox import Sandbox
from sandbox.state import REGISTRY_USER, SANDBOX_SECRET_ACCESS_KEY
from tests import prefect_harness
from tests.ops_helpers import BUILD_BUCKET, OpsApp

pytestmark = pytest.mark.slow


def forms_of(secret: str) -> set[bytes]:
    """A secret as it could leak: itself, base64-encoded, and as a basic-auth pair."""
    return {
        secret.encode(),
        base64.b64encode(secret.encode()),
        base64.b64encode(f"{REGISTRY_USER}:{secret}".encode()),
    }


def files_under(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from (path for path in folder.rglob("*") if path.is_file())


def leaks(places: dict[str, bytes], secrets: dict[str, str]) -> list[str]:
    return [
        f"{what} in {place}"
        for what, secret in secrets.items()
        for place, body in places.items()
        if any(form in body for form in forms_of(secret))
    ]


@pytest.mark.reliability(
    "fault",
    "a deploy with recognisable database passwords, and every password and key the sandbox holds, looked for",
    "none in the Prefect database (runs, logs, artifacts, states), the results, the logs, the audit trail, the "
    "release records, the stacks' parameters or the plain SSM parameters",
)
def test_no_secret_is_in_the_runs_logs_artifacts_results_trail_or_parameters(sandbox: Sandbox, app: OpsApp) -> None:
    from flows.promote import promote

    started = datetime.now(UTC)
    qa = sandbox.account("qa")
    canaries = {f"the {env} database password": f"canary-{env}-{uuid.uuid4().hex}" for env in ("author", "live")}
    for env in ("author", "live"):  # created before the deploy, which keeps them (it never overwrites one)
        qa.client("ssm").put_parameter(
            Name=config_store.path("qa", app.name, env, "db-password"),
            Value=canaries[f"the {env} database password"],
            Type="SecureString",
        )
    first = app.releases[0]
    promote(version=first.version, to_stage="qa", deploy_kind="author-live")

    state = sandbox.state
    secrets = {
        **canaries,
        "the sandbox's AWS secret key": SANDBOX_SECRET_ACCESS_KEY,
        "the MariaDB password": state.mariadb_password.get_secret_value(),
        **{f"the {s} registry's password": r.password.get_secret_value() for s, r in state.registries.items()},
    }
    places: dict[str, bytes] = {}
    url = PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    url = url.get_secret_value() if isinstance(url, SecretStr) else str(url)
    if url.startswith("postgresql"):
        # NOTE: the rows written since this test began: its canaries cannot be anywhere older, and the other tests'
        # rows would make this test's search grow with its place in the random order (21 s first, 118 s last)
        places["the Prefect database (every row written since the test began)"] = prefect_harness.dump(url, started)
    else:
        database = Path(url.split(":///", 1)[1])
        for path in database.parent.glob(f"{database.name}*"):  # the database and its write-ahead log
            places[f"the Prefect database ({path.name})"] = path.read_bytes()
    for path in files_under(get_current_settings().results.local_storage_path):
        places[f"the results ({path})"] = path.read_bytes()
    for path in files_under(state.logs):
        places[f"the log {path.name}"] = path.read_bytes()

    build = sandbox.account("build")
    for prefix in ("audit/", "releases/"):
        for page in build.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUILD_BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                body = build.client("s3").get_object(Bucket=BUILD_BUCKET, Key=item["Key"])["Body"].read()
                places[f"s3://{BUILD_BUCKET}/{item['Key']}"] = body
    for stage in sandbox.settings.promotion_order():
        account = sandbox.account(stage)
        ssm = account.client("ssm")
        for page in ssm.get_paginator("describe_parameters").paginate():
            for parameter in page["Parameters"]:
                if parameter["Type"] != "SecureString":
                    value = ssm.get_parameter(Name=parameter["Name"])["Parameter"]["Value"]
                    places[f"{stage}'s SSM parameter {parameter['Name']}"] = value.encode()
        for stack in account.client("cloudformation").describe_stacks()["Stacks"]:
            shown = "\n".join(f"{p['ParameterKey']}={p.get('ParameterValue', '')}" for p in stack.get("Parameters", []))
            places[f"{stage}'s stack {stack['StackName']}'s parameters"] = shown.encode()
        logs = account.client("logs")
        for group in logs.describe_log_groups().get("logGroups", []):
            events = logs.filter_log_events(logGroupName=group["logGroupName"]).get("events", [])
            places[f"{stage}'s log group {group['logGroupName']}"] = "\n".join(e["message"] for e in events).encode()

    assert len(places) > 20, sorted(places)  # the search reached what it means to
    assert any("database" in place for place in places)
    if url.startswith("postgresql"):  # the rows searched hold this test's own: its promote run and its logs
        written = places["the Prefect database (every row written since the test began)"]
        assert f"release {first.id} promoted from build to qa".encode() in written
    assert leaks(places, secrets) == []
    # and it finds a secret where one is: the SecureString the canary lives in
    name = config_store.path("qa", app.name, "author", "db-password")
    kept = qa.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert leaks({"the SecureString": kept.encode()}, canaries) == ["the author database password in the SecureString"]
