"""Loading a saved block, typed, with an error that says how to create a missing one."""

from __future__ import annotations

from typing import TypeVar, cast

from prefect.blocks.core import Block

from blocks.run_root import root_run_id
from cloudops.bounded_cache import BoundedCache
from cloudops.errors import MissingBlockError

B = TypeVar("B", bound=Block)

# Blocks loaded for a run tree, reused by its subflows and tasks in this process (a release loads its
# account blocks a dozen times); a new run loads them again, so an edited block counts from the next run.
LOADED_PER_PROCESS = 64
_loaded: BoundedCache[tuple[type[Block], str, str], Block] = BoundedCache(LOADED_PER_PROCESS)


def load_block(block_type: type[B], name: str) -> B:
    """The saved block of ``block_type`` called ``name`` (synchronous callers only), once per run tree."""
    root = root_run_id()
    if root is None:
        return _load(block_type, name)
    return cast(B, _loaded.get((block_type, name, root), lambda: _load(block_type, name)))


def _load(block_type: type[B], name: str) -> B:
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
