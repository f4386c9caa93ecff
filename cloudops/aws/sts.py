"""The STS adapter: a signed proof of who holds a set of credentials, and where STS answers."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import boto3

from cloudops.aws.errors import aws_call
from cloudops.aws.session import AccountSession

PROOF_SECONDS = 120  # how long a proof stays good: long enough to answer a form, too short to be worth stealing
GLOBAL_ENDPOINT = "sts.amazonaws.com"


# Where a person's own credentials are named. Only these are looked at: the rest of boto3's default chain ends in
# the EC2 instance metadata service, an address off this machine.
OWN_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")


def own_session(profile: str | None) -> boto3.Session | None:
    """A session with the caller's own credentials: ``profile``, or those the environment names; None without."""
    if profile:
        return boto3.Session(profile_name=profile)
    if not any(os.environ.get(name) for name in OWN_CREDENTIALS):
        return None
    session = boto3.Session()
    return session if session.get_credentials() is not None else None


def identity_proof(session: boto3.Session, region: str, seconds: int = PROOF_SECONDS) -> str:
    """A presigned ``sts:GetCallerIdentity`` request made with ``session``'s credentials (the caller's own):
    whoever sends it to STS learns who signed it, and cannot change it. It holds no secret."""
    with aws_call("signing your AWS identity (sts:GetCallerIdentity)", fix="check your AWS credentials or --profile"):
        client = session.client("sts", region_name=region)
        url: str = client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=seconds, HttpMethod="GET")
    return url


def caller_arn(profile: str | None, region: str) -> str | None:
    """The ARN of the caller's own credentials (see :func:`own_session`); None when there are none."""
    session = own_session(profile)
    if session is None:
        return None
    with aws_call("asking STS who you are (sts:GetCallerIdentity)", fix="check your AWS credentials or --profile"):
        arn: str = session.client("sts", region_name=region).get_caller_identity()["Arn"]
    return arn


def trusted_endpoints(account: AccountSession) -> frozenset[str]:
    """The hosts an identity proof may be sent to: the STS the account's own clients use (and AWS's global STS)."""
    own = urlsplit(str(account.client("sts").meta.endpoint_url)).netloc
    return frozenset({own} if account.endpoint_url else {own, GLOBAL_ENDPOINT, f"sts.{account.region}.amazonaws.com"})
