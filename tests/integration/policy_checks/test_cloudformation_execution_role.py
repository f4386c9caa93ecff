"""The CloudFormation execution role may do all that CloudFormation's handlers do for the stacks' resources.

NOTE: moto's CloudFormation creates resources without any IAM check, so a sandbox deploy proves nothing about the
execution role's policy. Instead, each resource type's provider schema (vendored in provider_schemas/, with its
source) lists the permissions its create, read, update and delete handlers need; each is evaluated here against the
role's policy, its placeholders filled in for a stage, with moto's IAM evaluator, as IAM would evaluate the
handler's calls. No server is needed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from cloudops.policies import CLOUDFORMATION_EXECUTION, policy_document
from cloudops.settings import Settings, load_settings
from tests.app_source import CONFIG_FILE

SCHEMAS = Path(__file__).resolve().parent / "provider_schemas"
TEMPLATES = Path(__file__).resolve().parents[3] / "cloudops" / "templates" / "stacks"
HANDLERS = ("create", "read", "update", "delete")
# Parameter types, not resources
NOT_RESOURCES = {"AWS::EC2::Image::Id", "AWS::EC2::SecurityGroup::Id", "AWS::EC2::VPC::Id"}
# The service each type's handlers pass a role to (iam:PassedToService), as AWS documents for that type
PASSED_TO = {
    "AWS::ApplicationAutoScaling::ScalableTarget": "application-autoscaling.amazonaws.com",
    "AWS::AutoScaling::AutoScalingGroup": "ec2.amazonaws.com",
    "AWS::ECS::Service": "ecs.amazonaws.com",
    "AWS::ECS::TaskDefinition": "ecs-tasks.amazonaws.com",
    "AWS::EFS::FileSystem": "elasticfilesystem.amazonaws.com",
    "AWS::IAM::InstanceProfile": "ec2.amazonaws.com",
    "AWS::RDS::DBInstance": "monitoring.rds.amazonaws.com",
    "AWS::S3::Bucket": "s3.amazonaws.com",
}


def template_types() -> dict[str, set[str]]:
    """Each resource type the stack templates use, and the templates that use it."""
    found: dict[str, set[str]] = {}
    for template in sorted(TEMPLATES.glob("*.yaml")):
        for type_name in set(re.findall(r"Type: (AWS::[A-Za-z0-9:]+)", template.read_text())) - NOT_RESOURCES:
            found.setdefault(type_name, set()).add(template.name)
    return found


def schema_of(type_name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / f"{type_name.replace('::', '-')}.json").read_text())
    return data


def missing(document: dict[str, Any], settings: Settings, stage: str) -> list[str]:
    """Each handler permission of each template type that ``document`` does not allow: ``type handler action``."""
    conf = settings.stage(stage)
    policy = IAMPolicy(json.dumps(document))
    role = f"arn:aws:iam::{conf.account_id}:role/commerce-{stage}-author-TaskRole-ABC123"
    refused = []
    for type_name in sorted(template_types()):
        handlers = schema_of(type_name)["handlers"]
        for handler in HANDLERS:
            for action in handlers.get(handler, {}).get("permissions", []):
                context = {"aws:RequestedRegion": conf.region}
                if action == "iam:PassRole":
                    context["iam:PassedToService"] = PASSED_TO[type_name]
                resource = role if action.lower().startswith("iam:") else "*"
                # IAM compares action names without case (S3::Bucket's schema spells one `S3:GetBucketWebsite`);
                # moto's evaluator does not, so the service prefix is asked in the policy's lower case
                service, _, name = action.partition(":")
                asked = f"{service.lower()}:{name}"
                if policy.is_action_permitted(asked, resource, None, context) != PermissionResult.PERMITTED:
                    refused.append(f"{type_name} {handler} {action}")
    return refused


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(CONFIG_FILE)


def test_every_type_the_templates_use_has_its_schema() -> None:
    assert sorted(t for t in template_types() if not (SCHEMAS / f"{t.replace('::', '-')}.json").is_file()) == []
    for type_name in template_types():
        assert schema_of(type_name)["typeName"] == type_name
        assert schema_of(type_name)["handlers"], type_name


@pytest.mark.parametrize("stage", ["qa", "staging", "prod"])
def test_the_execution_role_allows_every_handler_permission_of_the_templates_resources(
    settings: Settings, stage: str
) -> None:
    document = policy_document(settings, stage, CLOUDFORMATION_EXECUTION)
    assert missing(document, settings, stage) == []


def test_a_policy_without_one_needed_action_is_caught(settings: Settings) -> None:
    # Given the execution role's policy without ecs:CreateService (a service could then not be created)
    document = copy.deepcopy(policy_document(settings, "qa", CLOUDFORMATION_EXECUTION))
    for statement in document["Statement"]:
        if isinstance(statement["Action"], list) and "ecs:CreateService" in statement["Action"]:
            statement["Action"].remove("ecs:CreateService")
    # Then the check names the type, the handler and the action
    assert missing(document, settings, "qa") == ["AWS::ECS::Service create ecs:CreateService"]


def test_passing_a_role_to_another_service_or_in_another_account_is_refused(settings: Settings) -> None:
    conf = settings.stage("qa")
    policy = IAMPolicy(json.dumps(policy_document(settings, "qa", CLOUDFORMATION_EXECUTION)))
    role = f"arn:aws:iam::{conf.account_id}:role/commerce-qa-author-TaskRole-ABC123"
    to_lambda = {"aws:RequestedRegion": conf.region, "iam:PassedToService": "lambda.amazonaws.com"}
    assert policy.is_action_permitted("iam:PassRole", role, None, to_lambda) != PermissionResult.PERMITTED
    elsewhere = role.replace(conf.account_id, settings.stage("prod").account_id)
    to_ecs = {"aws:RequestedRegion": conf.region, "iam:PassedToService": "ecs-tasks.amazonaws.com"}
    assert policy.is_action_permitted("iam:PassRole", elsewhere, None, to_ecs) != PermissionResult.PERMITTED
