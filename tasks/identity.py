"""Verifying who signed an approval's identity proof (cloudops/identity.py), in a task of the approval run."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.pipeline import StageTarget
from cloudops import identity
from cloudops.aws import sts


@task(name="verify-identity", cache_policy=NO_CACHE)
def verify_identity(build: StageTarget, proof: str) -> identity.Identity:
    """The ARN STS gives for ``proof``, sent only to the STS the build account's clients use; no retry: a proof
    STS refused stays refused (and an expired one cannot come back)."""
    return identity.verify(proof, sts.trusted_endpoints(build.account.session()))
