"""Account sessions against moto server: role assumption per account, verification, refresh."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest
from botocore.credentials import RefreshableCredentials
from pydantic import SecretStr

from cloudops.aws.session import AccountCredentials, open_account, role_session_name
from cloudops.errors import AccountMismatchError, CredentialsError
from sandbox.sandbox import Sandbox


def test_each_stage_session_reaches_its_own_account(moto_sandbox: Sandbox) -> None:
    for stage in moto_sandbox.settings.promotion_order():
        account = moto_sandbox.account(stage)
        identity = account.client("sts").get_caller_identity()
        assert identity["Account"] == moto_sandbox.settings.stage(stage).account_id
        assert account.region == moto_sandbox.settings.stage(stage).region


def test_credentials_of_another_account_are_refused(moto_sandbox: Sandbox) -> None:
    # Given credentials that claim the QA account but assume a role in production
    qa = moto_sandbox.credentials("qa")
    prod_role = moto_sandbox.credentials("prod").role_arn
    wrong = qa.model_copy(update={"role_arn": prod_role})
    # When they are opened, then the mismatch is named with both accounts
    with pytest.raises(AccountMismatchError) as caught:
        open_account(wrong, where="block 'aws-qa'")
    assert caught.value.expected == "222222222222" and caught.value.actual == "444444444444"
    assert "block 'aws-qa' claims AWS account 222222222222" in str(caught.value)
    assert pickle.loads(pickle.dumps(caught.value)).actual == "444444444444"


def test_the_flow_run_id_is_in_the_role_session_name(moto_sandbox: Sandbox) -> None:
    run_id = "0b6c5f43-9f0e-4b53-a0ae-4d3f1f6e2c11"
    account = open_account(moto_sandbox.credentials("qa"), where="qa", run_id=run_id)
    arn = account.client("sts").get_caller_identity()["Arn"]
    assert arn.endswith(f"/cloudops-sandbox-{run_id}")
    assert role_session_name("x" * 70, None) == "x" * 64


def test_role_credentials_refresh_themselves_when_they_expire(moto_sandbox: Sandbox) -> None:
    account = moto_sandbox.account("staging")
    credentials = account.session._session.get_credentials()
    assert isinstance(credentials, RefreshableCredentials)
    first = credentials.get_frozen_credentials().access_key
    # When the token is about to expire, botocore asks STS for a new one before the next call
    credentials._expiry_time = datetime.now(UTC) + timedelta(seconds=30)  # type: ignore[attr-defined]  # no setter
    assert account.client("sts").get_caller_identity()["Account"] == "333333333333"
    assert credentials.get_frozen_credentials().access_key != first


def test_a_missing_profile_is_a_clear_error() -> None:
    credentials = AccountCredentials(account_id="222222222222", region="eu-west-1", profile_name="no-such-profile")
    with pytest.raises(CredentialsError, match="profile 'no-such-profile' does not exist"):
        open_account(credentials, where="block 'aws-qa'")


def test_credentials_need_one_source() -> None:
    with pytest.raises(ValueError, match="either static keys or a profile"):
        AccountCredentials(
            account_id="222222222222",
            region="eu-west-1",
            profile_name="p",
            aws_access_key_id="a",
            aws_secret_access_key=SecretStr("b"),
        )
