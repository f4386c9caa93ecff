"""moto server with four fixes where its CloudFormation differs from AWS on the path our deploy takes.

Both are bugs in moto 5.2.5 (the newest release), read in its source; nothing else of moto changes:

1. Stack outputs after a change set. ``create_change_set`` makes the stack of a ``CREATE`` change set from
   an empty template (``Stack(template={})``), so its output map is built from nothing, and
   ``execute_change_set`` applies the resources without building it again (only ``UpdateStack`` does, in
   ``Stack.update``). A stack made or changed through a change set shows no ``Outputs`` (or its first
   template's), where CloudFormation shows those of the template it executed. The fix does after
   ``ExecuteChangeSet`` what ``Stack.update`` does: parse the executed template, keep its parameters, build
   the output map and the exports from it.
2. A task definition updated by a stack. ``TaskDefinition.create_from_cloudformation_json`` turns the
   template's ``ContainerDefinitions`` and ``Volumes`` into the API's camelCase keys;
   ``update_from_cloudformation_json`` registers them as written (``Image``, ``Name`` ...), so the new
   revision has no image at all. The fix turns the keys the same way before moto's own update runs.
3. ``!Ref`` of an ``AWS::EFS::AccessPoint``. The model has no ``physical_resource_id``, so the reference
   resolves to the object's repr; CloudFormation gives the access point id (``fsap-...``).
4. A resource whose ``Condition`` is false (the HTTPS listener of a stage with ``tls = false``). moto lists it
   among the stack's resources as ``None``, so ``DescribeStackResource`` of any resource after it, and
   ``DescribeStackResources``, fail with a server error; CloudFormation lists only what it created.

What stays as moto has it (the tests carry a ``NOTE``): a service whose task definition is replaced keeps
the old revision (CloudFormation modifies it), and a failed resource does not roll the stack back.

The fixes the sandbox's runtimes need, in the same process, are beside these: ``moto_ecs_fixes`` (the ECS runtime,
ecs_runtime/) and ``moto_rds_fixes`` (the RDS runtime, rds_runtime/, which runs each stage
account's RDS instances as MariaDB servers); ``moto_bootstrap_fixes``, for the bootstrap stack's bucket, roles
and managed policies; ``moto_scaling_fixes``, for a stack's Application Auto Scaling; ``moto_sts_fixes``, for
presigned STS requests (identity proofs); ``moto_iam_fixes``, for IAM authorization (on in the sandbox: every
call is checked against its role's policy); and ``moto_simulator_fixes``, for IAM's policy simulator.

Run as ``python -m sandbox.moto_fixes -H 127.0.0.1 -p PORT`` (the arguments of ``moto.server``).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.core.utils import pascal_to_camelcase, remap_nested_keys
from moto.ecs.models import TaskDefinition
from moto.efs.models import AccessPoint
from moto.server import main

from sandbox import (
    moto_bootstrap_fixes,
    moto_ecs_fixes,
    moto_iam_fixes,
    moto_logs_fixes,
    moto_rds_fixes,
    moto_scaling_fixes,
    moto_simulator_fixes,
    moto_state,
    moto_sts_fixes,
)
from sandbox.ecs_runtime import run_tasks as ecs_run_tasks
from sandbox.ecs_runtime import runtime as ecs_runtime
from sandbox.rds_runtime import runtime as rds_runtime

_execute_change_set = CloudFormationBackend.execute_change_set
_update_task_definition = TaskDefinition.update_from_cloudformation_json


def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    _execute_change_set(self, change_set_name, stack_name)
    change_set = self.change_sets.get(change_set_name) or next(
        c for c in self.change_sets.values() if c.change_set_name == change_set_name
    )
    stack = self.stacks[change_set.stack_id]
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    if change_set.parameters:
        stack.parameters = change_set.parameters
    stack.output_map = stack._create_output_map()
    for export in stack.exports:
        self.exports[export.name] = export


def update_task_definition(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = dict(cloudformation_json["Properties"])
    for key in ("ContainerDefinitions", "Volumes"):
        properties[key] = remap_nested_keys(properties.get(key, []), pascal_to_camelcase)
    updated = _update_task_definition(
        original_resource=original_resource,
        new_resource_name=new_resource_name,
        cloudformation_json={**cloudformation_json, "Properties": properties},
        account_id=account_id,
        region_name=region_name,
    )
    if updated.arn != original_resource.arn:
        moto_ecs_fixes.follow_new_task_definition(account_id, region_name, original_resource.arn, updated.arn)
    return updated


def access_point_id(self: Any) -> str:
    return str(self.access_point_id)


def created_resources(self: Any) -> list[Any]:
    return [resource for resource in self.resource_map.values() if resource is not None]


PATCHES: list[tuple[type, str, object]] = [
    (CloudFormationBackend, "execute_change_set", execute_change_set),
    (TaskDefinition, "update_from_cloudformation_json", classmethod(update_task_definition)),
    (AccessPoint, "physical_resource_id", property(access_point_id)),
    (Stack, "stack_resources", property(created_resources)),
]
for owner, name, fixed in PATCHES:
    setattr(owner, name, fixed)
moto_bootstrap_fixes.apply()
moto_ecs_fixes.apply()
ecs_run_tasks.apply()
moto_logs_fixes.apply()
moto_rds_fixes.apply()
moto_scaling_fixes.apply()
moto_sts_fixes.apply()
moto_iam_fixes.apply()
moto_simulator_fixes.apply()

if __name__ == "__main__":
    keep_state = moto_state.keep_from_environment()  # before the first request and the runtime's first read
    moto_iam_fixes.prepare_from_environment()  # the base user and the bootstrap roles, into the loaded state
    ecs_runtime.start_from_environment()
    rds_runtime.start_from_environment()
    try:
        main()
    finally:
        keep_state()
