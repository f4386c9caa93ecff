"""sandbox.moto_sts_fixes: the sandbox's moto answers a presigned sts:GetCallerIdentity with its signer's ARN."""

from __future__ import annotations

import httpx
import pytest

from cloudops import identity
from cloudops.aws import sts
from sandbox.sandbox import Sandbox

pytestmark = pytest.mark.slow


def test_a_presigned_caller_identity_names_its_signer(moto_sandbox: Sandbox) -> None:
    qa = moto_sandbox.account("qa")
    client = qa.client("sts")
    proof = client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert "Authorization" not in proof and "X-Amz-Credential=" in proof
    # without the fix moto's server took it for S3 (a bucket listing)
    answer = httpx.get(proof, timeout=10)
    assert answer.status_code == 200 and "GetCallerIdentityResult" in answer.text
    expected = client.get_caller_identity()["Arn"]
    assert ":assumed-role/" in expected and "222222222222" in expected
    assert identity.verify(proof, sts.trusted_endpoints(qa)).arn == expected
    # a request signed the usual way still reaches S3
    assert "Buckets" in qa.client("s3").list_buckets()


def test_a_proof_for_another_host_is_refused_unsent(moto_sandbox: Sandbox) -> None:
    qa = moto_sandbox.account("qa")
    forged = "http://127.0.0.1:9/?Action=GetCallerIdentity&X-Amz-Signature=0"
    with pytest.raises(identity.IdentityError, match=r"the identity proof is not a request to STS \(127.0.0.1:9;"):
        identity.verify(forged, sts.trusted_endpoints(qa))
