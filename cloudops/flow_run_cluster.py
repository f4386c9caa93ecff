"""What the build account holds for flow runs as ECS tasks (prefect-aws's ECS worker on the `cloudops-ecs` pool):
the cluster, the tasks' execution role, their log group, and the EventBridge rule that sends the cluster's task
state changes to the SQS queue prefect-aws's observer reads (it marks a run whose task stopped early Crashed).
``cloudops accounts bootstrap --ecs-pool`` adds them to the build account's bootstrap stack
(:func:`cloudops.bootstrap_template.bootstrap_template`); the Prefect login the tasks get, a secret of the build
account named :data:`AUTH_SECRET`, is the operator's to put there.
"""

from __future__ import annotations

from typing import Any

CLUSTER = "cloudops-flow-runs"
EXECUTION_ROLE = "cloudops-flow-runner-execution"
AUTH_SECRET = "cloudops/prefect-api-auth-string"
EVENTS_QUEUE = "prefect-ecs-tasks-events"  # prefect-aws's observer's default queue name
EVENTS_RULE = "cloudops-flow-run-task-events"
LOG_GROUP = "prefect"
FLOW_RUNNER_REPOSITORY = "flow-runner"
OUTPUT = "FlowRunCluster"  # the bootstrap stack's output that says the pool's part is there


def execution_policy(account_id: str, region: str) -> dict[str, object]:
    """What an ECS agent needs for a flow run's task: its image, its secret, its logs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": f"arn:aws:ecr:{region}:{account_id}:repository/{FLOW_RUNNER_REPOSITORY}",
            },
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": f"arn:aws:secretsmanager:{region}:{account_id}:secret:{AUTH_SECRET}-*",
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:{LOG_GROUP}:*",
            },
        ],
    }


def task_events_pattern(account_id: str, region: str) -> dict[str, Any]:
    cluster_arn = f"arn:aws:ecs:{region}:{account_id}:cluster/{CLUSTER}"
    return {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"], "detail": {"clusterArn": [cluster_arn]}}


def resources(account_id: str, region: str) -> dict[str, Any]:
    """The bootstrap stack's resources of the flow-run cluster, as CloudFormation takes them."""
    queue_arn = f"arn:aws:sqs:{region}:{account_id}:{EVENTS_QUEUE}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return {
        "FlowRunCluster": {
            "Type": "AWS::ECS::Cluster",
            "Properties": {
                "ClusterName": CLUSTER,
                "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
            },
        },
        "FlowRunnerExecutionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": EXECUTION_ROLE,
                "AssumeRolePolicyDocument": trust,
                "Policies": [
                    {"PolicyName": "flow-runner-execution", "PolicyDocument": execution_policy(account_id, region)}
                ],
            },
        },
        "FlowRunLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": LOG_GROUP,
                "RetentionInDays": 30,
                "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]},  # the account's key, which CloudWatch Logs may use
            },
        },
        "FlowRunEventsQueue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_27",
                            "comment": (
                                "encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which EventBridge delivers to "
                                "with no key policy; checkov reads only KmsMasterKeyId"
                            ),
                        }
                    ]
                }
            },
            "Properties": {"QueueName": EVENTS_QUEUE, "MessageRetentionPeriod": 86400, "SqsManagedSseEnabled": True},
        },
        "FlowRunEventsQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "FlowRunEventsQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {
                                "ArnEquals": {
                                    "aws:SourceArn": f"arn:aws:events:{region}:{account_id}:rule/{EVENTS_RULE}"
                                }
                            },
                        }
                    ],
                },
            },
        },
        "FlowRunEventsRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": EVENTS_RULE,
                "EventPattern": task_events_pattern(account_id, region),
                "State": "ENABLED",
                "Targets": [{"Id": "prefect-ecs-observer", "Arn": queue_arn}],
            },
        },
    }


def outputs() -> dict[str, Any]:
    return {
        OUTPUT: {"Value": {"Ref": "FlowRunCluster"}},
        "FlowRunnerExecutionRoleArn": {"Value": {"Fn::GetAtt": ["FlowRunnerExecutionRole", "Arn"]}},
    }
