"""The run forms of the UI: what `prefect deploy` cannot read from a flow's signature.

A stage parameter is a dropdown of the stages a release can go to in cloudops.toml (every stage but the build
stage), and ``share_with`` a list chosen from them: the stages come from the configuration, so they cannot be
a ``Literal`` in the flow's signature. Each field's line of help comes from its flow's docstring (``Args:``),
which Prefect reads. The server checks a run's parameters against this schema (``enforce_parameter_schema``,
on by default), so a typed stage name that is not one is refused before any run is created, from the UI, the
API or another deployment's trigger alike.
"""

from __future__ import annotations

import copy
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentUpdate

from cloudops.settings import Settings

STAGE_PARAMETERS = frozenset({"stage", "to_stage"})
STAGE_LIST_PARAMETERS = frozenset({"share_with"})


def with_stage_choices(schema: dict[str, Any], stages: list[str]) -> dict[str, Any]:
    """A copy of a deployment's parameter schema whose stage parameters offer ``stages`` as their only choices."""
    patched = copy.deepcopy(schema)
    for name, field in patched.get("properties", {}).items():
        if name in STAGE_PARAMETERS:
            _choices(field, stages)
        elif name in STAGE_LIST_PARAMETERS:
            for variant in field.get("anyOf", [field]):
                if variant.get("type") == "array":
                    variant["items"] = {"type": "string", "enum": list(stages)}
                    variant["uniqueItems"] = True
    return patched


def _choices(field: dict[str, Any], stages: list[str]) -> None:
    field["enum"] = list(stages)
    if field.get("default") not in stages:
        field.pop("default", None)


def stage_fields(schema: dict[str, Any]) -> list[str]:
    """The parameters of ``schema`` that name stages."""
    return sorted(set(schema.get("properties", {})) & (STAGE_PARAMETERS | STAGE_LIST_PARAMETERS))


def offer_stages(settings: Settings, deployment_names: list[str] | None = None) -> list[str]:
    """Give every deployment on the server (or those named ``<flow>/<deployment>``) its stage dropdowns; the
    names of the deployments changed."""
    stages = settings.target_stages()
    changed: list[str] = []
    with get_client(sync_client=True) as client:
        flows = {flow.id: flow.name for flow in client.read_flows()}
        for deployment in client.read_deployments():
            name = f"{flows.get(deployment.flow_id, '?')}/{deployment.name}"
            schema = deployment.parameter_openapi_schema or {}
            if (deployment_names is not None and name not in deployment_names) or not stage_fields(schema):
                continue
            patched = with_stage_choices(schema, stages)
            if patched != schema:
                client.update_deployment(deployment.id, DeploymentUpdate(parameter_openapi_schema=patched))
                changed.append(name)
    return changed
