"""Endpoints from stack outputs into the account's config store (SSM Parameter Store in moto)."""

from __future__ import annotations

import uuid

from cloudops import config_store, deploy
from sandbox.sandbox import Sandbox


def test_stack_outputs_reach_the_config_store_under_the_documented_path(moto_sandbox: Sandbox) -> None:
    qa = moto_sandbox.account("qa")
    application = f"app{uuid.uuid4().hex[:6]}"
    outcome = deploy.StackOutcome(
        stack=f"{application}-qa-live",
        environment="live",
        action="update",
        executed=True,
        outputs={
            "AppEndpoint": "http://live-123.eu-west-1.elb.amazonaws.com",
            "DatabaseEndpoint": "live-db.abc.eu-west-1.rds.amazonaws.com",
            "DatabasePort": "3306",
            "BrokerEndpoint": "tcp://broker:1883",
            "AppTaskDefinition": "arn:aws:ecs:eu-west-1:222222222222:task-definition/x:3",
        },
    )
    store = config_store.SsmConfigStore(qa)
    deploy.publish_endpoints(store, "qa", application, outcome)
    assert store.get(f"/cloudops/qa/{application}/live") == {
        "app_endpoint": "http://live-123.eu-west-1.elb.amazonaws.com",
        "database_endpoint": "live-db.abc.eu-west-1.rds.amazonaws.com",
        "database_port": "3306",
        "broker_endpoint": "tcp://broker:1883",
        "stack": f"{application}-qa-live",
    }
    # Another account's store does not see them
    assert config_store.SsmConfigStore(moto_sandbox.account("prod")).get(f"/cloudops/qa/{application}/live") == {}

    # Published again with one endpoint changed: only that parameter gets a new version
    moved = outcome.model_copy(update={"outputs": {**outcome.outputs, "AppEndpoint": "http://live-456.elb"}})
    deploy.publish_endpoints(store, "qa", application, moved)
    ssm = qa.client("ssm")
    versions = {
        p["Name"].rsplit("/", 1)[1]: p["Version"]
        for p in ssm.get_parameters_by_path(Path=f"/cloudops/qa/{application}/live")["Parameters"]
    }
    assert versions == {"app_endpoint": 2, "database_endpoint": 1, "database_port": 1, "broker_endpoint": 1, "stack": 1}
    assert store.get(f"/cloudops/qa/{application}/live")["app_endpoint"] == "http://live-456.elb"


def test_a_secret_parameter_is_created_once_and_never_overwritten(moto_sandbox: Sandbox) -> None:
    store = config_store.SsmConfigStore(moto_sandbox.account("qa"))
    name = f"/cloudops/qa/app{uuid.uuid4().hex[:6]}/author/db-password"
    assert store.ensure_secret(name) is True
    ssm = moto_sandbox.account("qa").client("ssm")
    first = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert first["Type"] == "SecureString" and len(first["Value"]) >= 24
    assert store.ensure_secret(name) is False
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == first["Value"]


def test_endpoints_leave_out_the_secrets_and_the_records_kept_beside_them() -> None:
    values = {
        "author/app_endpoint": "http://a",
        "author/db-password": "s3cret",
        "live/database_port": "3306",
        "lookup-authorities/fingerprint": "abc",
        "lookup/db-password": "other",
    }
    shown = config_store.endpoints(values, not_endpoints=("lookup-authorities",))
    assert shown == {"author/app_endpoint": "http://a", "live/database_port": "3306"}
    assert config_store.is_secret("author/db-password") and not config_store.is_secret("author/app_endpoint")


def test_published_values_read_as_each_environment_s_endpoints() -> None:
    values = {
        "/cloudops/qa/commerce/author/app_endpoint": "http://127.0.0.2",
        "/cloudops/qa/commerce/author/broker_endpoint": "tcp://broker:1883",
        "/cloudops/qa/commerce/author/database_endpoint": "db.example",
        "/cloudops/qa/commerce/author/database_port": "3306",
        "/cloudops/qa/commerce/author/cluster": "commerce-qa-author",
        "/cloudops/qa/commerce/author/stack": "commerce-qa-author",
        "/cloudops/qa/commerce/live/app_endpoint": "http://127.0.0.3",
    }
    assert config_store.environment_endpoints(values) == {
        "/cloudops/qa/commerce/author": {
            "app": "http://127.0.0.2",
            "broker": "tcp://broker:1883",
            "database": "db.example:3306",
        },
        "/cloudops/qa/commerce/live": {"app": "http://127.0.0.3"},
    }
