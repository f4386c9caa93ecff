"""The product's wheel holds the product and its package data, nothing of the sandbox; the sandbox's wheel (the
workspace member sandbox/) holds the sandbox and registers its command, its server hint and its block."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def built_wheel(project: Path, out: Path) -> zipfile.ZipFile:
    uv = shutil.which("uv")
    assert uv is not None, "uv is on PATH (scripts/setup.sh)"
    subprocess.run([uv, "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)], check=True, timeout=300)
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def entry_points(wheel: zipfile.ZipFile) -> str:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    return wheel.read(name).decode()


def test_the_product_wheel_holds_no_sandbox_and_the_sandbox_wheel_registers_itself(tmp_path: Path) -> None:
    product = built_wheel(ROOT, tmp_path / "product")
    names = product.namelist()
    assert [n for n in names if n.startswith("sandbox/")] == []
    assert "cloudops/templates/policies/cloudformation-execution.json" in names  # package data, not a folder beside
    assert "cloudops/templates/stacks/author-live.yaml" in names
    assert "sandbox" not in entry_points(product) and "prefect.collections" not in entry_points(product)

    sandbox = built_wheel(ROOT / "sandbox", tmp_path / "sandbox")
    assert "sandbox/moto_fixes.py" in sandbox.namelist()
    assert [n for n in sandbox.namelist() if n.startswith(("cloudops/", "flows/", "cli/"))] == []
    registered = entry_points(sandbox)
    assert "[cloudops.commands]\nsandbox = sandbox.command_line.sandbox_command:sandbox_app" in registered
    assert "[prefect.collections]\ncloudops-sandbox = sandbox.prefect_collection" in registered
    assert "[cloudops.prefect_api_hints]" in registered


def test_a_flow_runner_plugin_must_be_a_project_folder_with_a_pyproject() -> None:
    from cloudops.errors import ConfigurationError
    from cloudops.flow_runner import check_plugins

    check_plugins(ROOT, ["sandbox"])
    for wrong in ("nope", "../main", "/work/main/sandbox", "cloudops"):
        with pytest.raises(ConfigurationError, match=rf"plugin {re.escape(repr(wrong))} is no folder of .* pyproject"):
            check_plugins(ROOT, [wrong])
