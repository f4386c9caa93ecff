"""The template of one stage account's bootstrap stack, ``cloudops-bootstrap``: a pure function of cloudops.toml.

The fixed part (bucket, KMS key, the version parameter) is ``cloudops/templates/bootstrap/account.yaml``; this adds
what follows from the configuration: one ECR repository per image of a release, and the pipeline's roles of the
account (:func:`cloudops.policies.roles_of_stage`), each with the policy of ``cloudops/templates/policies/``
filled in for the stage.

A role's policy goes into customer managed policies of at most :data:`MANAGED_POLICY_LIMIT` characters each (IAM's
limit, white space not counted), attached to it: IAM caps a role's inline policies at 10,240 characters in all,
which the execution role's policy exceeds. Each managed policy's logical id ends in a hash of its document, so a
changed policy is a new resource, attached before the old one is detached and deleted.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

import yaml

from cloudops import flow_run_cluster
from cloudops.elb_log_delivery import region_log_statement
from cloudops.policies import CLOUDFORMATION_EXECUTION, PipelineRole, policy_document, roles_of_stage
from cloudops.settings import Settings

BOOTSTRAP_STACK = "cloudops-bootstrap"
# Raised whenever the stack's template changes in a way a run depends on; every run checks it first.
# 2: the account key lets CloudWatch Logs encrypt the environments' log groups; 3: the access-log bucket and the RDS
# monitoring role
BOOTSTRAP_VERSION = 3
VERSION_PARAMETER = "/cloudops/bootstrap/version"
MANAGED_POLICY_LIMIT = 6144
# What ECR keeps of images no release tag names (the build's layers pushed by a failed run): a backstop only, the
# pipeline's own retention decides about tagged images.
UNTAGGED_IMAGE_DAYS = 14
_DOCUMENT_OVERHEAD = len('{"Version":"2012-10-17","Statement":[]}')


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").replace("/", "-").split("-"))


def policy_chunks(document: dict[str, Any], limit: int = MANAGED_POLICY_LIMIT) -> list[dict[str, Any]]:
    """``document``'s statements packed in order into documents of at most ``limit`` characters each."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = _DOCUMENT_OVERHEAD
    for statement in document["Statement"]:
        length = len(_compact(statement)) + 1
        if _DOCUMENT_OVERHEAD + length > limit:
            raise ValueError(f"policy statement {statement.get('Sid', '?')} alone exceeds IAM's {limit} characters")
        if size + length > limit:
            chunks.append([])
            size = _DOCUMENT_OVERHEAD
        chunks[-1].append(statement)
        size += length
    return [{"Version": document["Version"], "Statement": statements} for statements in chunks]


def trust_policy(role: PipelineRole) -> dict[str, Any]:
    """Who may assume ``role``: its AWS service (the execution role: CloudFormation), else the stack's
    ``TrustedPrincipal``, with the ``ExternalId`` when one is given."""
    if role.service:
        statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": role.service}}
    else:
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": {"Ref": "TrustedPrincipal"}},
            "Condition": {
                "Fn::If": [
                    "HasExternalId",
                    {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
                    {"Ref": "AWS::NoValue"},
                ]
            },
        }
    return {"Version": "2012-10-17", "Statement": [{**statement, "Action": "sts:AssumeRole"}]}


# The one role whose writes go to resources named as they are created: checkov's CKV_AWS_111 asks for ARNs
_UNCONSTRAINED_WRITES = {
    "Metadata": {
        "checkov": {
            "skip": [
                {
                    "id": "CKV_AWS_111",
                    "comment": (
                        "CloudFormation's handlers create resources whose names the stacks generate; each write is "
                        "held to the stage's region by condition, and only CloudFormation may assume the role"
                    ),
                }
            ]
        }
    }
}


def _role_resources(settings: Settings, stage: str, role: PipelineRole) -> dict[str, Any]:
    logical = f"Role{_camel(role.name)}"
    found: dict[str, Any] = {
        logical: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": role.name,
                "Description": role.summary,
                "AssumeRolePolicyDocument": trust_policy(role),
                "MaxSessionDuration": 3600,
            },
        }
    }
    for number, chunk in enumerate(policy_chunks(policy_document(settings, stage, role)), start=1):
        digest = hashlib.sha256(_compact(chunk).encode()).hexdigest()[:8]
        found[f"Policy{_camel(role.name)}{number}x{digest}"] = {
            "Type": "AWS::IAM::ManagedPolicy",
            **(_UNCONSTRAINED_WRITES if role == CLOUDFORMATION_EXECUTION else {}),
            "Properties": {
                "ManagedPolicyName": f"{role.name}-{number}-{digest}",
                "Description": f"{role.name}'s rights ({number}): policies/{role.kind}.json",
                "PolicyDocument": chunk,
                "Roles": [{"Ref": logical}],
            },
        }
    return found


def _repository(name: str) -> dict[str, Any]:
    lifecycle = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"untagged images after {UNTAGGED_IMAGE_DAYS} days (a backstop)",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": UNTAGGED_IMAGE_DAYS,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    return {
        "Type": "AWS::ECR::Repository",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "RepositoryName": name,
            "ImageTagMutability": "IMMUTABLE",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": {"Ref": "Key"}},
            "LifecyclePolicy": {"LifecyclePolicyText": _compact(lifecycle)},
        },
    }


def bootstrap_template(settings: Settings, stage: str, ecs_pool: bool = False) -> dict[str, Any]:
    """The template of ``stage``'s account's bootstrap stack; with ``ecs_pool``, the build account's holds the
    flow-run cluster of the `cloudops-ecs` pool too (:mod:`cloudops.flow_run_cluster`)."""
    text = resources.files("cloudops.templates.bootstrap").joinpath("account.yaml").read_text(encoding="utf-8")
    template: dict[str, Any] = yaml.safe_load(text)
    template["Resources"]["BootstrapVersionParameter"]["Properties"]["Value"] = str(BOOTSTRAP_VERSION)
    template["Outputs"]["BootstrapVersion"]["Value"] = str(BOOTSTRAP_VERSION)
    if stage == settings.build_stage:
        others = [s.account_id for name, s in settings.stages.items() if name != stage]
        if others:
            template["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"].append(
                {
                    "Sid": "TheStagesUseTheSnapshotsItShares",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{account}:root" for account in sorted(set(others))]},
                    "Action": [
                        "kms:Decrypt",
                        "kms:DescribeKey",
                        "kms:CreateGrant",
                        "kms:ReEncryptFrom",
                        "kms:GenerateDataKeyWithoutPlaintext",
                    ],
                    "Resource": "*",
                }
            )
    statement = region_log_statement(settings.stage(stage).region)
    if statement is not None:
        template["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].insert(2, statement)
    for name in settings.repositories:
        template["Resources"][f"Repository{_camel(name)}"] = _repository(name)
    for role in roles_of_stage(settings, stage):
        template["Resources"].update(_role_resources(settings, stage, role))
    if ecs_pool and stage == settings.build_stage:
        conf = settings.stage(stage)
        template["Resources"].update(flow_run_cluster.resources(conf.account_id, conf.region))
        template["Outputs"].update(flow_run_cluster.outputs())
    return template


def bootstrap_parameters(settings: Settings, stage: str, principal: str, external_id: str | None) -> dict[str, str]:
    """The stack's parameters for ``stage``: its bucket, whether it holds the records, who may assume its roles."""
    return {
        "BucketName": settings.stage(stage).bucket,
        "HoldsRecords": "true" if stage == settings.build_stage else "false",
        "TrustedPrincipal": principal,
        "ExternalId": external_id or "",
    }
