"""The lookup service runs and answers in the sandbox: its app behind its load balancer, its authorities filled
into the stage's EFS access point by a one-off ECS task when they changed, its MySQL data kept on EFS."""

from __future__ import annotations

from typing import Any

import pytest

from cloudops import authorities, config_store
from sandbox.sandbox import Sandbox
from tests.http_answers import get_json
from tests.ops_helpers import OpsApp
from tests.polling import eventually

pytestmark = pytest.mark.slow
QA_ACCOUNT = "222222222222"


def test_the_lookup_service_answers_fills_its_authorities_when_they_change_and_keeps_its_data(
    sandbox: Sandbox, app: OpsApp
) -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]
    qa = sandbox.account("qa")
    store = config_store.SsmConfigStore(qa)
    app.copy_images(release, "qa", ["app", "mysql"])

    # Given a deploy of the lookup service in QA
    prerequisites, _service = deploy_environment(stage="qa", version=release.version, kind="lookup-service")
    endpoint = store.get(config_store.path("qa", app.name, "lookup"))["app_endpoint"]

    # Then its app answers behind the load balancer with the release's version (APP_PORT 3000 from lookup.env)
    def answered(path: str) -> dict[str, Any] | None:
        status, body = get_json(f"{endpoint}{path}")
        return body if status == 200 else None

    health = eventually(f"{endpoint}/health answering 200", lambda: answered("/health"), bound=180)
    assert health["version"] == app.built.version
    # and it sees the release's authorities, filled into QA's authorities access point by the one-off task
    listed = eventually(f"{endpoint}/authorities", lambda: answered("/authorities"), bound=30)
    assert [f["path"] for f in listed["authorities"]] == ["countries.csv", "currencies.csv"]
    file_system = prerequisites.outputs["FileSystemId"]
    efs = sandbox.root / "efs"
    folder = efs / QA_ACCOUNT / file_system / "authorities"
    assert sorted(p.name for p in folder.iterdir()) == ["countries.csv", "currencies.csv"]
    assert [p.name for p in efs.iterdir() if (p / file_system).exists()] == [QA_ACCOUNT]  # no other stage's
    first = authorities.recorded(store, "qa", app.name)
    assert first is not None and first.access_point == prerequisites.outputs["AuthoritiesAccessPointId"]
    fill = qa.client("ecs").describe_tasks(cluster="lookup-qa", tasks=[first.task])["tasks"][0]
    assert (fill["lastStatus"], [c["exitCode"] for c in fill["containers"]]) == ("STOPPED", [0])

    # When the same release deploys again, the authorities did not change: no fill task runs
    deploy_environment(stage="qa", version=release.version, kind="lookup-service")
    assert authorities.recorded(store, "qa", app.name) == first
    # When the recorded authorities differ from the release's (another release filled them), the fill runs again
    (folder / "stale.csv").write_text("left by another release\n")
    store.put(authorities.store_path("qa", app.name), {"digest": "sha256:" + "0" * 64})
    deploy_environment(stage="qa", version=release.version, kind="lookup-service")
    again = authorities.recorded(store, "qa", app.name)
    assert again is not None and again.task != first.task and again.digest == first.digest
    assert sorted(p.name for p in folder.iterdir()) == ["countries.csv", "currencies.csv"]  # the stale file gone

    # MySQL keeps its data on the database access point: initialised on the empty folder, kept across a
    # teardown of the service and a new deploy (a new task on the same folder)
    database = efs / QA_ACCOUNT / file_system / "database"
    eventually("MySQL's data directory on EFS", lambda: (database / "mysql").is_dir() or None, bound=60)
    marker = database / "commerce" / "kept.marker"
    eventually("the commerce database on EFS", lambda: marker.parent.is_dir() or None, bound=60)
    marker.write_text("a row's worth\n")
    teardown_environment(stage="qa", kind="lookup-service", confirm="qa/lookup-service")
    deploy_environment(stage="qa", version=release.version, kind="lookup-service")
    endpoint = store.get(config_store.path("qa", app.name, "lookup"))["app_endpoint"]
    assert eventually(f"{endpoint}/health after the redeploy", lambda: answered("/health"), bound=180)
    assert marker.read_text() == "a row's worth\n" and (database / "mysql").is_dir()
    # the stack's name is the stage's (not the application's): other tests deploy it too
    teardown_environment(stage="qa", kind="lookup-service", confirm="qa/lookup-service")
