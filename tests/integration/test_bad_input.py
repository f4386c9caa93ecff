"""Bad input on the command line: one line naming the mistake and the fix, no traceback, and no flow run created."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from cloudops.release import Release
from tests.app_source import ReleaseSource

pytestmark = pytest.mark.slow

STAGES = "use one of qa, staging, prod (stages are defined under [stages.<name>] in cloudops.toml)"


def flow_runs() -> int:
    with get_client(sync_client=True) as client:
        return client.count_flow_runs()


def refused(*args: str) -> str:
    """The one line ``cloudops ARGS`` printed as it refused, having created no flow run."""
    from cli.main import app

    before = flow_runs()
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: ")
    assert flow_runs() == before, f"cloudops {' '.join(args)} created a flow run"
    return line.removeprefix("error: ")


@pytest.mark.reliability("input", "`cloudops promote latest --to qa-typo`", "refused in one line naming the stages")
@pytest.mark.reliability("input", "`cloudops promote latest --to build`", "refused: the build stage runs nothing")
@pytest.mark.reliability("input", "`cloudops promote 9.9.9-nope --to qa`", "refused naming the releases there are")
@pytest.mark.reliability("input", "`cloudops promote latest --to qa --deploy nope`", "refused naming the kinds")
@pytest.mark.reliability("input", "`cloudops release --to stagin`", "refused naming the stages; nothing built")
@pytest.mark.reliability("input", "`cloudops release --kind nope`", "refused naming the kinds; nothing built")
@pytest.mark.reliability("input", "`cloudops rollback prd`", "refused naming the stages")
@pytest.mark.reliability("input", "`cloudops approve V --stage prd`", "refused naming the stages")
@pytest.mark.reliability("input", "`cloudops build --share-with prd`", "refused naming the stages; nothing built")
def test_a_mistyped_stage_version_or_kind_is_refused_before_any_run(
    release_env: ReleaseSource, release: Release
) -> None:
    assert refused("promote", "latest", "--to", "qa-typo") == f"unknown stage 'qa-typo'; {STAGES}"
    assert refused("promote", "latest", "--to", "build") == (
        f"stage 'build' is the build stage: it builds and runs nothing; {STAGES}"
    )
    unknown = refused("promote", "9.9.9-nope", "--to", "qa")
    assert unknown.startswith("commerce has no release '9.9.9-nope'; give 'latest' or one it has (")
    assert release.version in unknown
    no_kind = "unknown kind of environment 'nope'"
    assert refused("promote", "latest", "--to", "qa", "--deploy", "nope").startswith(no_kind)
    assert refused("release", "--to", "stagin") == f"unknown stage 'stagin'; {STAGES}"
    assert refused("release", "--kind", "nope").startswith(no_kind)
    assert refused("rollback", "prd") == f"unknown stage 'prd'; {STAGES}"
    assert refused("approve", release.version, "--stage", "prd", "--approver", "dave") == (
        f"unknown stage 'prd'; {STAGES}"
    )
    assert refused("build", "--share-with", "prd") == f"unknown stage 'prd'; {STAGES}"


@pytest.mark.reliability(
    "input",
    "`cloudops release --kind author-live` for an application that builds no broker image",
    "refused naming the kind, the missing image and the fix; nothing built",
)
def test_a_kind_the_application_builds_no_image_for_is_refused_before_any_run(
    release_env: ReleaseSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an application that builds only an app and a database image (a lookup service needs no broker)
    config = tmp_path / "cloudops.toml"
    text = release_env.config.read_text()
    without_broker = re.sub(r'(?m)^broker = "[^"]*"\n', "", text)
    assert without_broker != text
    config.write_text(without_broker)
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(config))

    # Then a release that would deploy a kind with a broker is refused before any run
    assert refused("release", "--to", "qa", "--kind", "author-live") == (
        "kind author-live runs a broker image ('broker'), and application.dockerfiles has none; add it to "
        "application.dockerfiles (then build a release), or deploy another kind"
    )
