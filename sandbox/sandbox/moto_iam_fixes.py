"""moto's IAM authorization, on in the sandbox (moto started with ``INITIAL_NO_AUTH_ACTION_COUNT=0``), and what it
needs to check the pipeline's least-privilege roles (cloudops/templates/policies/) as AWS would.

With authorization on, moto checks every request's SigV4 signature against the caller's secret and the action
against the caller's IAM policies (an assumed role's: the role's). Five fixes, read in moto 5.2.5's
``moto/iam/access_control.py`` and ``moto/core/authorization.py``; nothing else of moto changes:

1. **The sandbox's base credentials.** Every account is reached by assuming a role with the sandbox's base key
   (``SANDBOX_ACCESS_KEY_ID``). moto draws access keys at random, and refuses a key no IAM user has; so at start
   the fix gives the base user ``cloudops-sandbox`` of moto's default account (the management account) exactly
   that key, with a policy that lets it assume the ``cloudops-*`` roles and nothing else.
2. **Each account's bootstrap role.** ``cloudops-sandbox`` in every stage account
   (``CLOUDOPS_MOTO_IAM_ACCOUNTS``), trusted by the base user, allowed everything: the account's administrator,
   which the sandbox sets each account up with (``cloudops sandbox up``) and the tests look with. An assumed role
   whose role does not exist is an error in moto, so the roles exist before the first request.
3. **Resources.** moto evaluates a statement's ``Resource`` for S3 (and for IAM roles, STS's AssumeRole and SQS
   queues); for every other service it checks the action against ``"*"``, which a statement scoped to ARNs never
   matches: a least-privilege policy would deny every ECS, RDS or CloudFormation call. Where moto knows no
   resource, the fix lets a statement's ``Resource`` match: actions are enforced for every service, resources
   for those moto knows. NOTE: that a policy's ARNs keep a role to its own account is shown with moto's own
   evaluator on the resources' ARNs (sandbox/sandbox_tests/test_least_privilege.py).
4. **Presigned requests** (an approver's identity proof, cloudops/identity.py) carry their credential in the query
   string, and moto's authorization reads it from the ``Authorization`` header only (a ``KeyError``: HTTP 500).
   ``sts:GetCallerIdentity`` is allowed to every caller, on AWS as in moto, so such a request is let through to
   it; NOTE: its signature is not checked (sandbox/sandbox/moto_sts_fixes.py).
5. **SecureStrings under a customer managed key.** On AWS, SSM encrypts and decrypts a SecureString whose key is
   not SSM's default key (``alias/aws/ssm``) with the caller's own KMS rights: a caller needs ``kms:Encrypt`` on
   the key to write one and ``kms:Decrypt`` to read it decrypted, with ``kms:ViaService`` set to SSM's endpoint.
   moto checks only the SSM action; the fix checks the KMS one too, on the key's ARN, with that context key. So a
   role with ``ssm:GetParameter`` but no ``kms:Decrypt`` on the account's key (the status reader) gets
   ``AccessDenied`` for the database passwords, as on AWS.

Every refusal is logged (``cloudops-iam: denied <principal> <action> <resource>``, in moto's log), so a missing
permission is found by its name; with ``CLOUDOPS_MOTO_IAM_LOG`` set, every decision is appended to that file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, IAMRequestBase, PermissionResult
from moto.iam.models import AccessKey, iam_backends
from moto.kms.models import kms_backends
from moto.ssm.models import ssm_backends

from sandbox.moto_env import IAM_ACCOUNTS_ENV
from sandbox.state import (
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_BASE_USER,
    SANDBOX_BASE_USER_ARN,
    SANDBOX_MANAGEMENT_ACCOUNT,
    SANDBOX_ROLE_NAME,
    SANDBOX_SECRET_ACCESS_KEY,
)

ACCOUNTS_ENV = IAM_ACCOUNTS_ENV
DECISIONS_ENV = "CLOUDOPS_MOTO_IAM_LOG"
LOG = logging.getLogger("sandbox.moto_iam")
_decisions_lock = threading.Lock()

_check_action_permitted = IAMRequestBase.check_action_permitted
_check_element_matches = IAMPolicyStatement._check_element_matches
_authenticate_and_authorize_action = ActionAuthenticatorMixin._authenticate_and_authorize_action


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


BASE_USER_POLICY = policy(
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/cloudops-*"},
)
ADMINISTRATOR_POLICY = policy({"Effect": "Allow", "Action": "*", "Resource": "*"})


TRUSTING_THE_BASE_USER = policy(
    {"Effect": "Allow", "Principal": {"AWS": SANDBOX_BASE_USER_ARN}, "Action": "sts:AssumeRole"}
)


def ensure_base_user() -> None:
    """The base user of the management account, with the sandbox's base key and only the right to assume roles."""
    backend = iam_backends[SANDBOX_MANAGEMENT_ACCOUNT]["aws"]
    if SANDBOX_BASE_USER not in backend.users:
        backend.create_user(region_name="us-east-1", user_name=SANDBOX_BASE_USER)
    user = backend.get_user(SANDBOX_BASE_USER)
    user.put_policy("assume-cloudops-roles", BASE_USER_POLICY)
    if SANDBOX_ACCESS_KEY_ID not in backend.access_keys:
        key = AccessKey(SANDBOX_BASE_USER, prefix="AKIA", account_id=SANDBOX_MANAGEMENT_ACCOUNT)  # type: ignore[abstract]
        key.access_key_id = SANDBOX_ACCESS_KEY_ID
        key.secret_access_key = SANDBOX_SECRET_ACCESS_KEY
        user.access_keys.append(key)
        backend.access_keys[SANDBOX_ACCESS_KEY_ID] = key


def ensure_role(account_id: str, name: str, trust: str, permissions: str, policy_name: str) -> None:
    """Role ``name`` in ``account_id`` with trust policy ``trust`` and the one inline policy ``permissions``."""
    backend = iam_backends[account_id]["aws"]
    role = next((r for r in backend.roles.values() if r.name == name), None)
    if role is None:
        role = backend.create_role(
            role_name=name,
            assume_role_policy_document=trust,
            path="/",
            permissions_boundary=None,
            description="",
            tags=[],
            max_session_duration=None,
        )
    role.assume_role_policy_document = trust
    role.put_policy(policy_name, permissions)


def ensure_sandbox_principals(accounts: list[str]) -> None:
    ensure_base_user()
    for account_id in accounts:
        ensure_role(account_id, SANDBOX_ROLE_NAME, TRUSTING_THE_BASE_USER, ADMINISTRATOR_POLICY, "administrator")


def record(outcome: str, principal: str, action: str, resource: str) -> None:
    line = f"cloudops-iam: {outcome} {principal} {action} {resource}"
    if outcome == "denied":
        LOG.warning(line)
    path = os.environ.get(DECISIONS_ENV)
    if path:
        with _decisions_lock, open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def check_action_permitted(self: Any, resource: str) -> None:
    principal = str(self._access_key.arn)
    try:
        _check_action_permitted(self, resource)
    except Exception:
        record("denied", principal, self._action, resource)
        raise
    record("allowed", principal, self._action, resource)


def check_element_matches(self: Any, statement_element: Any, value: str) -> bool:
    if statement_element == "Resource" and value == "*":
        return True  # moto knows no resource for this call: the statement's action decides
    return bool(_check_element_matches(self, statement_element, value))


def authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    presigned = "Authorization" not in self.headers and "X-Amz-Credential" in self.querystring
    if presigned and self._get_action() == "GetCallerIdentity":
        return
    _authenticate_and_authorize_action(self, iam_request_cls, resource)
    if type(self).__module__.startswith("moto.ssm.") and "Authorization" in self.headers:
        for action, key_arn in secure_string_keys(self):
            check_kms_through_ssm(self, iam_request_cls, action, key_arn)


SSM_READS = {"GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory"}
SSM_DEFAULT_KEY = "alias/aws/ssm"


def secure_string_keys(response: Any) -> list[tuple[str, str]]:
    """The KMS action and the key ARN of each customer managed key an SSM request encrypts or decrypts with."""
    action = response._get_action()
    request = json.loads(response.body or "{}")
    kms = kms_backends[response.current_account][response.region]
    if action == "PutParameter" and request.get("Type") == "SecureString":
        key = request.get("KeyId") or SSM_DEFAULT_KEY
        return [] if key == SSM_DEFAULT_KEY else [("kms:Encrypt", key_arn(kms, key))]
    if action not in SSM_READS or not request.get("WithDecryption"):
        return []
    stored = ssm_backends[response.current_account][response.region]._parameters
    names = [request["Name"]] if "Name" in request else list(request.get("Names", []))
    if "Path" in request:
        prefix = request["Path"].rstrip("/") + "/"
        names = [name for name in dict.keys(stored) if name.startswith(prefix)]
    keys = set()
    for name in names:
        versions = dict.get(stored, name.split(":", 1)[0])  # without a version or label selector
        key = versions[-1].keyid if versions and versions[-1].parameter_type == "SecureString" else None
        if key is not None and key != SSM_DEFAULT_KEY:
            keys.add(key_arn(kms, key))
    return [("kms:Decrypt", arn) for arn in sorted(keys)]


def key_arn(kms: Any, key: str) -> str:
    try:
        return str(kms.describe_key(key).arn)
    except Exception:  # an unknown key: SSM's own answer (moto's) says so
        return key


def check_kms_through_ssm(response: Any, iam_request_cls: type, action: str, key: str) -> None:
    """The caller's policies allow ``action`` on ``key`` as KMS evaluates a call SSM makes for it."""
    request = iam_request_cls(
        account_id=response.current_account,
        method=response.method,
        path=response.raw_path,
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=action.split(":", 1)[1],
    )
    request._action = action
    principal = str(request._access_key.arn)
    context = {"kms:ViaService": f"ssm.{response.region}.amazonaws.com"}
    results = [
        IAMPolicy(document).is_action_permitted(action, key, incoming_condition_values=context)
        for document in request._access_key.collect_policies()
    ]
    if PermissionResult.DENIED in results or PermissionResult.PERMITTED not in results:
        record("denied", principal, action, key)
        request._raise_access_denied()
    record("allowed", principal, action, key)


def apply() -> None:
    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
    IAMPolicyStatement._check_element_matches = check_element_matches  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize_action  # type: ignore[method-assign]


def prepare_from_environment() -> None:
    """The base user and the accounts' bootstrap roles, before the first request (after moto's state is loaded)."""
    accounts = [a for a in os.environ.get(ACCOUNTS_ENV, "").split(",") if a]
    ensure_sandbox_principals(accounts)
