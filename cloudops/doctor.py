"""``cloudops accounts doctor``: what a run will need in each stage's account, checked with the run's own
credentials (the stage's block: its pipeline role), one line per check; a problem names its fix.

NOTE: on AWS, IAM's policy simulator (``iam:SimulatePrincipalPolicy``) could also be asked about each action the
deployer and the execution role need; moto has no simulator, and the roles' policies are checked offline instead
(tests/policy_checks/, tests/sandbox/test_least_privilege.py). Each check here makes the calls a run makes, so a
role whose policy is missing fails its check with AccessDenied, as the run would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloudops import networks
from cloudops.aws import ec2, ecr, s3
from cloudops.aws.session import AccountSession
from cloudops.bootstrap import check_bootstrap
from cloudops.bootstrap_template import BOOTSTRAP_VERSION
from cloudops.errors import CloudOpsError
from cloudops.settings import Settings


@dataclass(frozen=True)
class Finding:
    stage: str
    check: str
    ok: bool
    text: str  # what was found; for a problem, what is wrong and its fix

    def line(self) -> str:
        return f"{self.stage:<10} {self.check:<12} {'ok     ' if self.ok else 'PROBLEM'} {self.text}"


Check = Callable[[AccountSession, Settings, str], str]


def bootstrap(account: AccountSession, settings: Settings, stage: str) -> str:
    check_bootstrap(account, stage)
    return f"stack cloudops-bootstrap at version {BOOTSTRAP_VERSION} or newer"


def bucket(account: AccountSession, settings: Settings, stage: str) -> str:
    name = settings.stage(stage).bucket
    fix = f"run `cloudops accounts bootstrap {stage}`, or set stages.{stage}.bucket to the account's bucket"
    if not s3.bucket_exists(account, name):
        raise CloudOpsError(f"bucket {name} does not exist in account {account.account_id}: {fix}")
    if stage == settings.build_stage and not s3.object_lock_enabled(account, name):
        raise CloudOpsError(
            f"bucket {name} has no S3 Object Lock, which keeps the release records and the audit trail: create the "
            "build account's bucket anew through `cloudops accounts bootstrap` (a bucket cannot take it later)"
        )
    return f"{name}" + (" with Object Lock" if stage == settings.build_stage else "")


def repositories(account: AccountSession, settings: Settings, stage: str) -> str:
    have = set(ecr.list_repositories(account))
    missing = [name for name in settings.repositories if name not in have]
    if missing:
        raise CloudOpsError(
            f"the registry of account {account.account_id} has no repository {', '.join(missing)}: run "
            f"`cloudops accounts bootstrap {stage}`, which creates every repository of cloudops.toml's `repositories`"
        )
    return f"{len(settings.repositories)} repositories: {', '.join(settings.repositories)}"


def network(account: AccountSession, settings: Settings, stage: str) -> str:
    conf = settings.stage(stage)
    if stage == settings.build_stage or conf.network is None:
        return "none needed (the build stage deploys no environment)"
    resolved = networks.stage_network(account, stage, conf.network)
    wanted = [*resolved.public_subnets, *resolved.private_subnets]
    found = {s.subnet_id: s for s in ec2.find_subnets(account, wanted)}
    fix = f"fix [stages.{stage}.network] in cloudops.toml"
    missing = [s for s in dict.fromkeys(wanted) if s not in found]
    if missing:
        raise CloudOpsError(f"subnet {', '.join(missing)} does not exist in account {account.account_id}: {fix}")
    elsewhere = sorted(s.subnet_id for s in found.values() if s.vpc_id != resolved.vpc_id)
    if elsewhere:
        raise CloudOpsError(f"subnet {', '.join(elsewhere)} is not in VPC {resolved.vpc_id}: {fix}")
    for kind, subnets in (("public", resolved.public_subnets), ("private", resolved.private_subnets)):
        if len({found[s].zone for s in subnets}) < 2:
            raise CloudOpsError(f"the {kind} subnets {', '.join(subnets)} are all in one availability zone: {fix}")
    where = "the default VPC" if conf.network.default_vpc else "VPC"
    return (
        f"{where} {resolved.vpc_id}: {len(resolved.public_subnets)} public and "
        f"{len(resolved.private_subnets)} private subnets in two or more zones"
    )


CHECKS: tuple[tuple[str, Check], ...] = (
    ("bootstrap", bootstrap),
    ("bucket", bucket),
    ("repositories", repositories),
    ("network", network),
)


def check_stage(account: AccountSession, settings: Settings, stage: str) -> list[Finding]:
    """Every check of ``stage``'s account, each one whatever the others found."""
    found = []
    for name, check in CHECKS:
        try:
            found.append(Finding(stage, name, True, check(account, settings, stage)))
        except CloudOpsError as error:
            found.append(Finding(stage, name, False, str(error)))
    return found
