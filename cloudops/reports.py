"""The markdown artifacts a run leaves in the Prefect UI: what a package, a promotion, a deploy and a rollback did.
Pure functions over the records; the flows only publish them."""

from __future__ import annotations

from cloudops.audit import AuditEntry, VerificationEntry
from cloudops.deploy import StackOutcome
from cloudops.image_copy import CopyReport
from cloudops.packaging import Package
from cloudops.release import Release


def package_markdown(package: Package) -> str:
    return (
        f"### Package {package.manifest.version}\n\n"
        f"| | |\n|---|---|\n| commit | `{package.manifest.commit}` |\n| digest | `{package.digest}` |\n"
        f"| location | `{package.uri}` |\n| size | {package.size} bytes |\n"
        f"| files | {len(package.manifest.files)} |\n| data sets | {', '.join(package.manifest.datasets)} |\n"
        f"| built now | {'yes' if package.uploaded else 'no (it existed)'} |\n"
    )


def promotion_markdown(
    release: Release, from_stage: str, to_stage: str, reports: dict[str, CopyReport], location: str
) -> str:
    """Each image's digest and what its copy moved, and where the audit entry is."""
    rows = "\n".join(
        f"| {n} | `{r.digest}` | {len(r.copied)} | {len(r.present) + len(r.mounted)} |" for n, r in reports.items()
    )
    return (
        f"### {release.id}: {from_stage} -> {to_stage}\n\n| image | digest | blobs copied | already there |\n"
        f"|---|---|---|---|\n{rows}\n\nRecorded at `{location}`.\n"
    )


def deploy_markdown(release: Release, stage: str, kind: str, outcomes: list[StackOutcome]) -> str:
    """Each stack of the deploy: what it did, what it replaced, its endpoint."""
    rows = "\n".join(
        f"| {o.stack} | {o.action} | {'executed' if o.executed else 'no changes'} | "
        f"{', '.join(c.logical_id for c in o.changes if c.replaces) or '-'} | {o.outputs.get('AppEndpoint', '-')} |"
        for o in outcomes
    )
    return (
        f"### {release.id} in {stage} ({kind})\n\n| stack | action | outcome | replaced | endpoint |\n"
        f"|---|---|---|---|---|\n{rows}\n"
    )


def rollback_markdown(
    entry: AuditEntry, kind: str, from_version: str, from_digests: dict[str, str], location: str
) -> str:
    """The images a rollback changed, from which digest to which, and where the audit entry is."""
    reason = f": {entry.comment}" if entry.comment else ""
    return (
        f"### Rollback of {entry.stage} ({kind}): {from_version} -> {entry.version}\n\n"
        f"By {entry.actor}{reason}\n\n| image | from | to |\n|---|---|---|\n"
        + "\n".join(f"| {n} | `{from_digests.get(n, '-')}` | `{d}` |" for n, d in entry.digests.items())
        + f"\n\nRecorded at `{location}`.\n"
    )


def verification_markdown(entry: VerificationEntry, endpoints: dict[str, str]) -> str:
    """A deploy's verification, as the trail keeps it: each check (result, detail, time) and the stage's live
    endpoints as links."""
    outcome = "passed" if entry.passed else "**failed**"
    kind = entry.deploy_kind
    lines = [
        f"### Verification of {entry.version} in {entry.stage} ({kind}): {outcome}",
        "",
        entry.comment,
        "",
        "| check | result | detail | at |",
        "|---|---|---|---|",
        *(
            f"| {markdown_cell(c.name)} | {'passed' if c.passed else '**failed**'} | {markdown_cell(c.detail)} "
            f"| {c.at:%H:%M:%S} |"
            for c in entry.checks
        ),
    ]
    if endpoints:
        lines += ["", "Endpoints:", "", *(f"- {name}: [{url}]({url})" for name, url in endpoints.items())]
    return "\n".join(lines) + "\n"


def markdown_cell(text: str) -> str:
    """``text`` (one line, its pipes escaped) fit for a markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
