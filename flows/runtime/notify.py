"""Notifications through the Prefect notification block named in the configuration (`notifications.block`).

A failed or crashed run of a pipeline flow and a release waiting for approval send one message each, with
the release, the stage and a link to the run in the Prefect UI. Nothing is sent when no block is
configured. A notification that cannot be sent is logged as a warning and never fails the pipeline.
The message carries flow parameters and the error message only: no block, credential or secret value.
"""

from __future__ import annotations

import inspect
from typing import Any

from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import FlowRunContext
from prefect.flows import Flow, FlowStateHook
from prefect.logging import get_logger
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect.utilities.urls import url_for

from cloudops.errors import CloudOpsError, ConfigurationError
from cloudops.settings import load_settings

logger = get_logger("cloudops.notify")


def run_link(flow_run_id: str | None) -> str:
    """The run's page in the Prefect UI (PREFECT_UI_URL), or a note saying why there is none."""
    if not flow_run_id:
        return "(no flow run)"
    return url_for("flow-run", obj_id=flow_run_id) or f"flow run {flow_run_id} (set PREFECT_UI_URL for a link)"


def configured_block() -> str | None:
    """The `<type slug>/<name>` of the configured notification block, or None."""
    try:
        return load_settings().notifications.block
    except ConfigurationError as error:
        logger.warning("no notification sent: %s", error)
        return None


def send(subject: str, body: str) -> bool:
    """Send through the configured block; whether a message went out."""
    name = configured_block()
    if name is None:
        return False
    try:
        block = Block.load(name)
    except ValueError:
        logger.warning(
            "no notification sent: there is no notification block %r; create it in the Prefect UI (Blocks) "
            "or change notifications.block in cloudops.toml",
            name,
        )
        return False
    if not isinstance(block, NotificationBlock):
        logger.warning("no notification sent: block %r is not a notification block; name one that is", name)
        return False
    try:
        with block.raise_on_failure():
            sending = block.notify(body=body, subject=subject)
            if inspect.isawaitable(sending):  # a block whose notify exists only as a coroutine
                run_coro_as_sync(sending)
    except Exception as error:  # a notification never fails the pipeline
        logger.warning("notification through %r failed: %s: %s", name, type(error).__name__, error)
        return False
    return True


def _release_and_stage(parameters: dict[str, Any]) -> tuple[str, str]:
    release = parameters.get("version") or parameters.get("ref") or "-"
    stage = parameters.get("stage") or parameters.get("to_stage") or "-"
    return str(release), str(stage)


def _error_of(state: State[Any]) -> str:
    try:
        result = state.result(raise_on_failure=False)
    except Exception as error:  # the result itself may be unreadable (e.g. a crash)
        result = error
    if isinstance(result, BaseException):
        text = str(result) if isinstance(result, CloudOpsError) else f"{type(result).__name__}: {result}"
        return text
    return state.message or state.name or "unknown error"


def failure_message(flow_name: str, flow_run: FlowRun, state: State[Any]) -> tuple[str, str]:
    """The subject and body of a failed (or crashed) run's notification."""
    release, stage = _release_and_stage(flow_run.parameters)
    what = "crashed" if state.is_crashed() else "failed"
    subject = f"cloudops: {flow_name} {what} (release {release}, stage {stage})"
    body = "\n".join(
        [
            f"Flow {flow_name} {what}: run {flow_run.name}.",
            f"Release: {release}",
            f"Stage: {stage}",
            f"Error: {_error_of(state)}",
            f"Run: {run_link(str(flow_run.id))}",
        ]
    )
    return subject, body


def notify_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Hook for `on_failure` / `on_crashed`: one message per failed run.

    A subflow leaves the message to the run that called it (its failure fails that run too), so one failure
    makes one message, from the outermost run, whose parameters and link are those a person started.
    """
    if flow_run.parent_task_run_id is not None:
        return
    subject, body = failure_message(flow.name, flow_run, state)
    if send(subject, body):
        logger.info("sent notification: %s", subject)


FAILURE_HOOKS: list[FlowStateHook[..., Any]] = [notify_failure]


def notify_pending_approval(
    version: str, stage: str, next_stages: list[str] | None = None, digests: dict[str, str] | None = None
) -> bool:
    """Tell the notification block that ``version`` waits for approval in ``stage``, with a link to the
    waiting run (the current flow run). Whether a message went out."""
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    subject = f"cloudops: release {version} waits for approval in {stage}"
    lines = [
        f"Release {version} is deployed in {stage} and waits for approval.",
        f"Release: {version}",
        f"Stage: {stage}",
    ]
    if next_stages:
        lines.append(f"Approving lets it go to: {', '.join(next_stages)}")
    lines += [f"  {name} {digest}" for name, digest in (digests or {}).items()]
    lines.append(f"Approve or reject: {run_link(run_id)}")
    return send(subject, "\n".join(lines))
