"""The AWS boundary sorts failures: throttling, 5xx and dropped connections are transient, the rest permanent.

No server here. NOTE: the stubbed answers come from botocore's Stubber at the adapter boundary (the clients an
adapter gets from its AccountSession) because moto cannot be made to throttle or answer 5xx on demand; every
other test of the adapters runs against moto server.
"""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, WaiterError
from botocore.stub import Stubber

from cloudops.aws import ec2, rds, s3, ssm
from cloudops.aws.errors import aws_call, translate
from cloudops.aws.session import AccountSession, verify_account
from cloudops.errors import AwsError, AwsTransientError, CredentialsError, TransientError
from tasks.retry import is_transient, retry_transient

ACCOUNT_ID = "111111111111"
REGION = "eu-west-1"
# Nothing listens here: a stub that is not hit fails to connect rather than reach anything real.
NOWHERE = "http://127.0.0.1:9"


def offline_account(**clients: Any) -> AccountSession:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return AccountSession(ACCOUNT_ID, REGION, session, NOWHERE, _clients=dict(clients))


@pytest.fixture
def account() -> AccountSession:
    return offline_account()


@pytest.fixture
def stub(account: AccountSession) -> Iterator[dict[str, Stubber]]:
    """A Stubber per service, on the very clients the adapters get from ``account``."""
    stubbers: dict[str, Stubber] = {}
    for service in ("ssm", "ec2", "s3", "rds", "sts"):
        stubbers[service] = Stubber(account.client(service))
        stubbers[service].activate()
    # the client of the writes made once (cloudops/aws/ssm.py's put_parameter)
    stubbers["ssm/once"] = Stubber(account.client("ssm", retried=False))
    stubbers["ssm/once"].activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


class FailedState:
    """Enough of a Prefect state for ``retry_transient``: its result re-raises the task's exception."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def result(self) -> None:
        raise self.error


def client_error(code: str, status: int, operation: str = "GetParameter") -> ClientError:
    response = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(cast(Any, response), operation)


def test_a_throttled_ssm_read_is_transient_and_retried(account: AccountSession, stub: dict[str, Stubber]) -> None:
    stub["ssm"].add_client_error(
        "get_parameter", service_error_code="ThrottlingException", service_message="Rate exceeded"
    )
    with pytest.raises(AwsTransientError, match="reading SSM parameter /x.*ThrottlingException") as caught:
        ssm.get_parameter(account, "/x")
    assert is_transient(caught.value)
    assert retry_transient(None, None, FailedState(caught.value))


@pytest.mark.reliability("fault", "an AWS API answering 503", "the call is retried as transient")
def test_a_503_is_transient(account: AccountSession, stub: dict[str, Stubber]) -> None:
    stub["ec2"].add_client_error("describe_vpcs", service_error_code="Unavailable", http_status_code=503)
    with pytest.raises(AwsTransientError, match="default VPC of account 111111111111.*HTTP 503") as caught:
        ec2.default_vpc(account)
    assert isinstance(caught.value, TransientError)
    assert retry_transient(None, None, FailedState(caught.value))


def test_a_slow_down_from_s3_is_transient(account: AccountSession, stub: dict[str, Stubber]) -> None:
    stub["s3"].add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
    with pytest.raises(AwsTransientError, match="writing s3://bucket/key"):
        s3.put_object(account, "bucket", "key", b"{}", "application/json")


@pytest.mark.reliability("fault", "an AWS API answering a validation error", "it fails at once, not retried")
def test_a_validation_error_is_permanent_and_not_retried(account: AccountSession, stub: dict[str, Stubber]) -> None:
    stub["ssm/once"].add_client_error(
        "put_parameter", service_error_code="ValidationException", service_message="bad name", http_status_code=400
    )
    with pytest.raises(AwsError, match="writing SSM parameter /x.*ValidationException: bad name") as caught:
        ssm.put_parameter(account, "/x", "value")
    assert not isinstance(caught.value, TransientError)
    assert not is_transient(caught.value)
    assert not retry_transient(None, None, FailedState(caught.value))


def test_access_denied_names_the_permission_and_is_not_retried(
    account: AccountSession, stub: dict[str, Stubber]
) -> None:
    stub["rds"].add_client_error("describe_db_snapshots", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(AwsError, match="snapshots account 111111111111 sees.*permission for DescribeDBSnapshots") as e:
        rds.visible_snapshot_arns(account)
    assert not is_transient(e.value)


def test_a_throttled_account_check_is_transient_but_refused_keys_are_not(
    account: AccountSession, stub: dict[str, Stubber]
) -> None:
    stub["sts"].add_client_error("get_caller_identity", service_error_code="Throttling", http_status_code=400)
    stub["sts"].add_client_error("get_caller_identity", service_error_code="InvalidClientTokenId", http_status_code=403)
    with pytest.raises(AwsTransientError, match="block 'aws-qa': sts:GetCallerIdentity failed"):
        verify_account(account, where="block 'aws-qa'")
    with pytest.raises(CredentialsError, match="renew or correct the keys of block 'aws-qa'") as caught:
        verify_account(account, where="block 'aws-qa'")
    assert not is_transient(caught.value)


def test_the_adapters_own_answers_stay(account: AccountSession, stub: dict[str, Stubber]) -> None:
    stub["ssm"].add_client_error("get_parameter", service_error_code="ParameterNotFound", http_status_code=400)
    stub["ssm"].add_client_error("put_parameter", service_error_code="ParameterAlreadyExists", http_status_code=400)
    stub["ec2"].add_response("describe_vpcs", {"Vpcs": []})
    stub["s3"].add_client_error("head_object", service_error_code="404", http_status_code=404)
    stub["s3"].add_response("list_buckets", {"Buckets": []})  # ensure_bucket looks first
    stub["s3"].add_client_error("create_bucket", service_error_code="BucketAlreadyExists", http_status_code=409)
    stub["rds"].add_client_error("describe_db_snapshots", service_error_code="DBSnapshotNotFound", http_status_code=404)

    assert ssm.get_parameter(account, "/aws/service/none") is None
    assert ssm.create_secure_string(account, "/cloudops/qa/app/author/db-password", "secret", "alias/cloudops") is False
    assert ec2.default_vpc(account) is None
    assert s3.object_exists(account, "bucket", "key") is False
    assert rds.get_snapshot(account, "nope") is None
    with pytest.raises(AwsError, match="bucket taken belongs to another AWS account"):
        s3.ensure_bucket(account, "taken")


def test_a_throttled_upload_is_transient(account: AccountSession, stub: dict[str, Stubber], tmp_path: Path) -> None:
    package = tmp_path / "package.tar.zst"
    package.write_bytes(b"not really zstd")
    stub["s3"].add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
    # boto3's transfer manager wraps the ClientError in S3UploadFailedError, keeping only its text and context
    with pytest.raises(AwsTransientError, match="uploading package.tar.zst to s3://bucket/packages/x"):
        s3.upload_file(account, package, "bucket", "packages/x", "application/zstd", {"digest": "sha256:0"})


def test_an_unreachable_endpoint_is_transient() -> None:
    # A port that is bound but not listening refuses connections, and stays ours for the test's duration.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        client = session.client(
            "ssm", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1, "mode": "standard"})
        )
        account = offline_account(ssm=client)
        with pytest.raises(AwsTransientError, match="connection to AWS failed") as caught:
            ssm.get_parameter(account, "/x")
    assert is_transient(caught.value)


def test_botocore_connection_errors_and_transfer_wrappers_are_transient() -> None:
    assert isinstance(translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "x"), AwsTransientError)
    # boto3's download_file raises it with s3transfer's last socket error, whatever its stubs say
    exhausted = RetriesExceededError(last_exception=cast(Any, OSError("connection reset")))
    assert isinstance(translate(exhausted, "downloading"), AwsTransientError)
    try:
        try:
            raise client_error("SlowDown", 503, "PutObject")
        except ClientError as inner:
            raise S3UploadFailedError(f"Failed to upload: {inner}") from None
    except S3UploadFailedError as wrapped:
        # boto3 keeps the ClientError only as the wrapper's context; `from None` hides it, it does not drop it
        assert isinstance(translate(wrapped, "uploading"), AwsTransientError)
    waited = WaiterError(name="x", reason="Max attempts exceeded", last_response={"Error": {"Code": "Throttling"}})
    assert isinstance(translate(waited, "waiting"), AwsTransientError)
    stuck = WaiterError(name="x", reason="Max attempts exceeded", last_response=cast(Any, {"DBInstances": []}))
    assert type(translate(stuck, "waiting")) is AwsError


def test_aws_call_passes_our_errors_and_other_exceptions_through() -> None:
    with pytest.raises(AwsError, match="^mine$"), aws_call("x"):
        raise AwsError("mine")
    with pytest.raises(KeyError), aws_call("x"):
        raise KeyError("not an AWS error")
    with pytest.raises(AwsTransientError, match="x failed: AWS answered InternalError"), aws_call("x"):
        raise client_error("InternalError", 500)


@pytest.mark.parametrize("error", [AwsTransientError("throttled; worth a retry"), AwsError("denied; grant it")])
def test_the_errors_survive_pickling(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
