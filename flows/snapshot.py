"""snapshot (CreateRdsSnapshotAuthor / CreateRdsSnapshotLive): the release's Author and Live database snapshots."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_table_artifact

from blocks.instance_databases import load_instance_databases
from cloudops import packaging, snapshots
from flows.package import package as package_flow
from tasks.images import unpack_package
from tasks.snapshots import snapshot_environment
from tasks.stages import open_pipeline

ENVIRONMENTS = ("author", "live")


@flow(name="snapshot", log_prints=False)
def snapshot(
    ref: str = "HEAD",
    package: packaging.Package | None = None,
    share_with: list[str] | None = None,
    instance_class: str = "db.t3.medium",
) -> dict[str, snapshots.SnapshotRecord]:
    """Snapshot the populated Author and Live databases, in parallel, and share them with the stage accounts.

    Where the instances keep their data comes from the configuration's ``rds_databases`` (RDS itself on AWS).

    Args:
        ref: The git ref of the application whose data sets to snapshot, when no package is given.
        package: The package a parent run built (leave empty: the package of ``ref``, built if missing).
        share_with: The stages whose accounts may restore the snapshots (leave empty: every stage but build).
        instance_class: The RDS instance class of the temporary instances populated and snapshotted.
    """
    pipeline = open_pipeline()
    settings, app, account = pipeline.settings, pipeline.application, pipeline.build.account
    stages = (
        share_with if share_with is not None else [s for s in settings.promotion_order() if s != settings.build_stage]
    )
    account_ids = [settings.stage(stage).account_id for stage in stages]
    databases = load_instance_databases(settings.rds_databases)
    if package is None:
        package = package_flow(ref=ref)
    context = unpack_package(account, package)
    futures = {
        environment: snapshot_environment.submit(
            account,
            databases,
            app.name,
            environment,
            package.manifest.version,
            context / app.datasets,
            account_ids,
            instance_class,
        )
        for environment in ENVIRONMENTS
    }
    records = {environment: future.result() for environment, future in futures.items()}
    create_table_artifact(
        key="snapshots",
        table=[
            {
                "environment": r.environment,
                "snapshot": r.identifier,
                "shared with": ", ".join(r.shared_with),
                "from": r.from_snapshot or "(empty)",
                "taken now": "yes" if r.created else "no",
            }
            for r in records.values()
        ],
        description=f"Database snapshots of {app.name} {package.manifest.version}",
    )
    return records
