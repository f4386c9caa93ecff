"""The pipeline's roles in each sandbox account, with exactly the policies of ``policies/`` (cloudops/policies.py).

Created (or brought up to date) through the account's bootstrap role by ``cloudops sandbox up``; each trusts the
sandbox's base user, as a role on AWS trusts the principal the pipeline's workers run as. moto enforces them:
the sandbox starts it with IAM authorization on (sandbox/moto_iam_fixes.py).
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from cloudops.aws.session import AccountSession
from cloudops.policies import PipelineRole, policy_document, roles_of_stage
from cloudops.settings import Settings
from sandbox.state import SANDBOX_BASE_USER_ARN

POLICY_NAME = "least-privilege"


def trust(role: PipelineRole) -> str:
    """Who may assume ``role``: its AWS service (the execution role: CloudFormation), else the sandbox's base user."""
    principal = {"Service": role.service} if role.service else {"AWS": SANDBOX_BASE_USER_ARN}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def ensure_role(admin: AccountSession, settings: Settings, stage: str, role: PipelineRole) -> bool:
    """Role ``role`` in ``stage``'s account with its policy from ``policies/``; True when it was created."""
    iam = admin.client("iam")
    created = False
    try:
        iam.get_role(RoleName=role.name)
        iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=trust(role))
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=trust(role), Description=role.summary)
        created = True
    document = json.dumps(policy_document(settings, stage, role))
    iam.put_role_policy(RoleName=role.name, PolicyName=POLICY_NAME, PolicyDocument=document)
    return created


def ensure_pipeline_roles(admin: AccountSession, settings: Settings, stage: str) -> list[tuple[str, bool]]:
    """Every pipeline role of ``stage``'s account: (role name, created) each."""
    return [(role.name, ensure_role(admin, settings, stage, role)) for role in roles_of_stage(settings, stage)]
