"""``cloudops accounts doctor``: what a run will need in each stage's account, checked with the run's own
credentials (the stage's block: its pipeline role), one line per check; a problem names its fix.

Each check makes the calls a run makes, so a role whose policy is missing fails its check with AccessDenied, as the
run would. The ``permissions`` check also asks IAM's policy simulator (``iam:SimulatePrincipalPolicy``) about every
action of the policies of the roles a run acts as, the CloudFormation execution role's included (which nothing else
here acts as): a policy that is missing or changed, a permissions boundary or a service control policy that denies
one of them shows there, before a run fails on it. NOTE: the sandbox's moto answers the simulator with its own
evaluator (sandbox/sandbox/moto_simulator_fixes.py), and has no service control policies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudops import networks
from cloudops.aws import ec2, ecr, iam, s3
from cloudops.aws.kms import key_policy
from cloudops.aws.session import AccountSession
from cloudops.bootstrap import account_resources, check_bootstrap
from cloudops.bootstrap_template import BOOTSTRAP_VERSION
from cloudops.config_store import ACCOUNT_KEY_ALIAS
from cloudops.errors import CloudOpsError
from cloudops.policies import BUILD, CLOUDFORMATION_EXECUTION, DEPLOYER, PipelineRole, policy_document
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


def keys(account: AccountSession, settings: Settings, stage: str) -> str:
    fix = f"run `cloudops accounts bootstrap {stage}`"
    if stage != settings.build_stage:
        made = account_resources(account, stage)
        return f"key {made.key_arn}, access-log bucket {made.log_bucket}, monitoring role {made.monitoring_role_arn}"
    wanted = {s.account_id for name, s in settings.stages.items() if name != stage}
    allowed: set[str] = set()
    for statement in key_policy(account, ACCOUNT_KEY_ALIAS)["Statement"]:
        actions = statement.get("Action", [])
        if statement.get("Effect") == "Allow" and "kms:CreateGrant" in actions and "kms:Decrypt" in actions:
            principals = statement.get("Principal", {}).get("AWS", [])
            allowed |= {p.split(":")[4] for p in ([principals] if isinstance(principals, str) else principals)}
    missing = sorted(wanted - allowed)
    if missing:
        raise CloudOpsError(
            f"the build key {ACCOUNT_KEY_ALIAS} does not let account {', '.join(missing)} copy the snapshots the build "
            f"shares: {fix}, which grants every stage of cloudops.toml"
        )
    return f"{ACCOUNT_KEY_ALIAS} lets the {len(wanted)} stage accounts copy the snapshots it shares"


def simulated_roles(settings: Settings, stage: str) -> list[PipelineRole]:
    """The roles whose policies the ``permissions`` check simulates: the one a run acts as in the account, and in a
    stage account the execution role CloudFormation acts as."""
    return [BUILD] if stage == settings.build_stage else [DEPLOYER, CLOUDFORMATION_EXECUTION]


def _asked(statement: dict[str, Any]) -> tuple[list[str], list[str], dict[str, str]]:
    """A statement's actions (those without a wildcard), its resources, and a context that meets its conditions."""
    actions = [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])
    resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else list(statement["Resource"])
    context: dict[str, str] = {}
    for pairs in statement.get("Condition", {}).values():
        for key, value in pairs.items():
            first = value[0] if isinstance(value, list) else value
            context[key] = str(first).lower() if isinstance(first, bool) else str(first)
    return [a for a in actions if "*" not in a], resources, context


def permissions(account: AccountSession, settings: Settings, stage: str) -> str:
    denied: list[str] = []
    asked = 0
    for role in simulated_roles(settings, stage):
        arn = f"arn:aws:iam::{account.account_id}:role/{role.name}"
        for statement in policy_document(settings, stage, role)["Statement"]:
            if statement.get("Effect") != "Allow" or "Action" not in statement or "Resource" not in statement:
                continue
            actions, resources, context = _asked(statement)
            decisions = iam.simulate(account, arn, actions, resources, context) if actions else []
            asked += len(decisions)
            denied += [f"{role.name} {d.action} on {d.resource} ({d.decision})" for d in decisions if not d.allowed]
    if denied:
        more = f", and {len(denied) - 1} more" if len(denied) > 1 else ""
        raise CloudOpsError(
            f"IAM's policy simulator denies {denied[0]}{more}: run `cloudops accounts bootstrap {stage}` (it gives the "
            "roles their policies), or lift the permissions boundary or service control policy that denies it"
        )
    names = ", ".join(role.name for role in simulated_roles(settings, stage))
    return f"{names}: {asked} action and resource pairs allowed by IAM's policy simulator"


CHECKS: tuple[tuple[str, Check], ...] = (
    ("bootstrap", bootstrap),
    ("bucket", bucket),
    ("repositories", repositories),
    ("network", network),
    ("keys", keys),
    ("permissions", permissions),
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
