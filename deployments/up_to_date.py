"""Whether the server's deployments are what prefect.yaml and this checkout would create.

`cloudops deployments create` run again with nothing changed skips `prefect deploy --all` (6.5 s of its 12.6 s
on this machine). What makes a deployment: prefect.yaml, the project's folder (its pull step), Prefect's version,
the code its flows' forms are read from and the stages the forms offer. Their fingerprint, and when each deployment
was last updated, are kept in a Prefect variable on the server once the deployments are created. They are up to
date when the fingerprint is the same and every deployment of prefect.yaml is on the server, updated by nobody
since: one deleted or changed in the UI, or deployed from another checkout, is deployed again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import prefect
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.variables import Variable

FINGERPRINT_VARIABLE = "cloudops-deployments-fingerprint"
CODE_FOLDERS = ("flows", "tasks", "blocks", "cloudops", "deployments")  # the flows and the types of their forms


def fingerprint(project_dir: Path, stages: list[str]) -> str:
    """The hash of what the deployments of ``project_dir`` are made of, their forms offering ``stages``."""
    digest = hashlib.sha256(f"{project_dir.resolve()}\0{prefect.__version__}\0{','.join(stages)}\0".encode())
    files = [project_dir / "prefect.yaml"]
    files += sorted(path for folder in CODE_FOLDERS for path in (project_dir / folder).rglob("*.py"))
    for path in files:
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def deployment_names(project_dir: Path) -> list[str]:
    """The names of prefect.yaml's deployments."""
    document = yaml.safe_load((project_dir / "prefect.yaml").read_text())
    return [str(deployment["name"]) for deployment in document.get("deployments") or []]


def up_to_date(project_dir: Path, stages: list[str]) -> bool:
    """Whether the deployments of ``project_dir`` were created on this server from exactly this checkout, offering
    ``stages``, and are all there as they were left."""
    kept = Variable.get(FINGERPRINT_VARIABLE, default=None)
    if not isinstance(kept, dict) or kept.get("fingerprint") != fingerprint(project_dir, stages):
        return False
    return kept.get("updated") == last_updated(deployment_names(project_dir))


def mark_up_to_date(project_dir: Path, stages: list[str]) -> None:
    """Remember, on the server, that the deployments of ``project_dir`` were just created from this checkout."""
    updated = last_updated(deployment_names(project_dir))
    kept = {"fingerprint": fingerprint(project_dir, stages), "updated": updated}
    Variable.set(FINGERPRINT_VARIABLE, kept, overwrite=True)


def last_updated(names: list[str]) -> dict[str, str]:
    """When each deployment named (any flow's) was last updated, as the server says; the missing left out."""
    with get_client(sync_client=True) as client:
        found = client.read_deployments(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names)))
    return {f"{d.flow_id}/{d.name}": d.updated.isoformat() if d.updated else "" for d in found}
