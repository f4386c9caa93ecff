"""Stack decisions, and the CloudFormation adapter where moto cannot show AWS's behaviour (botocore Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cloudops.aws import cloudformation
from cloudops.aws.session import AccountSession
from cloudops.stacks import Action, StackError, changes_markdown, decide, first_failure, resource_changes

NOW = datetime.now(UTC)
ROLE = "arn:aws:iam::123456789012:role/cloudops-cloudformation"


def stubbed_account() -> tuple[AccountSession, Stubber]:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-west-1")
    account = AccountSession("222222222222", "eu-west-1", session)
    stubber = Stubber(account.client("cloudformation"))
    return account, stubber


def stack(status: str) -> dict[str, Any]:
    return {"Stacks": [{"StackName": "s", "StackStatus": status, "CreationTime": NOW}]}


def test_what_each_stack_status_means_for_a_deploy() -> None:
    assert decide("s", None, recreate_failed=False) is Action.CREATE
    assert decide("s", "UPDATE_ROLLBACK_COMPLETE", recreate_failed=False) is Action.UPDATE
    assert decide("s", "REVIEW_IN_PROGRESS", recreate_failed=False) is Action.CREATE
    with pytest.raises(StackError, match="is UPDATE_IN_PROGRESS; wait until it finishes"):
        decide("s", "UPDATE_IN_PROGRESS", recreate_failed=False)
    with pytest.raises(StackError, match="deploy again with recreate_failed=true"):
        decide("s", "ROLLBACK_COMPLETE", recreate_failed=False)
    assert decide("s", "ROLLBACK_COMPLETE", recreate_failed=True) is Action.RECREATE
    with pytest.raises(StackError, match="continue-update-rollback"):
        decide("s", "UPDATE_ROLLBACK_FAILED", recreate_failed=True)


def test_replacements_are_flagged_first() -> None:
    rows = resource_changes(
        [
            {
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "AppService",
                    "ResourceType": "AWS::ECS::Service",
                    "Replacement": "False",
                    "Details": [{"Target": {"Name": "TaskDefinition"}}],
                }
            },
            {
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "AppTaskDefinition",
                    "ResourceType": "AWS::ECS::TaskDefinition",
                    "Replacement": "True",
                    "Details": [{"Target": {"Name": "ContainerDefinitions"}}],
                }
            },
        ]
    )
    assert [r.logical_id for r in rows] == ["AppTaskDefinition", "AppService"]
    markdown = changes_markdown("commerce-qa-author", "cs-1", rows)
    assert "**Will replace: AppTaskDefinition**" in markdown
    assert "| Modify | AppService | AWS::ECS::Service | False | TaskDefinition |" in markdown


def test_the_first_failed_resource_explains_a_failure() -> None:
    events = [  # newest first, as DescribeStackEvents returns them
        {"LogicalResourceId": "s", "ResourceStatus": "UPDATE_ROLLBACK_COMPLETE"},
        {
            "LogicalResourceId": "AppService",
            "ResourceStatus": "UPDATE_FAILED",
            "ResourceStatusReason": "Resource update cancelled",
        },
        {
            "LogicalResourceId": "Database",
            "ResourceStatus": "UPDATE_FAILED",
            "ResourceStatusReason": "DB snapshot commerce-live-x not found",
        },
    ]
    assert first_failure(events, "s") == ("Database", "DB snapshot commerce-live-x not found")
    assert first_failure([{"LogicalResourceId": "s", "ResourceStatus": "UPDATE_COMPLETE"}], "s") is None


def test_a_failed_update_rolls_back_and_names_the_resource() -> None:
    # NOTE: moto's CloudFormation does not roll back a failing resource; real CloudFormation rolls the stack
    # back to UPDATE_ROLLBACK_COMPLETE and its events name the resource that failed and why.
    account, stubber = stubbed_account()
    change_set = cloudformation.ChangeSet(stack="s", name="cs", action=Action.UPDATE, changes=())
    during = datetime.now(UTC) + timedelta(seconds=5)  # the events of this update, after it started
    stubber.add_response("execute_change_set", {}, {"StackName": "s", "ChangeSetName": "cs"})
    stubber.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": "s"})  # the waiter
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                {
                    "StackId": "id",
                    "EventId": "3",
                    "StackName": "s",
                    "LogicalResourceId": "s",
                    "Timestamp": during,
                    "ResourceStatus": "UPDATE_ROLLBACK_COMPLETE",
                },
                {
                    "StackId": "id",
                    "EventId": "2",
                    "StackName": "s",
                    "LogicalResourceId": "AppService",
                    "Timestamp": during,
                    "ResourceStatus": "UPDATE_FAILED",
                    "ResourceStatusReason": "ECS Deployment Circuit Breaker was triggered",
                },
            ]
        },
        {"StackName": "s"},
    )
    stubber.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": "s"})
    with stubber, pytest.raises(StackError) as caught:
        cloudformation.execute(account, change_set)
    assert str(caught.value) == (
        "stack s failed (UPDATE_ROLLBACK_COMPLETE): resource AppService failed: "
        "ECS Deployment Circuit Breaker was triggered"
    )


def test_a_change_set_without_changes_is_deleted_and_reported_as_none() -> None:
    account, stubber = stubbed_account()
    stubber.add_response(
        "create_change_set",
        {"Id": "arn:cs", "StackId": "arn:s"},
        {
            "StackName": "s",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "TemplateBody": "{}",
            "Parameters": [],
            "Tags": [],
            "Capabilities": ANY,
            "RoleARN": ROLE,
        },
    )
    stubber.add_response(
        "describe_change_set",
        {
            "Status": "FAILED",
            "ChangeSetName": "cs",
            "StackName": "s",
            "StatusReason": "The submitted information didn't contain changes. Submit different information.",
        },
        {"StackName": "s", "ChangeSetName": ANY},
    )
    stubber.add_response("delete_change_set", {}, {"StackName": "s", "ChangeSetName": ANY})
    with stubber:
        assert cloudformation.create_change_set(account, "s", "{}", {}, {}, Action.UPDATE, ROLE) is None
        stubber.assert_no_pending_responses()


def test_a_template_cloudformation_refuses_is_a_template_error() -> None:
    account, stubber = stubbed_account()
    stubber.add_client_error(
        "validate_template",
        "ValidationError",
        "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template",
        http_status_code=400,
    )
    with (
        stubber,
        pytest.raises(
            cloudformation.TemplateError,
            match="template author-live does not validate: Template format error: Unresolved resource",
        ),
    ):
        cloudformation.validate(account, "{}", "author-live")
