"""One image copy as a whole command: copy_once.py SRC_ADDRESS DST_ADDRESS DST_REPO DIGEST [SRC_REPO]."""

from __future__ import annotations

import os
import sys

from pydantic import SecretStr

from cloudops.image_copy import copy_image
from cloudops.registry import RegistryClient, RegistryLogin


def main() -> None:
    source_address, destination_address, repository, digest = sys.argv[1:5]
    source_repository = sys.argv[5] if len(sys.argv) > 5 else "bench"
    source = RegistryClient(
        RegistryLogin(url=f"http://{source_address}", username="AWS", password=SecretStr(os.environ["SRC_PASSWORD"]))
    )
    destination = RegistryClient(
        RegistryLogin(
            url=f"http://{destination_address}", username="AWS", password=SecretStr(os.environ["DST_PASSWORD"])
        )
    )
    with source, destination:
        copy_image(source, source_repository, destination, repository, digest)


if __name__ == "__main__":
    main()
