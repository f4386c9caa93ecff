"""Faults between the pipeline and the sandbox's servers, put there by a proxy of the project's own on 127.0.0.1
(sandbox/sandbox/fault_proxy.py): throttling, 500 and 503, a connection reset in the middle of an answer, a dropped
request, a slow answer. Each case runs the real operation through the proxy, checks the proxy did cause every
fault it was given, then counts what was written: nothing lost, nothing twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from blocks.register import block_for
from cloudops import datapop
from cloudops.aws import s3
from cloudops.aws.session import open_account
from cloudops.config_store import SsmConfigStore
from cloudops.datapop import MySqlTarget
from cloudops.errors import DatabaseUnavailableError
from cloudops.image_copy import copy_image
from cloudops.registry import RegistryClient, RegistryLogin, RegistryUnavailableError
from cloudops.release import Release
from sandbox.fault_proxy import FaultProxy, Request
from sandbox.processes import stop
from sandbox.sandbox import Sandbox
from tasks.retry import is_transient
from tests.mysql_query import query
from tests.ops_helpers import OpsApp

pytestmark = pytest.mark.slow

BUILD_BUCKET = "cloudops-build-111111111111"


@pytest.fixture
def moto_proxy(sandbox: Sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(sandbox.state.moto_port) as proxy:
        yield proxy


def through(sandbox: Sandbox, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, stages: list[str]) -> None:
    """The stages' credential blocks, for this test, reach moto through ``proxy`` (their registries directly)."""
    for stage in stages:
        name = f"aws-{stage}-faults-{uuid.uuid4().hex[:6]}"
        credentials = sandbox.pipeline_credentials(stage).model_copy(update={"endpoint_url": proxy.url})
        block_for(credentials, sandbox.state.registries[stage].login()).save(name)
        monkeypatch.setenv(f"CLOUDOPS_STAGES__{stage.upper()}__CREDENTIAL_BLOCK", name)


def s3_put(request: Request) -> bool:
    return request.service == "s3" and request.method == "PUT"


@pytest.mark.reliability(
    "fault",
    "AWS throttling, 500, 503, a connection reset in the middle of an answer and a slow answer during a promotion",
    "each call is retried and the promotion completes; one promotion entry in the trail, one S3 version of it",
)
def test_a_promotion_through_throttling_5xx_and_resets_records_it_once(
    sandbox: Sandbox, app: OpsApp, stage_blocks: dict[str, str], moto_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.promote import promote

    release = app.releases[0]
    through(sandbox, moto_proxy, monkeypatch, ["build", "qa"])
    moto_proxy.inject("throttle", times=3)
    moto_proxy.inject("500")
    moto_proxy.inject("503", times=2)
    moto_proxy.inject("slow", delay=2.0)
    # the audit entry is written, and the answer saying so lost: the client writes it again
    moto_proxy.inject("reset", match=lambda r: s3_put(r) and "/audit/" in r.target)

    entry = promote(version=release.version, to_stage="qa")

    assert moto_proxy.pending() == 0, "every fault happened"
    assert dict(moto_proxy.applied) == {"throttle": 3, "500": 1, "503": 2, "slow": 1, "reset": 1}
    promotions = [e for e in app.trail() if e.kind == "promotion"]
    assert promotions == [entry]
    listing = s3.key_versions(sandbox.account("build"), BUILD_BUCKET, f"audit/{app.name}/")
    assert [len(v.versions) for k, v in listing.items() if "-promotion-" in k] == [1]


@pytest.mark.reliability(
    "fault",
    "a registry that throttles (429), answers 503, resets an upload in the middle and drops a request during an "
    "image copy",
    "each failure is transient (the task retries it) and the copy run again converges: the image once, its tag once",
)
def test_an_image_copy_through_a_faulty_registry_converges(sandbox: Sandbox, release: Release) -> None:
    source = sandbox.state.registries["build"]
    target = sandbox.state.registries["qa"]
    name = "broker"
    digest = release.images[name].digest
    repository = f"faults-{uuid.uuid4().hex[:6]}/{name}"
    with FaultProxy(target.port) as proxy:
        proxy.inject("throttle", match=lambda r: r.method == "HEAD")
        proxy.inject("503", times=2, match=lambda r: r.method == "PUT" and "/manifests/" in r.target)
        proxy.inject("reset", match=lambda r: r.method == "PUT" and "/blobs/uploads/" in r.target)
        proxy.inject("drop", match=lambda r: r.method == "POST")
        login = RegistryLogin(url=proxy.url, username=target.login().username, password=target.password)
        failures: list[str] = []
        with RegistryClient(source.login()) as reader, RegistryClient(login) as writer:
            for _ in range(8):  # what the task's retries do: the copy again, from the start
                try:
                    copy_image(reader, name, writer, repository, digest, tags=("faults",))
                    break
                except Exception as error:
                    assert is_transient(error), f"a fault was taken for a permanent failure: {error!r}"
                    failures.append(type(error).__name__)
            else:
                raise AssertionError(f"the copy did not converge: {failures}")
        assert proxy.pending() == 0
        assert len(failures) == 5, failures  # one failed attempt per fault: none was hidden or doubled
    with RegistryClient(target.login()) as qa:
        assert qa.manifest_digest(repository, digest) == digest
        assert qa.tags(repository) == ["faults"]


@pytest.mark.reliability(
    "fault",
    "a parameter write to the config store whose answer is lost (the connection reset after SSM took it), "
    "throttled or answered 503",
    "written once: one new version per changed endpoint, none for a write repeated because its answer was lost",
)
def test_a_config_store_write_whose_answer_is_lost_makes_one_version(sandbox: Sandbox, moto_proxy: FaultProxy) -> None:
    credentials = sandbox.pipeline_credentials("qa").model_copy(update={"endpoint_url": moto_proxy.url})
    store = SsmConfigStore(open_account(credentials, where="qa through the fault proxy"))
    prefix = f"/cloudops/faults-{uuid.uuid4().hex[:6]}"
    writes = lambda r: r.operation == "PutParameter"  # noqa: E731
    moto_proxy.inject("reset", match=writes)
    moto_proxy.inject("throttle", times=2, match=writes)
    moto_proxy.inject("503", match=writes)

    store.put(prefix, {"author": "http://127.0.0.1:1/", "live": "http://127.0.0.1:2/"})
    store.put(prefix, {"author": "http://127.0.0.1:1/", "live": "http://127.0.0.1:3/"})  # one of them changed

    assert moto_proxy.pending() == 0
    assert store.get(prefix) == {"author": "http://127.0.0.1:1/", "live": "http://127.0.0.1:3/"}
    ssm = sandbox.account("qa").client("ssm")
    versions = {key: len(ssm.get_parameter_history(Name=f"{prefix}/{key}")["Parameters"]) for key in ("author", "live")}
    assert versions == {"author": 1, "live": 2}


@pytest.mark.reliability(
    "fault",
    "the destination registry stopped in the middle of an image copy",
    "the copy fails with a one-line message naming the registry (transient: the task retries it); once the "
    "registry is back, the copy run again converges",
)
def test_a_registry_stopped_during_a_copy_fails_clearly_and_the_rerun_converges(
    sandbox: Sandbox, release: Release
) -> None:
    source, target = sandbox.state.registries["build"], sandbox.state.registries["staging"]
    name = "app"
    digest = release.images[name].digest
    repository = f"stopped-{uuid.uuid4().hex[:6]}/{name}"
    with FaultProxy(target.port) as proxy:
        # the registry stops while the copy's first blob is on its way
        proxy.inject("slow", delay=3.0, match=lambda r: r.method == "PUT" and "/blobs/uploads/" in r.target)
        login = RegistryLogin(url=proxy.url, username=target.login().username, password=target.password)
        stopper = threading.Timer(1.0, stop, args=(target.pid,))
        stopper.start()
        try:
            with (
                RegistryClient(source.login()) as reader,
                RegistryClient(login) as writer,
                pytest.raises(RegistryUnavailableError, match=rf"registry {proxy.address} did not answer"),
            ):
                copy_image(reader, name, writer, repository, digest, tags=("stopped",))
        finally:
            stopper.join()
            sandbox.up(("registries",), report=lambda line: None)
        assert proxy.applied["slow"] == 1
        with RegistryClient(source.login()) as reader, RegistryClient(login) as writer:
            copy_image(reader, name, writer, repository, digest, tags=("stopped",))
    with RegistryClient(target.login()) as staging:
        assert staging.manifest_digest(repository, digest) == digest
        assert staging.tags(repository) == ["stopped"]


ROWS = 20_000


@pytest.mark.reliability(
    "fault",
    "MariaDB stopped in the middle of a data population",
    "the population fails saying the server went away (transient: the task retries it); once MariaDB is back, "
    "the run again applies each data set once and every row is there",
)
def test_mariadb_stopped_during_a_population_then_the_rerun_applies_each_set_once(
    sandbox: Sandbox, mysql_target: MySqlTarget, tmp_path: Path
) -> None:
    common = tmp_path / "datasets" / "common"
    common.mkdir(parents=True)
    (common / "V0001__schema.sql").write_text(
        "CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(64)) ENGINE=InnoDB;\n"
    )
    rows = "\n".join(f"INSERT INTO item (id, name) VALUES ({i}, 'item {i}');" for i in range(ROWS))
    (common / "V0002__items.sql").write_text(rows + "\n")
    (common / "V0003__last.sql").write_text("INSERT INTO item (id, name) VALUES (-1, 'last');\n")

    stopper = threading.Timer(1.0, stop, args=(sandbox.state.pids["mariadb"],))
    stopper.start()
    try:
        with pytest.raises(DatabaseUnavailableError, match=r"the database server went away during data set") as error:
            datapop.populate(mysql_target, tmp_path / "datasets", "author")
        assert is_transient(error.value)
    finally:
        stopper.join()
        sandbox.up(("mariadb",), report=lambda line: None)

    report = datapop.populate(mysql_target, tmp_path / "datasets", "author")
    assert report.applied[-2:] == ["V0002__common__items", "V0003__common__last"]
    assert sorted(datapop.applied(mysql_target)) == [
        "V0001__common__schema",
        "V0002__common__items",
        "V0003__common__last",
    ]
    assert query(mysql_target, "SELECT COUNT(*), COUNT(DISTINCT id) FROM item") == [(ROWS + 1, ROWS + 1)]
