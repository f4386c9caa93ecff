"""The caps every run on the Prefect server shares (``[limits]`` in cloudops.toml), as Prefect global concurrency
limits: created when missing and kept at the configured value, so that the configuration is what holds."""

from __future__ import annotations

from contextlib import suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from cloudops.stage_slots import registry_limit_name


def ensure_limit(name: str, limit: int, per_second: float | None = None) -> None:
    """Global concurrency limit ``name`` with ``limit`` slots (created, or set to it); with ``per_second``, a rate
    limit: each slot taken comes back on its own, ``per_second`` slots a second (Prefect's slot decay)."""
    with get_client(sync_client=True) as client:
        try:
            found = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it at the same moment
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=limit, slot_decay_per_second=per_second or 0.0)
                )
            return
        decay = per_second or 0.0
        if found.limit != limit or not found.active or (found.slot_decay_per_second or 0.0) != decay:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(limit=limit, active=True, slot_decay_per_second=decay)
            )


def registry_copies_limit(stage: str, copies: int) -> str:
    """The limit of the image copies into ``stage``'s registry, ensured at ``copies``; its name."""
    name = registry_limit_name(stage)
    ensure_limit(name, copies)
    return name
