"""The least-privilege IAM policy of each of the pipeline's roles, as shipped in ``cloudops/templates/policies/``
(JSON, package data: in the wheel and the flow-runner image with the code).

Each file is an IAM policy document whose ``${AccountId}``, ``${Region}``, ``${Bucket}`` and ``${BuildAccountId}``
stand for the stage's account, region and bucket and the build account; :func:`policy_document` fills them in for
one stage of cloudops.toml. Which roles an account has follows from its place in the promotion order:

- the build account: ``cloudops-build`` (package, build, push, populate, snapshot, share; the records and the
  audit trail, which it can write and never delete), ``cloudops-ecs-worker`` (prefect-aws's ECS worker: start the
  `cloudops-ecs` pool's flow runs as tasks of the cluster ``cloudops-flow-runs``), ``cloudops-promotion-source``
  and ``cloudops-status-reader``;
- every other stage: ``cloudops-deployer`` (promote into its own registry, deploy its stacks, restore its
  databases from the shared snapshots, its config store), ``cloudops-cloudformation`` (the execution role the
  deployer passes to CloudFormation, which creates, updates and deletes the stacks' resources with its rights;
  trusted by CloudFormation only), ``cloudops-approver`` (the identity an approval is signed with, nothing else)
  and ``cloudops-status-reader``; and ``cloudops-promotion-source`` (its registry,
  read-only) where a stage promotes from it.

The pipeline's runs use the build role in the build account and the deployer role in the others; no role
reaches another account's resources (each ARN names its own account, but for the build account's shared
snapshots the deployer restores from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from string import Template
from typing import Any

from cloudops.settings import Settings

POLICIES = resources.files("cloudops") / "templates" / "policies"  # package data: in the wheel, beside the code


@dataclass(frozen=True)
class PipelineRole:
    """One of the pipeline's roles: its name in an account and its policy's file in ``cloudops/templates/policies/``."""

    kind: str
    name: str
    summary: str
    # The AWS service that assumes it (CloudFormation for the execution role); None: the pipeline's own principal.
    service: str | None = None

    @property
    def policy_file(self) -> Traversable:
        return POLICIES / f"{self.kind}.json"


BUILD = PipelineRole("build", "cloudops-build", "package, build and push images, populate and snapshot, records")
DEPLOYER = PipelineRole("stage-deployer", "cloudops-deployer", "promote into the stage's registry, deploy, restore")
PROMOTION_SOURCE = PipelineRole("promotion-source", "cloudops-promotion-source", "read the registry, nothing else")
APPROVER = PipelineRole("approver", "cloudops-approver", "sign an approval with an identity, nothing else")
STATUS_READER = PipelineRole("status-reader", "cloudops-status-reader", "read what runs and the records")
ECS_WORKER = PipelineRole("ecs-worker", "cloudops-ecs-worker", "start flow runs as ECS tasks on cloudops-flow-runs")
CLOUDFORMATION_EXECUTION = PipelineRole(
    "cloudformation-execution",
    "cloudops-cloudformation",
    "CloudFormation's rights over the stage's stacks' resources, passed by the deployer as each change set's role",
    service="cloudformation.amazonaws.com",
)
ROLES = (BUILD, DEPLOYER, PROMOTION_SOURCE, APPROVER, STATUS_READER, ECS_WORKER, CLOUDFORMATION_EXECUTION)


def pipeline_role(settings: Settings, stage: str) -> PipelineRole:
    """The role the pipeline's runs use in ``stage``'s account."""
    return BUILD if stage == settings.build_stage else DEPLOYER


def roles_of_stage(settings: Settings, stage: str) -> list[PipelineRole]:
    """The pipeline's roles in ``stage``'s account."""
    sources = {s.promotes_from for s in settings.stages.values() if s.promotes_from}
    roles = [BUILD, ECS_WORKER] if stage == settings.build_stage else [DEPLOYER, APPROVER, CLOUDFORMATION_EXECUTION]
    if stage in sources:
        roles.append(PROMOTION_SOURCE)
    return [*roles, STATUS_READER]


def execution_role_arn(account_id: str) -> str:
    """The CloudFormation execution role of the account ``account_id``: every change set and stack deletion acts with
    its rights, not the deployer's (the deployer may only pass it to CloudFormation)."""
    return f"arn:aws:iam::{account_id}:role/{CLOUDFORMATION_EXECUTION.name}"


def policy_document(settings: Settings, stage: str, role: PipelineRole) -> dict[str, Any]:
    """``role``'s policy for ``stage``'s account, its placeholders filled in."""
    conf = settings.stage(stage)
    values = {
        "AccountId": conf.account_id,
        "Region": conf.region,
        "Bucket": conf.bucket,
        "BuildAccountId": settings.stage(settings.build_stage).account_id,
    }
    text = Template(role.policy_file.read_text(encoding="utf-8")).substitute(values)
    document: dict[str, Any] = json.loads(text)
    return document
