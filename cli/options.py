"""Options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="The configuration file [default: $CLOUDOPS_CONFIG_FILE or ./cloudops.toml]."),
]
