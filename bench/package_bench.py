"""Package a 200 MB source tree of 5,000 files: our archive against `tar -c | gzip` of the same tree.

Run by hand: uv run python bench/package_bench.py  (writes its figures to stdout; RESULTS.md keeps them)
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cloudops.packaging import PackageManifest, write_archive

WORK = Path(__file__).resolve().parent / ".work" / "package"
FILES = 5_000
TOTAL = 200 * 1024 * 1024
WORDS = [f"identifier_{i}" for i in range(2_000)] + ["def", "return", "class", "import", "if", "for", "(", ")", ":"]


def make_tree(root: Path) -> list[tuple[str, Path]]:
    """Source-like files: three quarters text (compressible), one quarter random bytes (assets)."""
    rng = random.Random(42)
    size = TOTAL // FILES
    entries = []
    for index in range(FILES):
        path = root / f"module{index % 50:02d}" / f"file{index:05d}.{'bin' if index % 4 == 0 else 'py'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if index % 4 == 0:
            path.write_bytes(rng.randbytes(size))
        else:
            text = " ".join(rng.choice(WORDS) for _ in range(size // 7))
            path.write_bytes(text.encode()[:size])
        entries.append((f"app/{path.relative_to(root).as_posix()}", path))
    return sorted(entries)


def timed(label: str, action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    print(f"{label:<28} {elapsed:7.2f} s")
    return elapsed


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    tree = WORK / "tree"
    entries = make_tree(tree)
    print(f"tree: {FILES} files, {sum(p.stat().st_size for _, p in entries) / 2**20:.0f} MiB, {os.cpu_count()} cores")
    manifest = PackageManifest(
        application="bench",
        version="0",
        commit="0" * 40,
        build_command="none",
        files={},
        datasets={},
        tools={},
    )
    ours = WORK / "package.tar.zst"
    gz = WORK / "tree.tar.gz"
    subprocess.run(["sync"], check=True)
    results = {}
    for round_ in range(3):
        results.setdefault("ours", []).append(
            timed(f"cloudops archive (run {round_ + 1})", lambda: write_archive(ours, manifest, entries, 0))
        )
        results.setdefault("tar", []).append(
            timed(
                f"tar -c | gzip (run {round_ + 1})",
                lambda: subprocess.run(f"tar -C {tree} -c . | gzip > {gz}", shell=True, check=True),
            )
        )
    best_ours, best_tar = min(results["ours"]), min(results["tar"])
    print(
        f"best: cloudops {best_ours:.2f} s ({ours.stat().st_size / 2**20:.0f} MiB), "
        f"tar|gzip {best_tar:.2f} s ({gz.stat().st_size / 2**20:.0f} MiB); ratio {best_ours / best_tar:.2f}x"
    )
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
