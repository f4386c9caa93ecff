"""Notifications through a real Prefect Custom Webhook block, pointed at an HTTP server in the test."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prefect import flow
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.runtime import flow_run
from pydantic import SecretStr

from cloudops.errors import CloudOpsError
from flows.runtime.notify import FAILURE_HOOKS, notify_pending_approval
from sandbox.sandbox import Sandbox
from tests.app_source import CONFIG_FILE

TOKEN = "webhook-token-" + uuid.uuid4().hex


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Hook:
    """A local HTTP server that keeps every request it gets."""

    url: str
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
def hook_server() -> Iterator[Hook]:
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(Received(self.path, dict(self.headers), json.loads(self.rfile.read(length))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Hook(f"http://127.0.0.1:{server.server_address[1]}/hooks/cloudops", received)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook(hook_server: Hook, prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> Hook:
    """A saved Custom Webhook block (with a secret token in its header) named in the configuration."""
    name = f"ops-{uuid.uuid4().hex[:8]}"
    CustomWebhookNotificationBlock(
        name="cloudops",
        url=hook_server.url,
        json_data={"subject": "{{subject}}", "text": "{{body}}"},
        headers={"Authorization": "Bearer {{token}}"},
        secrets={"token": TOKEN},  # pydantic makes it a SecretDict
    ).save(name)
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(CONFIG_FILE))
    monkeypatch.setenv("CLOUDOPS_NOTIFICATIONS__BLOCK", f"custom-webhook/{name}")
    return hook_server


def test_a_failed_run_sends_one_message_naming_flow_stage_and_error(webhook: Hook) -> None:
    from flows.teardown_environment import teardown_environment

    with pytest.raises(CloudOpsError, match="teardown of stage 'prod' is not allowed"):
        teardown_environment(stage="prod", kind="author-live", confirm="prod/author-live")

    (message,) = webhook.requests
    assert message.path == "/hooks/cloudops"
    assert message.headers["Authorization"] == f"Bearer {TOKEN}"  # the block's secret went where it belongs
    text = message.body["text"]
    assert message.body["subject"] == "cloudops: teardown-environment failed (release -, stage prod)"
    assert "Flow teardown-environment failed" in text and "Stage: prod" in text
    assert "Error: teardown of stage 'prod' is not allowed by its configuration" in text
    assert "/runs/flow-run/" in text and "http" in text.split("Run: ")[1]
    assert TOKEN not in json.dumps(message.body)


def test_no_secret_of_the_stage_blocks_reaches_the_message(
    webhook: Hook, sandbox: Sandbox, stage_blocks: dict[str, str]
) -> None:
    from blocks.aws_account import AwsAccount
    from flows.deploy_and_rollback import deploy_environment

    with pytest.raises(CloudOpsError, match="no-such-version.json does not exist"):
        deploy_environment(stage="qa", version="no-such-version")

    (message,) = webhook.requests
    sent = json.dumps(message.body)
    assert "Release: no-such-version" in message.body["text"] and "Stage: qa" in message.body["text"]
    secrets = [
        TOKEN,
        sandbox.state.mariadb_password.get_secret_value(),
        *(r.password.get_secret_value() for r in sandbox.state.registries.values()),
    ]
    for stage in sandbox.settings.stages:
        account = AwsAccount.load(stage_blocks[stage])
        secrets += [
            value.get_secret_value()
            for value in vars(account).values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
    assert len(secrets) > 2 + len(sandbox.state.registries)  # the blocks' own secrets are among them
    for secret in secrets:
        assert secret not in sent


def test_a_failing_subflow_makes_one_message_from_the_run_a_person_started(webhook: Hook) -> None:
    from flows.teardown_environment import teardown_environment

    @flow(name="outer-pipeline", on_failure=FAILURE_HOOKS)
    def outer(to_stage: str) -> None:
        teardown_environment(stage=to_stage, kind="single-instance", confirm="nope")

    with pytest.raises(CloudOpsError, match="pass confirm=staging/single-instance"):
        outer(to_stage="staging")
    (message,) = webhook.requests
    assert message.body["subject"] == "cloudops: outer-pipeline failed (release -, stage staging)"
    assert "pass confirm=staging/single-instance; nothing was deleted" in message.body["text"]


def test_without_a_block_nothing_is_sent_and_a_missing_block_never_hides_the_failure(
    hook_server: Hook, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.teardown_environment import teardown_environment

    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(CONFIG_FILE))
    monkeypatch.delenv("CLOUDOPS_NOTIFICATIONS__BLOCK", raising=False)
    with pytest.raises(CloudOpsError, match="teardown of stage 'prod' is not allowed"):
        teardown_environment(stage="prod", confirm="prod/author-live")

    monkeypatch.setenv("CLOUDOPS_NOTIFICATIONS__BLOCK", "custom-webhook/no-such-block")
    with pytest.raises(CloudOpsError, match="teardown of stage 'prod' is not allowed"):
        teardown_environment(stage="prod", confirm="prod/author-live")
    assert hook_server.requests == []


def test_a_pending_approval_sends_the_release_stage_and_a_link_to_the_waiting_run(webhook: Hook) -> None:
    @flow(name="waits-for-approval")
    def waiting() -> tuple[bool, str]:
        sent = notify_pending_approval("1.2.3", "qa", next_stages=["staging"], digests={"app": "sha256:" + "a" * 64})
        return sent, str(flow_run.get_id())

    sent, run_id = waiting()
    assert sent
    (message,) = webhook.requests
    assert message.body["subject"] == "cloudops: release 1.2.3 waits for approval in qa"
    text = message.body["text"]
    assert "Release: 1.2.3" in text and "Stage: qa" in text and "go to: staging" in text
    assert f"/runs/flow-run/{run_id}" in text
    assert "app sha256:aaaa" in text
