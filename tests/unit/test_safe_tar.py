"""cloudops.safe_tar: what Python's ``data`` filter refuses is refused on a Python without it too (Debian
bookworm's 3.11.2 runs the flow-runner image), and a plain archive unpacks the same either way."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from cloudops import safe_tar


def archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    data.seek(0)
    return data


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


@pytest.mark.parametrize("with_filter", [True, False], ids=["python-filter", "own-checks"])
def test_a_plain_archive_unpacks_with_its_modes_cleaned(
    with_filter: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safe_tar, "HAS_DATA_FILTER", with_filter and safe_tar.HAS_DATA_FILTER)
    plain = archive(
        (member("app", tarfile.DIRTYPE, mode=0o755), None),
        (member("app/run.sh", mode=0o4777), b"echo hi\n"),
        (member("app/current", tarfile.SYMTYPE, link="run.sh"), None),
    )
    with tarfile.open(fileobj=plain) as tar:
        safe_tar.extract_all(tar, tmp_path)
    assert (tmp_path / "app" / "run.sh").read_text() == "echo hi\n"
    assert (tmp_path / "app" / "run.sh").stat().st_mode & 0o7777 == 0o755  # no setuid, no group/other write
    assert (tmp_path / "app" / "current").resolve() == (tmp_path / "app" / "run.sh").resolve()


@pytest.mark.parametrize(
    "bad",
    [
        member("../outside"),
        member("/etc/passwd-copy"),
        member("escape", tarfile.SYMTYPE, link="../../etc"),
        member("absolute", tarfile.SYMTYPE, link="/etc/passwd"),
        member("device", tarfile.CHRTYPE),
    ],
    ids=["dot-dot", "absolute", "symlink-out", "symlink-absolute", "device"],
)
def test_own_checks_refuse_what_the_data_filter_refuses(
    bad: tarfile.TarInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safe_tar, "HAS_DATA_FILTER", False)
    target = tmp_path / "into"
    target.mkdir()
    refused = pytest.raises(safe_tar.UnsafeArchiveError, match=bad.name.lstrip("/").split("/")[-1])
    with tarfile.open(fileobj=archive((bad, b"x" if bad.isreg() else None))) as tar, refused:
        safe_tar.extract_all(tar, target)
    assert list(target.iterdir()) == [] and not (tmp_path / "outside").exists()
    if safe_tar.HAS_DATA_FILTER:  # and Python's own filter refuses it too
        again = archive((bad, b"x" if bad.isreg() else None))
        with tarfile.open(fileobj=again) as tar, pytest.raises(tarfile.FilterError):
            tar.extractall(target, filter="data")
