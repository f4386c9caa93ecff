"""The fix that lets moto's server answer a presigned ``sts:GetCallerIdentity`` request, as an approval's identity
proof is (cloudops/identity.py).

moto 5.2.5 finds a request's service, and its caller's access key, only in the ``Authorization`` header. A
presigned request carries both in its query string (``X-Amz-Credential=<key>/<date>/<region>/sts/aws4_request``),
so moto's server took it for S3 (a bucket listing) and, had it reached STS, would have named its default user.
The fix reads the query's credential where the header has none; nothing else of moto changes.

NOTE: moto does not check the signature (it checks none unless its IAM authorization is on), so in the sandbox a
proof naming an access key with a made-up signature is believed; STS on AWS refuses it (HTTP 403).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from moto.core.responses import BaseResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

CREDENTIAL = "X-Amz-Credential"

_infer_service_region_host = DomainDispatcherApplication.infer_service_region_host
_get_access_key = BaseResponse.get_access_key


def query_credential(query_string: str) -> str | None:
    """The ``X-Amz-Credential`` of a presigned request's query string, if it has one."""
    found = parse_qs(query_string).get(CREDENTIAL)
    return found[0] if found else None


def infer_service_region_host(self: Any, environ: dict[str, Any], path: str) -> str | None:
    credential = None if environ.get("HTTP_AUTHORIZATION") else query_credential(environ.get("QUERY_STRING", ""))
    if credential is not None:  # what a header of a request signed the usual way would say
        environ = {**environ, "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={credential}, Signature=-"}
    return _infer_service_region_host(self, environ, path)


def get_access_key(self: BaseResponse) -> str:
    if "Authorization" not in self.headers and self.querystring.get(CREDENTIAL):
        return str(self.querystring[CREDENTIAL][0]).split("/", 1)[0]
    return _get_access_key(self)


def apply() -> None:
    DomainDispatcherApplication.infer_service_region_host = infer_service_region_host  # type: ignore[method-assign]
    BaseResponse.get_access_key = get_access_key  # type: ignore[method-assign]
