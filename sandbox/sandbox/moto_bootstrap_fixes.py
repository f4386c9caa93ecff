"""moto's CloudFormation made to create and update the bootstrap stack (cloudops/bootstrap_template.py) as AWS does.

Read in moto 5.2.5's source, four resource types drop what the stack relies on:

1. ``AWS::S3::Bucket`` creates the bucket with its encryption and tags only: ``ObjectLockEnabled``,
   ``VersioningConfiguration`` and ``PublicAccessBlockConfiguration`` are ignored, so the records' bucket would
   have no Object Lock. The fix applies the three after moto's create (a bucket updated later keeps them: none
   can be turned off in the template once on).
2. ``AWS::IAM::Role``'s update changes the description only: a changed ``AssumeRolePolicyDocument`` (another
   principal or external id) would be kept as it was. The fix writes it, as IAM's UpdateAssumeRolePolicy does.
3. ``AWS::IAM::ManagedPolicy`` has no update and no delete: a policy replaced by a new one (its logical id holds
   its document's hash) stayed attached, so a role kept the rights of every policy it ever had. The fix deletes
   it as CloudFormation does, detached from its roles first; an update in place (a role added or removed) attaches
   and detaches.
4. A resource removed by one update and added again by a later one (a policy changed, then changed back) is not
   created again: ``ResourceMap.update`` deletes a removed resource but keeps it among the stack's parsed
   resources, and the later add finds it there. The fix forgets a resource once deleted, so the add creates it.
5. ``AWS::KMS::Key`` keeps its ``KeyPolicy`` as the template's object, where KMS keeps JSON text: ``DescribeKey``
   and ``GetKeyPolicy`` of the account key then fail with a server error. And it has no update, so a changed key
   policy (a stage added to cloudops.toml) stayed as first created. The fix keeps the text, and an update puts
   the new policy on the key, as CloudFormation does.

Pinned by sandbox/sandbox_tests/test_bootstrap.py (5: and sandbox/sandbox_tests/test_doctor.py, which reads the
build key's policy).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.parsing import ResourceMap
from moto.iam.models import ManagedPolicy, Role, iam_backends
from moto.kms.models import Key
from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

_create_bucket = FakeBucket.create_from_cloudformation_json
_update_role = Role.update_from_cloudformation_json
_update_resources = ResourceMap.update
_create_key = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def create_bucket(
    cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    bucket = _create_bucket(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = cloudformation_json.get("Properties", {})
    backend = s3_backends[account_id][get_partition(region_name)]
    versioning = properties.get("VersioningConfiguration", {}).get("Status")
    if versioning:
        backend.put_bucket_versioning(bucket.name, versioning)
    if str(properties.get("ObjectLockEnabled", "")).lower() == "true":
        bucket.object_lock_enabled = True  # as CreateBucket's ObjectLockEnabledForBucket does
        bucket.versioning_status = "Enabled"
    if "PublicAccessBlockConfiguration" in properties:
        backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    return bucket


def update_role(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    role = _update_role(
        original_resource=original_resource,
        new_resource_name=new_resource_name,
        cloudformation_json=cloudformation_json,
        account_id=account_id,
        region_name=region_name,
    )
    trust = cloudformation_json["Properties"]["AssumeRolePolicyDocument"]
    _iam(account_id, region_name).update_assume_role_policy(
        role.name, trust if isinstance(trust, str) else json.dumps(trust)
    )
    return role


def _iam(account_id: str, region_name: str) -> Any:
    return iam_backends[account_id][get_partition(region_name)]


def _attached_roles(backend: Any, policy: Any) -> set[str]:
    return {role.name for role in backend.roles.values() if policy.arn in role.managed_policies}


def _delete_old_versions(backend: Any, policy: Any) -> None:
    for version in list(policy.versions):
        if not version.is_default:
            backend.delete_policy_version(policy.arn, version.version_id)


def update_managed_policy(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json.get("Properties", {})
    backend = _iam(account_id, region_name)
    backend.create_policy_version(original_resource.arn, json.dumps(properties["PolicyDocument"]), True)
    _delete_old_versions(backend, original_resource)
    wanted = set(properties.get("Roles", []))
    attached = _attached_roles(backend, original_resource)
    for role_name in wanted - attached:
        backend.attach_role_policy(original_resource.arn, role_name)
    for role_name in attached - wanted:
        backend.detach_role_policy(original_resource.arn, role_name)
    return original_resource


def delete_managed_policy(
    cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    backend = _iam(account_id, region_name)
    policy = next((p for p in backend.managed_policies.values() if resource_name in (p.arn, p.name)), None)
    if policy is None:
        return
    for role_name in _attached_roles(backend, policy):
        backend.detach_role_policy(policy.arn, role_name)
    _delete_old_versions(backend, policy)
    backend.delete_policy(policy.arn)


def _policy_text(properties: dict[str, Any]) -> str:
    policy = properties["KeyPolicy"]
    return policy if isinstance(policy, str) else json.dumps(policy)


def create_key(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any) -> Any:
    properties = cloudformation_json["Properties"]
    fixed = {**cloudformation_json, "Properties": {**properties, "KeyPolicy": _policy_text(properties)}}
    return _create_key(cls, resource_name, fixed, *args, **kwargs)


def update_key(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json["Properties"]
    original_resource.policy = _policy_text(properties)
    original_resource.description = properties.get("Description", original_resource.description)
    original_resource.key_rotation_status = properties.get("EnableKeyRotation", original_resource.key_rotation_status)
    return original_resource


def update_resources(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
    delete = self._delete_resource

    def delete_and_forget(parsed: Any, resource_json: dict[str, Any]) -> None:
        delete(parsed, resource_json)
        for name, resource in list(self._parsed_resources.items()):
            if resource is parsed:
                del self._parsed_resources[name]

    self._delete_resource = delete_and_forget
    try:
        _update_resources(self, template, parameters)
    finally:
        del self._delete_resource


def apply() -> None:
    ResourceMap.update = update_resources  # type: ignore[method-assign]
    FakeBucket.create_from_cloudformation_json = classmethod(create_bucket)  # type: ignore[assignment,method-assign]
    Role.update_from_cloudformation_json = classmethod(update_role)  # type: ignore[assignment,method-assign]
    ManagedPolicy.update_from_cloudformation_json = classmethod(update_managed_policy)  # type: ignore[assignment,method-assign]
    ManagedPolicy.delete_from_cloudformation_json = classmethod(delete_managed_policy)  # type: ignore[assignment,method-assign]
    Key.create_from_cloudformation_json = classmethod(create_key)  # type: ignore[assignment,method-assign]
    Key.update_from_cloudformation_json = classmethod(update_key)  # type: ignore[assignment,method-assign]
