"""Verified identities: who signed an identity proof, as STS itself says, and whether they may approve a stage.

An open Prefect server does not know who resumed a run: the approval form's name is whatever was typed. So
`cloudops approve` sends, with the answer, a presigned ``sts:GetCallerIdentity`` request signed with the
approver's own AWS credentials (cloudops/aws/sts.py); the await-approval run sends it to STS, which answers with
the signer's ARN. Nobody can change the request without breaking its signature, and it stays good for two
minutes only. This is how Vault's AWS auth method and the EKS authenticator establish who calls them.
"""

from __future__ import annotations

import fnmatch
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from cloudops.errors import CloudOpsError

STS_NAMESPACE = "{https://sts.amazonaws.com/doc/2011-06-15/}"
TIMEOUT_SECONDS = 10.0


class IdentityError(CloudOpsError):
    """An identity proof that is not one, or that STS refused."""


@dataclass(frozen=True)
class Identity:
    arn: str
    account: str


def verify(proof: str, trusted_hosts: frozenset[str]) -> Identity:
    """Who signed ``proof``, as STS answers it; :class:`IdentityError` for anything else. It is sent only to a
    host of ``trusted_hosts`` (the STS the pipeline's accounts use): a proof naming another host is refused
    unsent, since whoever runs that host could answer with any ARN."""
    url = urlsplit(proof)
    query = parse_qs(url.query)
    if url.scheme not in ("https", "http") or url.netloc not in trusted_hosts:
        raise IdentityError(
            f"the identity proof is not a request to STS ({url.netloc or 'no host'}; trusted: "
            f"{', '.join(sorted(trusted_hosts))}): answer with `cloudops approve`, which signs your identity"
        )
    if query.get("Action") != ["GetCallerIdentity"] or "X-Amz-Signature" not in query:
        raise IdentityError("the identity proof is not a signed sts:GetCallerIdentity request; use `cloudops approve`")
    try:
        answer = httpx.get(proof, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise IdentityError(f"STS could not be asked who signed the identity proof: {error}; answer again") from None
    if answer.status_code != httpx.codes.OK:
        raise IdentityError(
            f"STS refused the identity proof (HTTP {answer.status_code}): it has expired (proofs last two minutes) "
            "or was not signed by valid credentials; answer again with `cloudops approve`"
        )
    try:
        result = ElementTree.fromstring(answer.text).find(f"{STS_NAMESPACE}GetCallerIdentityResult")
        arn = result.findtext(f"{STS_NAMESPACE}Arn") if result is not None else None
        account = result.findtext(f"{STS_NAMESPACE}Account") if result is not None else None
    except ElementTree.ParseError:
        arn = account = None
    if not arn or not account:
        raise IdentityError("STS's answer to the identity proof names nobody; answer again with `cloudops approve`")
    return Identity(arn=arn, account=account)


def may_approve(arn: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``arn`` matches one of a stage's approver patterns (none: anyone verified may)."""
    return not patterns or any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns)
