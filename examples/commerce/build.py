"""The Commerce application's own build: writes dist/ from app/, the same bytes for the same source."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"


def main() -> None:
    shutil.rmtree(DIST, ignore_errors=True)
    shutil.copytree(ROOT / "app", DIST, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    info = {
        "application": "commerce",
        "commit": os.environ.get("CLOUDOPS_COMMIT", "unknown"),
        "version": os.environ.get("CLOUDOPS_VERSION", "dev"),
    }
    (DIST / "BUILD-INFO.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    print(f"built {DIST} for commit {info['commit']}")


if __name__ == "__main__":
    main()
