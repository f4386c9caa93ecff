"""What Prefect imports of the sandbox when it looks a block type up (the ``prefect.collections`` entry point).

Kept to the block classes: it is imported by every process that loads a block of an unknown type.
"""

from sandbox.rds_data_block import SandboxRdsData

__all__ = ["SandboxRdsData"]
