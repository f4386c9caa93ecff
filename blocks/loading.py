"""Loading a saved block, typed, with an error that says how to create a missing one."""

from __future__ import annotations

from typing import TypeVar

from prefect.blocks.core import Block

from cloudops.errors import MissingBlockError

B = TypeVar("B", bound=Block)


def load_block(block_type: type[B], name: str) -> B:
    """The saved block of ``block_type`` called ``name`` (synchronous callers only)."""
    try:
        block = block_type.load(name)
    except ValueError:
        raise MissingBlockError(
            f"there is no {block_type.get_block_type_name()} block named {name!r}; create it in the Prefect UI "
            "(Blocks) or with `cloudops blocks register` / `cloudops sandbox up`"
        ) from None
    if not isinstance(block, block_type):  # load returns a coroutine only when called from async code
        raise TypeError(f"{block_type.__name__}.load({name!r}) must be awaited here; use aload in async code")
    return block
