"""prefect.yaml: every deployment's entrypoint imports and has a valid parameter schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from uuid import uuid4

import yaml
from jsonschema import Draft202012Validator
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema

from deployments.ecs_work_pool import FLOWS_FOLDER, EcsPoolDefaults, default_template, ecs_job_template

REPO = Path(__file__).resolve().parents[2]


def deployments() -> list[dict[str, Any]]:
    document = yaml.safe_load((REPO / "prefect.yaml").read_text())
    found: list[dict[str, Any]] = document["deployments"]
    return found


def test_every_entrypoint_imports_with_a_valid_parameter_schema() -> None:
    names = set()
    for deployment in deployments():
        flow: Flow[..., Any] = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
        schema = parameter_schema(flow.fn)
        Draft202012Validator.check_schema(schema.model_dump(mode="json", by_alias=True))
        assert set(schema.properties) == set(flow.parameters.properties)
        pool = deployment["work_pool"]["name"]
        assert pool in ("cloudops-local", "cloudops-ecs"), pool
        if pool == "cloudops-ecs":  # its flows are in the flow-runner image, not in a checkout
            (step,) = deployment["pull"]
            assert step["prefect.deployments.steps.set_working_directory"]["directory"] == FLOWS_FOLDER
        names.add(deployment["name"])
    assert {
        "check-accounts",
        "build-release",
        "package",
        "build-images",
        "snapshot",
        "populate-data",
        "deploy-environment",
        "teardown-environment",
        "promote",
        "await-approval",
        "rollback",
        "release",
        "build-flow-runner",
        "release-on-ecs",
    } <= names


def test_the_nightly_build_has_a_timezone_and_a_slug() -> None:
    nightly = next(d for d in deployments() if d["name"] == "build-release")
    (schedule,) = nightly["schedules"]
    assert schedule["cron"] == "0 2 * * *"
    assert schedule["timezone"] and schedule["slug"] == "nightly-build"


def test_an_approval_with_a_next_stage_triggers_promote_and_runs_send_heartbeats() -> None:
    promote = next(d for d in deployments() if d["name"] == "promote")
    (trigger,) = promote["triggers"]
    assert trigger["expect"] == ["cloudops.release.approved"]
    assert trigger["match"]["cloudops.next-stage"] == "*"  # the last stage's approval promotes nothing
    assert set(trigger["parameters"]) == {"version", "to_stage"}
    # the crash-silent-runs automation (deployments/automations.py) needs the runs' heartbeats
    local = [d for d in deployments() if d["work_pool"]["name"] == "cloudops-local"]
    assert all(int(d["work_pool"]["job_variables"]["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) > 0 for d in local)
    # the ECS pool's runs get theirs from the pool's job template (a deployment's `env` would replace it whole)
    defaults = EcsPoolDefaults(image="flow-runner@sha256:" + "0" * 64, cluster="c", credentials_block_id=str(uuid4()))
    template = ecs_job_template(default_template(os.environ), defaults)
    assert int(template["variables"]["properties"]["env"]["default"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) > 0
