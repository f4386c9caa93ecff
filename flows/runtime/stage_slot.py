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
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.context import ConcurrencyContext
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import flow_run
from prefect.variables import Variable

from cloudops.settings import WhenBusy, load_settings
from cloudops.stage_slots import StageBusyError, holder_variable, limit_name

P = ParamSpec("P")
R = TypeVar("R")

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


def record_holder(stage: str, run_id: str, run_name: str) -> None:
    """Name the run that has just taken ``stage``'s slot, and its lease: for a run that finds the stage busy, and
    for the watchdog of a killed command (cli/run_watchdog.py), which releases the lease of a run it crashed.

    Prefect's API does not say who holds a global concurrency limit's slot, and the running runs whose
    parameters name the stage are not the answer: a run whose process was killed stays Running for ever.
    """
    record = {"id": run_id, "name": run_name} | ({"lease": lease} if (lease := held_lease()) else {})
    Variable.set(holder_variable(stage), record, overwrite=True)


def held_lease() -> str | None:
    """The lease of the slot this run has just taken: Prefect keeps it in the run's concurrency context (to
    release it should the run be cancelled), the last one acquired last."""
    context = ConcurrencyContext.get()
    return str(context.cleanup_lease_ids[-1]) if context is not None and context.cleanup_lease_ids else None


def forget_holder(stage: str, run_id: str) -> None:
    """Remove ``run_id``'s record, called while it still holds the slot (so no later holder's is removed).

    A record left behind (the API unreachable at that moment) names a run that has ended, which
    :func:`slot_holder` does not name; so a failure here does not hide the error the run ends with.
    """
    try:
        record = Variable.get(holder_variable(stage), default=None)
        if isinstance(record, dict) and record.get("id") == run_id:
            Variable.unset(holder_variable(stage))
    except httpx.HTTPError as error:
        get_run_logger().warning("could not remove the record of stage %s's holder: %s", stage, error)


def slot_holder(stage: str, exclude: str | None) -> tuple[str, ...]:
    """The run that holds ``stage``'s slot, as it recorded itself; none if that run has ended or none is recorded.

    A run that has just taken the slot and not yet recorded itself, or one whose holder took it outside a
    cloudops flow, is not named.
    """
    record = Variable.get(holder_variable(stage), default=None)
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or record["id"] == exclude:
        return ()
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(record["id"]))
        except (ObjectNotFound, ValueError):
            return ()
    if run.state is not None and run.state.is_final():
        return ()
    return (f"flow run {run.name!r} ({run.id})",)


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
            holders = slot_holder(stage, exclude=run_id)
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
        if run_id:
            record_holder(stage, run_id, str(flow_run.get_name()))
        token = _held.set(_held.get() | {stage})
        try:
            yield
        finally:
            _held.reset(token)
            if run_id:
                forget_holder(stage, run_id)  # before the slot is given back


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
