"""What a promotion moves: a release's digests, and what its copies did (whether it may go on is
:mod:`cloudops.gates.promotion`'s)."""

from __future__ import annotations

from cloudops.image_copy import CopyReport
from cloudops.release import Release


def release_digests(release: Release) -> dict[str, str]:
    return {name: image.digest for name, image in sorted(release.images.items()) if name != "base"}


def copy_detail(reports: dict[str, CopyReport]) -> tuple[dict[str, int], dict[str, int]]:
    """What a promotion moved, per image, for its audit entry: the blobs copied now, and those there already or
    mounted (a rerun after a crash copies only what the first run did not)."""
    ordered = sorted(reports.items())
    return {n: len(r.copied) for n, r in ordered}, {n: len(r.present) + len(r.mounted) for n, r in ordered}
