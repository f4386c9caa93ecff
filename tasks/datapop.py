"""Tasks of the populate-data flow."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from cloudops import datapop
from tasks.retry import AWS_RETRIES


# retried when the server went away (a DatabaseUnavailableError is transient): each set is one transaction, and
# the sets recorded as applied are not applied again
@task(name="apply-data-sets", cache_policy=NO_CACHE, **AWS_RETRIES)
def apply_data_sets(
    target: datapop.MySqlTarget, datasets: Path, environment: str, create: bool
) -> datapop.PopulateReport:
    """Apply the data sets of ``environment`` (common first) to ``target``, each in one transaction."""
    return datapop.populate(target, datasets, environment, create=create)
