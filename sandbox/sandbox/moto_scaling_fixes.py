"""moto's Application Auto Scaling made to take a stack's scalable targets and scaling policies, as AWS's does.

Read in moto 5.2.5's source; each fix is pinned by sandbox/sandbox_tests/test_moto_scaling_fixes.py:

1. ``AWS::ApplicationAutoScaling::ScalableTarget`` and ``::ScalingPolicy`` in a stack register the target and put
   the policy in moto's Application Auto Scaling (moto's CloudFormation has no model for either and skipped them),
   and the stack's update and deletion change and remove them. A target's ``Ref`` is
   ``<resource id>|<dimension>|<namespace>``, as CloudFormation's is.
2. Registering an ECS service's target brings the service's desired count within the target's minimum and maximum,
   as Application Auto Scaling does; the sandbox's ECS runtime then starts or stops the tasks. (NOTE: nothing in
   the sandbox scales on a metric: moto runs no alarm actions. A desired count set through ``UpdateService``, as
   Application Auto Scaling sets it on AWS, is what the runtime follows, and a later deploy keeps it.)
3. A load balancer's ``LoadBalancerFullName`` and ``CanonicalHostedZoneID`` and a target group's
   ``TargetGroupFullName`` (moto raised for the first two and had no attributes for the third), which a
   request-count policy's ``ResourceLabel`` and a Route 53 alias name.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.ecs.models import ecs_backends
from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup

from sandbox import moto_ecs_fixes


def _backend(account_id: str, region_name: str) -> Any:
    return applicationautoscaling_backends[account_id][region_name]


class StackScalableTarget(CloudFormationModel):
    """A scalable target a stack declares (fixes 1 and 2)."""

    def __init__(self, namespace: str, resource_id: str, dimension: str) -> None:
        self.namespace = namespace
        self.resource_id = resource_id
        self.dimension = dimension

    @property
    def physical_resource_id(self) -> str:
        return f"{self.resource_id}|{self.dimension}|{self.namespace}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalableTarget"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> StackScalableTarget:
        properties = cloudformation_json["Properties"]
        target = cls(properties["ServiceNamespace"], properties["ResourceId"], properties["ScalableDimension"])
        low, high = int(properties["MinCapacity"]), int(properties["MaxCapacity"])
        _backend(account_id, region_name).register_scalable_target(
            target.namespace, target.resource_id, target.dimension, low, high, properties.get("RoleARN", ""), {}
        )
        if target.namespace == "ecs" and target.dimension == "ecs:service:DesiredCount":
            _within(account_id, region_name, target.resource_id, low, high)
        return target

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> StackScalableTarget:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        resource_id, dimension, namespace = resource_name.split("|")
        backend = _backend(account_id, region_name)
        if backend._scalable_target_exists(resource_id, dimension):
            backend.deregister_scalable_target(namespace, resource_id, dimension)


class StackScalingPolicy(CloudFormationModel):
    """A scaling policy a stack declares (fix 1)."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApplicationAutoScaling::ScalingPolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> StackScalingPolicy:
        properties = cloudformation_json["Properties"]
        resource_id, dimension, namespace = str(properties["ScalingTargetId"]).split("|")
        body = dict(
            properties.get("TargetTrackingScalingPolicyConfiguration")
            or properties.get("StepScalingPolicyConfiguration")
            or {}
        )
        if "TargetValue" in body:  # a Number parameter's Ref is a string in a template, a number in the API
            body["TargetValue"] = float(body["TargetValue"])
        policy = _backend(account_id, region_name).put_scaling_policy(
            properties["PolicyName"], namespace, resource_id, dimension, body, properties["PolicyType"]
        )
        return cls(policy.policy_arn)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> StackScalingPolicy:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = _backend(account_id, region_name)
        for key, policy in list(backend.policies.items()):
            if policy.policy_arn == resource_name:
                del backend.policies[key]


def _within(account_id: str, region_name: str, resource_id: str, low: int, high: int) -> None:
    """The ECS service of ``resource_id`` (``service/<cluster>/<service>``) brought to a desired count within
    [low, high], as Application Auto Scaling does when a target is registered."""
    _, cluster, service_name = resource_id.split("/")
    ecs = ecs_backends[account_id][region_name]
    service = ecs.describe_services(cluster, [service_name])[0][0]
    wanted = min(max(int(service.desired_count or 0), low), high)
    if wanted != service.desired_count:
        ecs.update_service({"cluster": cluster, "service": service_name, "desired_count": wanted})
        moto_ecs_fixes.changed()


_load_balancer_attribute = FakeLoadBalancer.get_cfn_attribute


def load_balancer_attribute(self: Any, attribute_name: str) -> Any:
    if attribute_name == "LoadBalancerFullName":
        return str(self.arn).split(":loadbalancer/", 1)[1]
    if attribute_name == "CanonicalHostedZoneID":
        return self.canonical_hosted_zone_id
    return _load_balancer_attribute(self, attribute_name)


def target_group_has_attribute(cls: Any, attr: str) -> bool:
    return attr in ("TargetGroupFullName", "TargetGroupName", "TargetGroupArn", "LoadBalancerArns")


def target_group_attribute(self: Any, attribute_name: str) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name == "TargetGroupFullName":
        return str(self.arn).split(":", 5)[5]
    if attribute_name == "TargetGroupName":
        return self.name
    if attribute_name == "TargetGroupArn":
        return self.arn
    if attribute_name == "LoadBalancerArns":
        return list(self.load_balancer_arns)
    raise UnformattedGetAttTemplateException()


def apply() -> None:
    FakeLoadBalancer.get_cfn_attribute = load_balancer_attribute  # type: ignore[method-assign]
    FakeTargetGroup.has_cfn_attr = classmethod(target_group_has_attribute)  # type: ignore[method-assign,assignment]
    FakeTargetGroup.get_cfn_attribute = target_group_attribute  # type: ignore[attr-defined]
    parsing.get_model_map.cache_clear()  # the two models above, known from now on
