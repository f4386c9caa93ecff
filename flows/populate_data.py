"""populate-data (the Data Population tool): apply an environment's data sets to a MySQL database."""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger

from blocks.loading import load_block
from blocks.mysql_server import MySqlServer
from cloudops import datapop, packaging
from flows.package import package as package_flow
from tasks.datapop import apply_data_sets
from tasks.images import unpack_package
from tasks.stages import open_pipeline


@flow(name="populate-data", log_prints=False)
def populate_data(
    environment: Literal["author", "live"] = "author",
    server: str = "sandbox-mariadb",
    database: str = "",
    create: bool = True,
    ref: str = "HEAD",
    package: packaging.Package | None = None,
) -> datapop.PopulateReport:
    """Apply the data sets of ``environment`` from the release's package to a database on ``server``.

    Args:
        environment: Which data sets to apply besides the common ones: author or live.
        server: The CloudOps MySQL Server block to connect with (an RDS endpoint, a dev container, the sandbox's).
        database: The database's name (leave empty: <application>_<environment>).
        create: Create the database when it is missing.
        ref: The git ref of the application whose data sets to apply, when no package is given.
        package: The package a parent run built (leave empty: the package of ``ref``, built if missing).
    """
    logger = get_run_logger()
    block = load_block(MySqlServer, server)
    pipeline = open_pipeline()
    app, account = pipeline.application, pipeline.build.account
    if package is None:
        package = package_flow(ref=ref)
    context = unpack_package(account, package)
    target = datapop.MySqlTarget(
        host=block.host,
        port=block.port,
        user=block.user,
        password=block.password,
        database=database or f"{app.name}_{environment}",
    )
    report = apply_data_sets(target, context / app.datasets, environment, create)
    logger.info(
        "%s: applied %s; already there: %s",
        target,
        ", ".join(report.applied) or "nothing",
        ", ".join(report.already) or "nothing",
    )
    return report
