"""Who a run acts for, as the audit trail names it."""

from __future__ import annotations

from prefect.context import FlowRunContext


def run_actor(started_by: str = "") -> str:
    """Who acts: ``started_by`` when given, else whoever created the flow run (a user, a deployment, an
    automation) when the server knows, else the flow run itself."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if started_by:
        return started_by
    if run is None:
        return "(outside a flow run)"
    creator = run.created_by
    if creator is not None and creator.display_value:
        kind = (creator.type or "").lower()
        return f"{creator.display_value}{f' ({kind})' if kind else ''} via flow-run:{run.id}"
    return f"flow-run:{run.id}"
