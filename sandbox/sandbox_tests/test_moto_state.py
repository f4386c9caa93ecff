"""moto's state survives a stop and a start (what `cloudops sandbox down` and `up` do to it): a real moto server
of the sandbox is stopped with SIGTERM, started again, and still holds every account's resources."""

from __future__ import annotations

import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from sandbox.moto_env import STATE_ENV
from sandbox.processes import spawn, stop
from tests.polling import eventually

STACK = """
Resources:
  Cluster: {Type: "AWS::ECS::Cluster", Properties: {ClusterName: kept}}
  Logs: {Type: "AWS::Logs::LogGroup", Properties: {LogGroupName: /kept}}
Outputs:
  ClusterName: {Value: !Ref Cluster}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Moto:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.pid = folder, free_port(), 0
        self.state = folder / "moto-state.pickle"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "sandbox.moto_fixes", "-H", "127.0.0.1", "-p", str(self.port)]
        env = {"PATH": "/usr/bin:/bin", STATE_ENV: str(self.state)}
        self.pid = spawn(command, self.folder / "moto.log", env=env)
        eventually("moto answering", self.answers, bound=60)

    def answers(self) -> bool | None:
        try:
            return httpx.get(f"{self.url}/moto-api/", timeout=2).status_code == 200 or None
        except httpx.HTTPError:
            return None

    def account(self, account_id: str) -> boto3.Session:
        base = boto3.Session(aws_access_key_id="AKIAKEPT", aws_secret_access_key="kept", region_name="eu-west-1")
        role = f"arn:aws:iam::{account_id}:role/kept"
        sts = base.client("sts", endpoint_url=self.url)
        creds = sts.assume_role(RoleArn=role, RoleSessionName="kept")["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name="eu-west-1",
        )


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[Moto]:
    server = Moto(tmp_path)
    server.start()
    yield server
    stop(server.pid)


def test_every_accounts_resources_survive_a_stop_and_a_start(moto: Moto) -> None:
    qa, prod = moto.account("222222222222"), moto.account("444444444444")
    qa.client("s3", endpoint_url=moto.url).create_bucket(
        Bucket="kept-qa", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    qa.client("s3", endpoint_url=moto.url).put_object(Bucket="kept-qa", Key="config/author.env", Body=b"A=1\n")
    qa.client("ssm", endpoint_url=moto.url).put_parameter(Name="/kept/password", Value="s3cret", Type="SecureString")
    qa.client("ssm", endpoint_url=moto.url).add_tags_to_resource(
        ResourceType="Parameter", ResourceId="/kept/password", Tags=[{"Key": "stage", "Value": "qa"}]
    )
    qa.client("cloudformation", endpoint_url=moto.url).create_stack(StackName="kept", TemplateBody=STACK)
    prod.client("ssm", endpoint_url=moto.url).put_parameter(Name="/kept/password", Value="other", Type="SecureString")
    # a KMS key holds a private key pickle cannot take as it is (every bootstrap stack makes one)
    kms = qa.client("kms", endpoint_url=moto.url)
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signed = kms.sign(KeyId=key, Message=b"release", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]

    # When the server is told to stop, as `sandbox down` tells it
    stop(moto.pid)
    assert moto.state.is_file() and stat.S_IMODE(moto.state.stat().st_mode) == 0o600  # it holds the secrets
    assert "moto state: saved" in (moto.folder / "moto.log").read_text()
    moto.start()

    # Then everything is back, each in its own account
    qa, prod = moto.account("222222222222"), moto.account("444444444444")
    body = qa.client("s3", endpoint_url=moto.url).get_object(Bucket="kept-qa", Key="config/author.env")["Body"]
    assert body.read() == b"A=1\n"
    qa_ssm = qa.client("ssm", endpoint_url=moto.url)
    assert qa_ssm.get_parameter(Name="/kept/password", WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    tags = qa_ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/kept/password")["TagList"]
    assert tags == [{"Key": "stage", "Value": "qa"}]
    prod_value = prod.client("ssm", endpoint_url=moto.url).get_parameter(Name="/kept/password", WithDecryption=True)
    assert prod_value["Parameter"]["Value"] == "other"
    kms = qa.client("kms", endpoint_url=moto.url)
    verified = kms.verify(KeyId=key, Message=b"release", Signature=signed, SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert verified["SignatureValid"]
    (stack,) = qa.client("cloudformation", endpoint_url=moto.url).describe_stacks(StackName="kept")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "ClusterName", "OutputValue": "kept"}]
    ecs = qa.client("ecs", endpoint_url=moto.url)
    assert [c["clusterName"] for c in ecs.describe_clusters(clusters=["kept"])["clusters"]] == ["kept"]
    assert prod.client("s3", endpoint_url=moto.url).list_buckets()["Buckets"] == []
    # the stack's resources are the services' own objects, as before the stop: deleting the stack now deletes
    # its log group from the Logs API
    logs = qa.client("logs", endpoint_url=moto.url)
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["/kept"]
    qa.client("cloudformation", endpoint_url=moto.url).delete_stack(StackName="kept")
    assert logs.describe_log_groups()["logGroups"] == []


def test_a_state_file_moto_cannot_read_starts_it_empty_and_says_so(tmp_path: Path) -> None:
    server = Moto(tmp_path)
    server.state.write_bytes(b"not a pickle")
    server.start()
    try:
        assert "could not be loaded; starting empty" in (tmp_path / "moto.log").read_text()
        assert httpx.get(f"{server.url}/moto-api/data.json", timeout=5).status_code == 200
    finally:
        stop(server.pid)
