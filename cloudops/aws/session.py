"""One session factory per AWS account.

An :class:`AccountCredentials` says how to reach one account: static keys or a profile, optionally a
role to assume, an endpoint override for the sandbox. :func:`open_account` turns it into an
:class:`AccountSession`: a ``boto3.Session`` whose credentials refresh themselves (a long run never
fails on an expired role token), with the region always explicit, checked with
``sts:GetCallerIdentity`` to belong to the account it claims.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from botocore.loaders import Loader
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from cloudops.aws import call_gate
from cloudops.aws.errors import CONNECTION_ERRORS, is_transient_client_error, translate
from cloudops.bounded_cache import BoundedCache
from cloudops.errors import AccountMismatchError, AwsError, CredentialsError

if TYPE_CHECKING:
    from types_boto3_sts.client import STSClient

ROLE_SESSION_SECONDS = 3600
# Accounts opened for a flow run, reused by its subflows and tasks in this process: the role is assumed
# and the account checked once per run, not once per step (each costs STS calls and new clients). Bounded,
# so a long-lived process (a test session, a served flow) keeps only the latest runs' sessions.
OPENED_PER_PROCESS = 16
# Retries inside botocore for throttling and 5xx; the task layer retries what is left.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)
ONCE = Config(retries={"mode": "standard", "total_max_attempts": 1})


class AccountCredentials(BaseModel):
    """How to reach one AWS account. Secrets are ``SecretStr``: never in a log or a ``repr``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = Field(min_length=1)
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    profile_name: str | None = None
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
    external_id: SecretStr | None = None
    role_session_name: str = Field(default="cloudops", pattern=r"^[\w+=,.@-]{2,64}$")
    endpoint_url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AccountCredentials:
        if self.profile_name and (self.aws_access_key_id or self.aws_secret_access_key):
            raise ValueError("give either static keys or a profile name, not both")
        if bool(self.aws_access_key_id) != bool(self.aws_secret_access_key):
            raise ValueError("static keys need both aws_access_key_id and aws_secret_access_key")
        return self


@dataclass(frozen=True)
class AccountSession:
    """A verified session for one account; clients come from here, never from module globals."""

    account_id: str
    region: str
    session: boto3.Session
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # A boto3 Session is not thread-safe while it makes clients; concurrent tasks share this one.
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def client(self, service: str, *, retried: bool = True) -> Any:
        """A client of ``service`` in this account and region (one per service, reused; clients are thread-safe).

        ``retried=False``: a client that makes each call once, for a write that must not happen twice (a retry of a
        call whose answer was lost would do it again); its caller checks what happened before trying again."""
        key = service if retried else f"{service}/once"
        with self._lock:
            if key not in self._clients:
                config = CLIENT_CONFIG if retried else CLIENT_CONFIG.merge(ONCE)
                if service == "s3" and self.endpoint_url:
                    config = config.merge(Config(s3={"addressing_style": "path"}))
                client = self.session.client(  # type: ignore[call-overload]  # a runtime name
                    service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
                )
                client.meta.events.register("before-send", call_gate.before_send(self.account_id))
                self._clients[key] = client
            return self._clients[key]


def role_session_name(prefix: str, run_id: str | None) -> str:
    """The role session name: the prefix and the flow run id, so CloudTrail ties each call to its run."""
    name = f"{prefix}-{run_id}" if run_id else prefix
    return re.sub(r"[^\w+=,.@-]", "-", name)[:64]


_opened: BoundedCache[tuple[AccountCredentials, str], AccountSession] = BoundedCache(OPENED_PER_PROCESS)


def open_account(credentials: AccountCredentials, *, where: str, run_id: str | None = None) -> AccountSession:
    """A session for the account, checked to be that account. ``where`` names it in errors.

    Within a run (``run_id`` given) the same credentials give the same session, opened and checked once;
    without one, every call opens and checks anew.
    """
    if run_id is None:
        return _open(credentials, where=where, run_id=None)
    # one run's concurrent tasks open an account once
    return _opened.get((credentials, run_id), lambda: _open(credentials, where=where, run_id=run_id))


# botocore parses a service's model (JSON, megabytes for EC2) once per session that makes a client of it:
# about 1 s for the seven services of an account on this machine. Every session here shares one loader, so
# a process parses each model once, whatever the number of accounts (a release opens four).
_LOADER = Loader()
_LOADER_LOCK = threading.Lock()


def _boto3_session(core: botocore.session.Session | None = None, **kwargs: Any) -> boto3.Session:
    """A boto3 session on ``core`` (a new botocore session if None) whose service models come from ``_LOADER``."""
    core = core or botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    with _LOADER_LOCK:
        session = boto3.Session(botocore_session=core, **kwargs)
        # boto3 adds its own data folder to the loader's search path at every session: once is enough.
        _LOADER.search_paths[:] = list(dict.fromkeys(_LOADER.search_paths))
    return session


def _open(credentials: AccountCredentials, *, where: str, run_id: str | None) -> AccountSession:
    try:
        base = _boto3_session(
            aws_access_key_id=credentials.aws_access_key_id,
            aws_secret_access_key=_reveal(credentials.aws_secret_access_key),
            aws_session_token=_reveal(credentials.aws_session_token),
            profile_name=credentials.profile_name,
            region_name=credentials.region,
        )
        if credentials.profile_name is not None and credentials.profile_name not in base.available_profiles:
            # boto3 finds a missing profile while making its own loader; with the shared one, it is found here
            raise ProfileNotFound(profile=credentials.profile_name)
    except ProfileNotFound:
        raise CredentialsError(
            f"{where}: AWS profile {credentials.profile_name!r} does not exist; create it with "
            "`aws configure --profile ...` or set static keys instead"
        ) from None
    session = base
    if credentials.role_arn:
        session = _assume_role_session(base, credentials, role_session_name(credentials.role_session_name, run_id))
    account = AccountSession(credentials.account_id, credentials.region, session, credentials.endpoint_url)
    verify_account(account, where=where)
    return account


def verify_account(account: AccountSession, *, where: str) -> None:
    """Raise :class:`AccountMismatchError` unless the session's credentials are the claimed account's."""
    sts: STSClient = account.client("sts")
    try:
        actual = sts.get_caller_identity()["Account"]
    except NoCredentialsError:
        raise CredentialsError(
            f"{where}: no AWS credentials found; set static keys, a profile or a role on {where}"
        ) from None
    except ClientError as error:
        if is_transient_client_error(error):  # STS throttled or failed: the credentials may be fine
            raise translate(error, f"{where}: sts:GetCallerIdentity") from None
        raise CredentialsError(
            f"{where}: AWS refused the credentials ({error.response['Error'].get('Code')}: "
            f"{error.response['Error'].get('Message')}); renew or correct the keys of {where}"
        ) from None
    except CONNECTION_ERRORS as error:
        raise translate(error, f"{where}: sts:GetCallerIdentity") from None
    except BotoCoreError as error:
        raise AwsError(f"{where}: cannot reach AWS STS ({error}); check the endpoint and network") from None
    if actual != account.account_id:
        raise AccountMismatchError(account.account_id, actual, where)


def _assume_role_session(base: boto3.Session, credentials: AccountCredentials, name: str) -> boto3.Session:
    assert credentials.role_arn is not None
    sts = base.client(
        "sts", region_name=credentials.region, endpoint_url=credentials.endpoint_url, config=CLIENT_CONFIG
    )
    role_arn = credentials.role_arn

    def refresh() -> dict[str, str]:
        kwargs: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": name,
            "DurationSeconds": ROLE_SESSION_SECONDS,
        }
        if credentials.external_id is not None:
            kwargs["ExternalId"] = credentials.external_id.get_secret_value()
        try:
            issued = sts.assume_role(**kwargs)["Credentials"]
        except ClientError as error:
            if is_transient_client_error(error):
                raise translate(error, f"assuming role {role_arn}") from None
            raise CredentialsError(
                f"cannot assume role {role_arn} ({error.response['Error'].get('Code')}: "
                f"{error.response['Error'].get('Message')}); check the role's trust policy and external id"
            ) from None
        except NoCredentialsError:
            raise CredentialsError(
                f"no base credentials to assume role {role_arn} with; set static keys or a profile"
            ) from None
        expiry: datetime = issued["Expiration"]
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": expiry.isoformat(),
        }

    refreshable = RefreshableCredentials.create_from_metadata(
        metadata=refresh(), refresh_using=refresh, method="sts-assume-role"
    )
    core = botocore.session.get_session()
    core._credentials = refreshable  # type: ignore[attr-defined]  # botocore's documented way to hand a session refreshable credentials
    core.set_config_variable("region", credentials.region)
    return _boto3_session(core, region_name=credentials.region)


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
