"""The stage's slot: a Prefect global concurrency limit per stage (limit 1) around a deploy, teardown or promotion.

A second run into a busy stage waits its turn or is refused at once, as the stage's ``when_busy`` says.
A flow that holds the slot and calls another one for the same stage as a subflow (promote then
deploy-environment) does not take it twice: the stages held are kept in a context variable, which the
subflow, running in the same process and context, sees.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from contextvars import ContextVar
from typing import ParamSpec, TypeVar
from uuid import UUID

import httpx
from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import ConcurrencyLeaseHolder, StateType
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import flow_run

from cloudops.settings import WhenBusy, load_settings
from cloudops.stage_slots import StageBusyError, limit_name

P = ParamSpec("P")
R = TypeVar("R")

# Parameters that name the stage a run changes (promote: to_stage; deploy and teardown: stage).
STAGE_PARAMETERS = ("stage", "to_stage")

# The slot's lease, renewed by Prefect every 3/4 of it while the run lives: a run whose process died frees
# its stage within a minute (the server's shortest lease), so its automatic rerun is not held up long.
LEASE = 60.0

_held: ContextVar[frozenset[str]] = ContextVar("cloudops_stage_slots_held", default=frozenset())


def slot_taken(stage: str) -> bool:
    """Whether ``stage``'s slot is held now; its limit (1 slot) is created first when missing.

    An existing limit is left as the operator set it. Asking first spares a run into a busy stage Prefect's
    ERROR line for a refused acquisition; a run that takes the slot between the two calls is still caught
    by that refusal.
    """
    name = limit_name(stage)
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it at the same moment
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            return False
    return limit.active and limit.active_slots >= limit.limit


def runs_changing(stage: str, exclude: str | None) -> tuple[str, ...]:
    """The running flow runs whose parameters name ``stage``: who holds the slot, as far as the API can tell."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))
            ),
            limit=200,
        )
    return tuple(
        f"flow run {run.name!r} ({run.id})"
        for run in runs
        if str(run.id) != exclude and any(run.parameters.get(key) == stage for key in STAGE_PARAMETERS)
    )


def _locked(error: ConcurrencySlotAcquisitionError) -> bool:
    cause = error.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == httpx.codes.LOCKED


@contextmanager
def stage_slot(stage: str, when_busy: WhenBusy) -> Iterator[None]:
    """Hold ``stage``'s slot for the duration of the block (at once, after waiting, or StageBusyError)."""
    if stage in _held.get():
        yield  # an outer flow of this run already holds it
        return
    logger = get_run_logger()
    run_id = flow_run.get_id()
    holder = ConcurrencyLeaseHolder(type="flow_run", id=UUID(run_id)) if run_id else None
    name = limit_name(stage)
    busy = slot_taken(stage)
    with ExitStack() as stack:
        if not busy:
            try:
                stack.enter_context(concurrency(name, max_retries=0, lease_duration=LEASE, strict=True, holder=holder))
            except ConcurrencySlotAcquisitionError as error:
                if not _locked(error):
                    raise
                busy = True
        if busy:
            holders = runs_changing(stage, exclude=run_id)
            if when_busy == "refuse":
                raise StageBusyError(stage, holders) from None
            logger.info(
                "stage %s is busy (%s): waiting for its slot %s",
                stage,
                ", ".join(holders) or "another run",
                name,
            )
            stack.enter_context(concurrency(name, lease_duration=LEASE, strict=True, holder=holder))
        logger.info("holding stage %s (%s)", stage, name)
        token = _held.set(_held.get() | {stage})
        try:
            yield
        finally:
            _held.reset(token)


def holds_stage(parameter: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated flow function inside the slot of the stage named by its ``parameter``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        # Annotations resolved in the flow's own module: Prefect validates parameters against the signature
        # and would otherwise resolve the flow's string annotations in this module's namespace.
        signature = inspect.signature(fn, eval_str=True)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            stage = str(signature.bind(*args, **kwargs).arguments[parameter])
            with stage_slot(stage, load_settings().stage(stage).when_busy):
                return fn(*args, **kwargs)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]  # read by inspect.signature
        return wrapper

    return decorate
