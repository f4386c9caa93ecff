"""A deployed stage's databases are real: each RDS instance of the stage's stacks is a MariaDB server on the sandbox's
Docker engine, restored from the release's snapshot, on the stage account's networks only, and the application's
tasks read it: ``/products`` answers with the products of the environment's data sets."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from cloudops import deploy
from cloudops.aws import cloudformation, rds
from sandbox import docker_engine
from sandbox.sandbox import Sandbox
from tests.ops_helpers import OpsApp, default_vpc, stage_options
from tests.polling import eventually

pytestmark = pytest.mark.slow
DATASETS = Path(__file__).resolve().parents[2] / "examples" / "commerce" / "datasets"
PRODUCT = re.compile(
    r"INSERT INTO product \(sku, catalog_code, name, price_cents\) VALUES \('([^']*)', '[^']*', '(.*)', (\d+)\);"
)


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError as error:
        return 0, {"error": str(error)}


def products_of(environment: str) -> list[dict[str, Any]]:
    """The products the example's data sets insert for ``environment`` (common, then its own), by SKU."""
    found = []
    for scope in ("common", environment):
        for path in sorted((DATASETS / scope).glob("V*.sql")):
            for line in path.read_text().splitlines():
                match = PRODUCT.fullmatch(line.strip())
                if match:
                    found.append({"sku": match[1], "name": match[2], "price_cents": int(match[3])})
    return sorted(found, key=lambda p: str(p["sku"]))


def test_each_environment_reads_its_own_database_restored_from_the_releases_snapshot(
    sandbox: Sandbox, app: OpsApp
) -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]
    app.copy_images(release, "qa", ["app", "broker"])
    qa = sandbox.account("qa")
    engine = docker.DockerClient(base_url=sandbox.state.docker_host)

    # When the release is deployed to QA (the deploy sets each database's master password to the stage's secret)
    outcomes = deploy_environment(stage="qa", version=release.version, kind="author-live")

    # Then each environment's /products answers with that environment's products, from its own database
    assert products_of("author") != products_of("live")  # the test tells the two apart
    servers = {}
    for outcome in outcomes:
        endpoint = outcome.outputs["AppEndpoint"]

        def answered(url: str = f"{endpoint}/products") -> dict[str, Any] | None:
            status, body = get_json(url)
            return body if status == 200 else None

        body = eventually(f"{endpoint}/products of {outcome.environment} answering 200", answered, bound=240)
        assert body["products"] == products_of(outcome.environment)

        # and moto says the instance is available at the hostname the tasks resolve
        instance = qa.client("cloudformation").describe_stack_resource(
            StackName=outcome.stack, LogicalResourceId="Database"
        )["StackResourceDetail"]["PhysicalResourceId"]
        described = qa.client("rds").describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
        assert described["DBInstanceStatus"] == "available"
        assert described["Endpoint"]["Address"] == outcome.outputs["DatabaseEndpoint"]
        (server,) = [
            c
            for c in docker_engine.containers(engine, ["cloudops.sandbox=rds"], status="running")
            if c.labels["cloudops.rds.instance"].endswith(f"/{instance}")
        ]
        servers[outcome.environment] = server

    # The servers are on the QA account's networks only: its own and its clusters', none of another stage's
    account = sandbox.settings.stage("qa").account_id
    for server in servers.values():
        networks = set(server.attrs["NetworkSettings"]["Networks"])
        assert f"cloudops-rds-{account}" in networks
        assert {f"cloudops-ecs-{account}-{o.outputs['ClusterName']}" for o in outcomes} <= networks
        assert all(account in name for name in networks), networks

    # When the deploy checks the passwords again, it leaves the instances be: each has the stage's secret already
    bucket, network, options = app.settings.stage("qa").bucket, default_vpc(qa), stage_options(qa, "qa")
    plans = deploy.plans("author-live", "qa", bucket, release, "registry", network, options)
    assert [deploy.set_database_password(qa, plan) for plan in plans] == [None, None]
    # But once the secret has a new version (rotated; here to the same value, so that the app keeps logging in),
    # the next check sets it on both instances and marks them with it, and the apps still read their databases
    author = next(plan for plan in plans if plan.environment == "author")
    for plan in plans:
        parameter = qa.client("ssm").get_parameter(Name=plan.parameters["DbPasswordParameter"], WithDecryption=True)
        qa.client("ssm").put_parameter(
            Name=parameter["Parameter"]["Name"],
            Value=parameter["Parameter"]["Value"],
            Type="SecureString",
            KeyId="alias/cloudops",
            Overwrite=True,
        )
    assert [deploy.set_database_password(qa, plan) is not None for plan in plans] == [True, True]
    instance = cloudformation.physical_id(qa, author.stack, "Database")
    _, _, tags = rds.instance_tags(qa, str(instance))
    assert tags[deploy.PASSWORD_MARK_TAG].startswith("2@")  # the secret's second version
    for outcome in outcomes:
        assert get_json(f"{outcome.outputs['AppEndpoint']}/products")[0] == 200

    # When the environment is torn down, its databases' servers and their data are gone
    data = sandbox.root / "rds" / account
    assert len([p for p in data.iterdir() if p.is_dir()]) >= 2
    teardown_environment(stage="qa", kind="author-live", confirm="qa/author-live")
    ids = {s.id for s in servers.values()}
    folders = [data / s.labels["cloudops.rds.instance"].rsplit("/", 1)[-1] for s in servers.values()]
    eventually(
        "no server of the torn-down databases, nor their data",
        lambda: (
            not ({c.id for c in docker_engine.containers(engine)} & ids or any(f.exists() for f in folders)) or None
        ),
        bound=60,
    )
