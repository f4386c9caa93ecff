"""Automations that prefect.yaml cannot express (its triggers can only run their own deployment).

``rerun-crashed``: a deployed cloudops run whose process died (killed, out of memory: no task retry ran) is
scheduled again, the same run with the same parameters, for a worker to pick up, once its worker has reported
the exit; every step is idempotent, so it finishes what the crashed run started. Bounded: the trigger fires once
per flow run and then ignores that run for ``RERUN_WINDOW``, so a run that keeps crashing is rerun once.

``rerun-ecs-crashed``: the same for a run of the ECS pool, whose task prefect-aws's observer saw stop early.

``crash-silent-runs``: a run whose machine died cannot report its crash; once it has sent no heartbeat
for ``SILENCE`` (runs send one every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds, set for the process pool
in prefect.yaml), it is marked Crashed, which ``rerun-silent`` then schedules again (once). Paused and
suspended runs (an approval waiting for days) send none and are left alone.

Create or update them against the server in PREFECT_API_URL (after ``prefect deploy --all``)::

    uv run python -m deployments.automations
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from deployments.ecs_work_pool import ECS_WORK_POOL

RERUN_CRASHED = "cloudops-rerun-crashed"
RERUN_SILENT = "cloudops-rerun-silent"
RERUN_ECS_CRASHED = "cloudops-rerun-ecs-crashed"
# How prefect-aws's observer words the crash of a run whose task's container exited (observers/ecs.py)
ECS_CRASH_MESSAGE = "The following containers stopped with a non-zero exit code"
RERUN_WINDOW = timedelta(days=7)
RERUN_STATE_NAME = "AwaitingRerun"
CRASH_SILENT = "cloudops-crash-silent-runs"
SILENCE = timedelta(seconds=120)
SILENCE_MESSAGE = f"No heartbeat for {SILENCE.seconds} s: the run's process or machine died"
# Both only for runs of a deployment (a worker can pick them up again) carrying the project's tag.
CLOUDOPS_TAG = ResourceSpecification({"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.cloudops"})


def rerun(reason: str) -> ChangeFlowRunState:
    return ChangeFlowRunState(
        state=StateType.SCHEDULED,
        name=RERUN_STATE_NAME,
        message=f"Rerun by the cloudops automations: {reason}",
        force=True,  # Crashed is a final state; the rerun moves it back on purpose
    )


def rerun_crashed() -> AutomationCore:
    """Schedule a run of a cloudops deployment again whose process died, once the worker has said so; at most
    once per run within RERUN_WINDOW.

    It waits for the worker's ``prefect.worker.executed-flow-run`` event with a non-zero exit code (the engine
    exits 0 after any outcome it reported itself, a failure included): acting on the Crashed state instead, the
    rerun would be scheduled before a process worker is done reporting (its flow-run executor reports the crash
    first, the worker a moment later), and the worker's report would crash the rerun for good.
    """
    return AutomationCore(
        name=RERUN_CRASHED,
        description=(
            "A deployed cloudops run whose process died (so task retries never ran) is scheduled again with the "
            f"same parameters once its worker has reported it; once per run within {RERUN_WINDOW.days} days."
        ),
        trigger=EventTrigger(
            expect={"prefect.worker.executed-flow-run"},
            match=ResourceSpecification({"prefect.resource.id": "prefect.worker.*"}),
            match_related=[
                ResourceSpecification(
                    {"prefect.resource.role": "flow-run", "prefect.infrastructure.status-code": "!0"}
                ),
                ResourceSpecification({"prefect.resource.role": "deployment"}),
                CLOUDOPS_TAG,
            ],
            for_each={"related:flow-run:prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=RERUN_WINDOW,
        ),
        actions=[rerun("its process died")],
    )


def rerun_crashed_with(
    name: str, description: str, message: str, reason: str, related: list[ResourceSpecification]
) -> AutomationCore:
    """Schedule again a run of a cloudops deployment that went Crashed with ``message`` (a trailing ``*``: any
    message it begins), its related resources matching ``related`` too; at most once per run within
    RERUN_WINDOW."""
    return AutomationCore(
        name=name,
        description=description,
        trigger=EventTrigger(
            expect={"prefect.flow-run.Crashed"},
            match=ResourceSpecification(
                {"prefect.resource.id": "prefect.flow-run.*", "prefect.state-message": message}
            ),
            match_related=[*related, ResourceSpecification({"prefect.resource.role": "deployment"}), CLOUDOPS_TAG],
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=RERUN_WINDOW,
        ),
        actions=[rerun(reason)],
    )


def rerun_ecs_crashed() -> AutomationCore:
    """Schedule again a run of the ECS pool whose task died, once prefect-aws's observer has marked it Crashed (its
    worker reports every task it starts as exit code 0, so rerun-crashed never hears of it); once per run."""
    return rerun_crashed_with(
        RERUN_ECS_CRASHED,
        f"A run of the {ECS_WORK_POOL} pool whose ECS task stopped early (prefect-aws's observer marked it "
        f"Crashed) is scheduled again, once per run in {RERUN_WINDOW.days} days.",
        f"{ECS_CRASH_MESSAGE}*",
        "its ECS task stopped before it ended",
        [ResourceSpecification({"prefect.resource.role": "work-pool", "prefect.resource.name": ECS_WORK_POOL})],
    )


def rerun_silent() -> AutomationCore:
    """Schedule again a run that crash-silent-runs marked Crashed (no worker is left to report it); once per run."""
    return rerun_crashed_with(
        RERUN_SILENT,
        f"A run {CRASH_SILENT} marked Crashed is scheduled again, once per run in {RERUN_WINDOW.days} days",
        SILENCE_MESSAGE,
        "it sent no heartbeat",
        [],
    )


def crash_silent_runs() -> AutomationCore:
    """Mark Crashed a running cloudops run that stopped sending heartbeats (its machine died)."""
    return AutomationCore(
        name=CRASH_SILENT,
        description=f"A running cloudops run with no heartbeat for {SILENCE.seconds} s is marked Crashed.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
                "prefect.flow-run.Paused",
                "prefect.flow-run.Suspended",
            },
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.cloudops"}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=SILENCE,
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=SILENCE_MESSAGE)],
    )


AUTOMATIONS = (rerun_crashed, rerun_ecs_crashed, rerun_silent, crash_silent_runs)


def create_automations() -> dict[str, UUID]:
    """Create each automation, or update the one of the same name: running it twice changes nothing."""
    created: dict[str, UUID] = {}
    with get_client(sync_client=True) as client:
        for make in AUTOMATIONS:
            automation = make()
            existing = client.read_automations_by_name(automation.name)
            if existing:
                client.update_automation(existing[0].id, automation)
                created[automation.name] = existing[0].id
            else:
                created[automation.name] = client.create_automation(automation)
    return created


if __name__ == "__main__":
    for name, automation_id in create_automations().items():
        print(f"automation {name}: {automation_id}")
