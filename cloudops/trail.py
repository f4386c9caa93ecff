"""The audit trail as a run holds it, and the questions the pipeline asks of it.

A run reads the trail once (:func:`cloudops.audit.entries`) and adds what it records (:meth:`Trail.added`); the
gates (:mod:`cloudops.gates`) and the status decide on what it answers. A stage's history of one environment kind
is a stack of deploys: a deploy of another release pushes it; a redeploy of the release on top changes nothing; a
rollback pops back to its target, so the release it rolled back from is no longer "the one before" (a second
rollback goes further back instead of returning to the release that was just rolled back from).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import overload

from pydantic import BaseModel, ConfigDict

from cloudops.audit import (
    ApprovalEntry,
    AuditEntry,
    DeployEntry,
    PromotionEntry,
    RollbackEntry,
    TeardownEntry,
    VerificationEntry,
)


class Deployed(BaseModel):
    """One release in a stage's history of one environment kind."""

    model_config = ConfigDict(frozen=True)

    version: str
    digests: dict[str, str]
    snapshots: str
    at: datetime
    actor: str
    flow_run_id: str | None
    rolled_back_from: str | None = None


def _deployed(entry: DeployEntry | RollbackEntry, rolled_back_from: str | None = None) -> Deployed:
    return Deployed(
        version=entry.version,
        digests=entry.digests,
        snapshots=", ".join(entry.snapshots) if isinstance(entry, DeployEntry) else "",
        at=entry.at,
        actor=entry.actor,
        flow_run_id=entry.flow_run_id,
        rolled_back_from=rolled_back_from,
    )


class Trail(Sequence[AuditEntry]):
    """Entries oldest first; a sequence of them, with the queries."""

    def __init__(self, entries: Iterable[AuditEntry] = ()) -> None:
        self._entries = tuple(entries)

    @overload
    def __getitem__(self, index: int) -> AuditEntry: ...

    @overload
    def __getitem__(self, index: slice) -> Trail: ...

    def __getitem__(self, index: int | slice) -> AuditEntry | Trail:
        if isinstance(index, slice):
            return Trail(self._entries[index])
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __hash__(self) -> int:
        return hash(self._entries)

    def __repr__(self) -> str:
        return f"Trail({list(self._entries)!r})"

    def added(self, *entries: AuditEntry) -> Trail:
        """This trail with ``entries`` recorded after it."""
        return Trail((*self._entries, *entries))

    def approval_of(self, version: str, stage: str) -> ApprovalEntry | None:
        """The last approval decision recorded for ``version`` in ``stage``."""
        found = [e for e in self if isinstance(e, ApprovalEntry) and e.version == version and e.stage == stage]
        return found[-1] if found else None

    def reusable_approval(self, version: str, stage: str, digests: dict[str, str]) -> ApprovalEntry | None:
        """An approval already recorded for exactly these digests in ``stage``: a re-run of the release does not
        ask again. A later rejection, or an approval of other digests, is not reusable."""
        last = self.approval_of(version, stage)
        return last if last is not None and last.decision == "approved" and last.digests == digests else None

    def verification_of(self, version: str, stage: str, kind: str) -> VerificationEntry | None:
        """The last verification recorded for ``version`` in ``stage``'s environment of kind ``kind``."""
        return self.verifications_of(version, stage).get(kind)

    def verifications_of(self, version: str, stage: str) -> dict[str, VerificationEntry]:
        """The last verification of ``version`` in ``stage``, by environment kind."""
        found: dict[str, VerificationEntry] = {}
        for entry in self:
            if isinstance(entry, VerificationEntry) and entry.version == version and entry.stage == stage:
                found[entry.deploy_kind] = entry
        return found

    def promotion_of(self, version: str, stage: str, digests: dict[str, str]) -> PromotionEntry | None:
        """The last promotion of exactly these digests into ``stage``: a re-run of the release does not promote
        again while what it copied is still there."""
        done = [
            e
            for e in self
            if isinstance(e, PromotionEntry) and e.version == version and e.stage == stage and e.digests == digests
        ]
        return done[-1] if done else None

    def history(self, stage: str, kind: str) -> list[Deployed]:
        """The releases of ``kind`` in ``stage``, oldest first; the last one is deployed now."""
        stack: list[Deployed] = []
        for entry in self:
            if not isinstance(entry, DeployEntry | TeardownEntry | RollbackEntry):
                continue
            if entry.stage != stage or entry.deploy_kind != kind:
                continue
            if isinstance(entry, DeployEntry):
                if not stack or stack[-1].version != entry.version:
                    stack.append(_deployed(entry))
            elif isinstance(entry, TeardownEntry):
                stack.clear()  # nothing runs there any more, and nothing is left to roll back to
            else:
                # the rollback's own deploy pushed its target on top of the release it rolled back from
                done = stack.pop() if stack and stack[-1].version == entry.version else _deployed(entry)
                while stack and stack[-1].version != entry.version:
                    stack.pop()
                if stack:
                    stack.pop()
                stack.append(done.model_copy(update={"rolled_back_from": entry.rolled_back_from}))
        return stack

    def kinds_in(self, stage: str) -> list[str]:
        """The environment kinds ever deployed in ``stage``, in the order they first were."""
        found: list[str] = []
        for entry in self:
            if not isinstance(entry, DeployEntry | RollbackEntry):
                continue
            if entry.stage == stage and entry.deploy_kind and entry.deploy_kind not in found:
                found.append(entry.deploy_kind)
        return found
