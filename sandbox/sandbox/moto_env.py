"""The environment variables moto's process reads at start, named where the sandbox's parent process can import them
without importing moto (about 1.2 s: every `cloudops` command would pay it)."""

from __future__ import annotations

IAM_ACCOUNTS_ENV = "CLOUDOPS_MOTO_IAM_ACCOUNTS"  # the accounts whose IAM authorization is on (moto_iam_fixes)
STATE_ENV = "CLOUDOPS_MOTO_STATE"  # where moto keeps what every API holds while the sandbox is down (moto_state)
