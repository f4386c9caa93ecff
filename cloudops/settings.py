"""The pipeline's typed configuration: its stages, each a separate AWS account.

Read from a TOML file (``cloudops.toml`` at the repository root, or the file named by
``CLOUDOPS_CONFIG_FILE``) with ``CLOUDOPS_*`` environment variables on top, nested with ``__``:
``CLOUDOPS_STAGES__QA__REGION=us-east-1`` overrides one field of one stage.

Every mistake fails at load, with a message that names the field and the fix.
"""

from __future__ import annotations

import os
import tomllib
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cloudops.environment_kinds import KINDS
from cloudops.errors import ConfigurationError, UnknownStageError
from cloudops.image_roles import ImageRoles, RepositoryName
from cloudops.smoke_checks import SmokeCheck

CONFIG_FILE_ENV = "CLOUDOPS_CONFIG_FILE"
DEFAULT_CONFIG_FILE = Path("cloudops.toml")

StageName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$", description="The 12-digit AWS account id.")]
Region = Annotated[
    str,
    Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$", description="An AWS region, e.g. eu-west-1."),
]
BlockName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100, description="A Prefect block document name."),
]
BucketName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="An S3 bucket name (3-63 characters)."),
]
WhenBusy = Literal["queue", "refuse"]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$", description="A subnet id (subnet-...).")]


class RecordLock(BaseModel):
    """How long, and how firmly, S3 Object Lock keeps a stage's records in the build bucket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE",
        description=(
            "GOVERNANCE: a user granted s3:BypassGovernanceRetention may still delete a record; COMPLIANCE: nobody, "
            "not even the account's root user, until its retention ends."
        ),
    )
    days: int = Field(default=90, ge=1, le=36500, description="How many days each record stays locked.")


NETWORK_KEYS = ("vpc_id", "vpc_cidr", "public_subnets", "private_subnets")
HTTPS_KEYS = ("certificate_arn", "domain", "hosted_zone_id")


class Network(BaseModel):
    """A stage's network: the load balancers in its public subnets; tasks, databases and file systems in its private
    ones, which reach AWS's APIs and the registries through NAT or VPC endpoints (AWS's guidance for ECS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_vpc: bool = Field(
        default=False,
        description=(
            "Run in the account's default VPC instead: its subnets are all public, so everything shares them and "
            "tasks get a public IP to reach ECR. For trials and the sandbox, never for production."
        ),
    )
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]+$", description="The stage's VPC.")
    vpc_cidr: IPv4Network | None = Field(
        default=None, description="The VPC's CIDR block: what an internal load balancer admits."
    )
    public_subnets: tuple[SubnetId, ...] = Field(
        default=(), description="Subnets with a route to an internet gateway, in two or more zones: load balancers."
    )
    private_subnets: tuple[SubnetId, ...] = Field(
        default=(), description="Subnets without one, in two or more zones: tasks, databases and EFS mount targets."
    )

    @model_validator(mode="after")
    def _complete(self) -> Network:
        given = [key for key in NETWORK_KEYS if getattr(self, key)]
        if self.default_vpc:
            if given:
                raise ValueError(
                    f"default_vpc = true takes no {', '.join(given)}: remove them, or the default_vpc line"
                )
            return self
        missing = [key for key in NETWORK_KEYS if not getattr(self, key)]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}: give {', '.join(NETWORK_KEYS)}, or default_vpc = true")
        for key in ("public_subnets", "private_subnets"):
            if len(getattr(self, key)) < 2:
                raise ValueError(f"{key}: give at least two subnets, in two availability zones")
        shared = sorted(set(self.public_subnets) & set(self.private_subnets))
        if shared:
            raise ValueError(f"{', '.join(shared)} is both public and private: a subnet is one or the other")
        return self


class Stage(BaseModel):
    """One stage of the pipeline: one AWS account and what lives in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: AccountId
    region: Region
    credential_block: BlockName = Field(description="The name of this account's Prefect credential block.")
    bucket: BucketName = Field(description="The account's CloudOps bucket: packages, config files, audit trail.")
    registry: str | None = Field(
        default=None,
        description="The account's ECR registry host; by default <account_id>.dkr.ecr.<region>.amazonaws.com.",
    )
    promotes_from: StageName | None = Field(
        default=None, description="The stage whose images this stage receives; none for the build stage."
    )
    role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description="A role in this account to assume; its account id must be this stage's.",
    )
    profile: str | None = Field(default=None, description="An AWS CLI profile with this account's credentials.")
    self_approval: bool = Field(
        default=False, description="Whether the person who started a release may approve it for this stage."
    )
    verified_approvers: bool = Field(
        default=False,
        description=(
            "Whether an approval must carry the approver's verified AWS identity (`cloudops approve` signs it): "
            "an answer typed into the form of an open Prefect server's UI says nothing of who gave it."
        ),
    )
    approvers: tuple[str, ...] = Field(
        default=(),
        description=(
            "Who may approve this stage: AWS ARN patterns (fnmatch, e.g. arn:aws:sts::444444444444:assumed-role/"
            "release-managers/*); any pattern turns verified_approvers on. Empty: anyone."
        ),
    )
    teardown_allowed: bool = Field(default=True, description="Whether teardown-environment may delete stacks.")
    when_busy: WhenBusy = Field(
        default="queue",
        description=(
            "Deploys, teardowns and promotions into one stage never overlap. While one runs, another one into "
            "the same stage waits its turn (queue) or fails at once naming the run in progress (refuse)."
        ),
    )
    network: Network | None = Field(
        default=None,
        description=(
            "Where the stage's environments run ([stages.<name>.network]); every stage but the build stage needs one."
        ),
    )
    multi_az: bool = Field(
        default=False,
        description="Whether the environments' RDS instances keep a standby in a second availability zone (prod: on).",
    )
    deletion_protection: bool = Field(
        default=False,
        description=(
            "Whether the environments' RDS instances refuse to be deleted (prod: on); a teardown of such a stage "
            "fails on its database until the protection is turned off."
        ),
    )
    tls: bool = Field(
        default=True,
        description=(
            "Whether the environments' load balancers serve HTTPS (port 80 then only redirects to it); needs "
            "certificate_arn, domain and hosted_zone_id. false: plain HTTP, for trials and the sandbox only."
        ),
    )
    certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$",
        description="The ACM certificate the load balancers serve, for *.<domain>, in the stage's account and region.",
    )
    domain: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description=(
            "The stage's DNS domain: each environment answers at <application>-<environment>.<domain>, a Route 53 "
            "alias of its load balancer in hosted_zone_id."
        ),
    )
    hosted_zone_id: str | None = Field(
        default=None, pattern=r"^Z[A-Z0-9]{1,31}$", description="The Route 53 hosted zone of domain."
    )
    min_tasks: int = Field(
        default=2, ge=1, le=100, description="The fewest tasks of each environment's app service (Auto Scaling)."
    )
    max_tasks: int = Field(
        default=4,
        ge=1,
        le=100,
        description="The most tasks Application Auto Scaling may run of each app service (on CPU and requests).",
    )
    soak_seconds: int = Field(
        default=0,
        ge=0,
        le=3600,
        description=(
            "After a deploy is verified, how long its load balancer targets and smoke checks keep being checked "
            "(any failure fails the verification); 0: no soak."
        ),
    )
    soak_interval_seconds: int = Field(
        default=10, ge=1, le=600, description="How often the soak checks the targets and runs the smoke checks."
    )
    auto_rollback: bool = Field(
        default=True, description="Whether a deploy that fails its verification rolls back to the release before it."
    )
    record_lock: RecordLock = Field(
        default_factory=RecordLock,
        description=(
            "The Object Lock retention of the audit entries about this stage (the build stage's: of the release "
            "records too), in the build bucket."
        ),
    )

    @model_validator(mode="after")
    def _role_in_own_account(self) -> Stage:
        if self.role_arn is not None and self.role_arn.split(":")[4] != self.account_id:
            raise ValueError(
                f"role_arn {self.role_arn} is in account {self.role_arn.split(':')[4]}, not in this stage's "
                f"account {self.account_id}; use a role of account {self.account_id}"
            )
        return self

    @model_validator(mode="after")
    def _endpoint_complete(self) -> Stage:
        if self.min_tasks > self.max_tasks:
            raise ValueError(f"min_tasks {self.min_tasks} is above max_tasks {self.max_tasks}: raise max_tasks")
        if self.domain and not self.hosted_zone_id:
            raise ValueError(f"domain {self.domain} needs hosted_zone_id: the Route 53 zone that holds it")
        return self

    @property
    def registry_host(self) -> str:
        return self.registry or f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com"


class Application(BaseModel):
    """What the pipeline needs from the application it releases (see docs/your-application.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$", description="The application's name, in S3 keys.")
    repository: str = Field(
        min_length=1, description="A git URL or path; a relative path is from the configuration file's folder."
    )
    subdirectory: str = Field(default="", description="Where the application lives inside the repository.")
    build_command: str = Field(min_length=1, description="The application's own build, run in a clean work folder.")
    build_output: str = Field(default="dist", description="The folder the build command writes: the package's app/.")
    datasets: str = Field(default="datasets", description="The versioned data-set folder (common/, author/, live/).")
    include: tuple[str, ...] = Field(default=("docker",), description="Other source folders the package carries.")
    authorities: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "The folder of the application's authorities (reference files the lookup service reads from its EFS "
            "authorities access point), relative to subdirectory; the package carries it as authorities/, and "
            "each lookup-service deploy fills the access point from it when it changed. None: no authorities."
        ),
    )
    dockerfiles: dict[RepositoryName, str] = Field(
        description="Image name -> Dockerfile path inside the package; the base image needs none."
    )
    images: ImageRoles = Field(
        default_factory=ImageRoles, description="Which image plays each role (app, broker, database) in a deploy."
    )
    checks: dict[str, list[SmokeCheck]] = Field(
        default_factory=dict,
        description=(
            "Kind of environment (author-live, ...) -> the smoke checks a deploy of it must pass before anyone "
            "approves it (after its services are steady and its load balancer targets healthy)."
        ),
    )

    @model_validator(mode="after")
    def _relative_paths(self) -> Application:
        for name, path in [
            ("build_output", self.build_output),
            ("datasets", self.datasets),
            *((("authorities", self.authorities),) if self.authorities is not None else ()),
            *((f"dockerfiles.{k}", v) for k, v in self.dockerfiles.items()),
        ]:
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(f"application.{name}: {path!r} must be a path inside the application's folder")
        return self

    @model_validator(mode="after")
    def _authorities_not_included(self) -> Application:
        if self.authorities is not None and self.authorities.strip("/") in {i.strip("/") for i in self.include}:
            raise ValueError(
                f"application.authorities: {self.authorities!r} is in application.include too; the package "
                "carries it as authorities/ already: remove it from include"
            )
        return self

    @model_validator(mode="after")
    def _checks_fit_their_kinds(self) -> Application:
        for kind_name, checks in self.checks.items():
            if kind_name not in KINDS:
                raise ValueError(
                    f"application.checks: unknown kind of environment {kind_name!r}; use one of {', '.join(KINDS)}"
                )
            kind = KINDS[kind_name]
            environments = [spec.environment for spec in kind.stacks]
            for index, check in enumerate(checks):
                where = f"application.checks.{kind_name}.{index} ({check.name})"
                if check.environment and check.environment not in environments:
                    raise ValueError(
                        f"{where}: kind {kind_name} has no environment {check.environment!r}; use one of "
                        f"{', '.join(dict.fromkeys(environments))} or leave environment empty"
                    )
                if check.is_http and "AppEndpoint" not in kind.outputs:
                    raise ValueError(
                        f"{where}: kind {kind_name} publishes no AppEndpoint to GET {check.path} on; give it a task "
                        "check instead, or no checks (its services' steady state is verified anyway)"
                    )
                if check.task is not None and check.task.image not in {*ImageRoles.model_fields, *self.dockerfiles}:
                    raise ValueError(
                        f"{where}: task image {check.task.image!r} is not an image of the release; use a role "
                        f"({', '.join(ImageRoles.model_fields)}) or an image name ({', '.join(self.dockerfiles)})"
                    )
        return self

    @model_validator(mode="after")
    def _images_have_dockerfiles(self) -> Application:
        # The app's image, and each role named in application.images, must be built; a role left at its default
        # name with no Dockerfile is one the application does not have (a deploy of a kind that runs it is
        # refused then, before anything changes): a lookup service needs no broker.
        for role, image in self.images:
            if (role == "app" or role in self.images.model_fields_set) and image not in self.dockerfiles:
                raise ValueError(
                    f"application.images.{role}: {image!r} has no entry in application.dockerfiles "
                    f"({', '.join(sorted(self.dockerfiles))}); add one or name another image"
                )
        return self


class Notifications(BaseModel):
    """Where the pipeline reports a failed run or a release waiting for approval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    block: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$",
        description=(
            "A saved Prefect notification block as <block type slug>/<block name>, e.g. slack-webhook/ops or "
            "custom-webhook/ops; none: no notifications."
        ),
    )


class Limits(BaseModel):
    """Caps shared by every run on the Prefect server, however many releases run at once: each is a Prefect
    global concurrency limit, created from here when missing and kept at the value configured here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registry_copies: int = Field(
        default=8,
        ge=1,
        description=(
            "Image copies at once into one stage's registry, across every run (limit cloudops-registry-<stage>): "
            "promotions of several releases into a stage share it."
        ),
    )
    aws_requests_per_second: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description=(
            "AWS API requests a second into one account, across every run, retries included (rate limit "
            "cloudops-aws-<account id>); none: no limit. Off by default: each batch of slots is a Prefect event, "
            "and a test run with it on saw approval events arrive late."
        ),
    )


RDS_DATABASES_ENV = "CLOUDOPS_RDS_DATABASES"


class Settings(BaseSettings):
    """The root of the configuration."""

    model_config = SettingsConfigDict(env_prefix="CLOUDOPS_", env_nested_delimiter="__", extra="forbid", frozen=True)

    build_stage: StageName = Field(
        default="build", description="The CI account: the only stage that builds packages and images."
    )
    repositories: tuple[RepositoryName, ...] = Field(
        default=("base", "app", "broker", "mysql"),
        min_length=1,
        description="The ECR repositories every account holds, one per image of a release.",
    )
    stages: dict[StageName, Stage] = Field(min_length=1, description="The pipeline's stages by name.")
    application: Application | None = Field(default=None, description="The application the pipeline releases.")
    rds_databases: str | None = Field(
        default=None,
        description=(
            "Where RDS instances keep their data when RDS does not: a block as '<block type slug>/<block name>' "
            "(the sandbox sets CLOUDOPS_RDS_DATABASES to its own); empty on AWS."
        ),
    )
    notifications: Notifications = Field(
        default_factory=Notifications, description="Notifications of failed runs and pending approvals."
    )
    limits: Limits = Field(default_factory=Limits, description="Caps shared by every run on the Prefect server.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init values; the environment overrides them, field by field.
        return env_settings, init_settings

    @model_validator(mode="after")
    def _a_sound_pipeline(self) -> Settings:
        names = sorted(self.stages)
        if self.build_stage not in self.stages:
            raise ValueError(
                f"build_stage {self.build_stage!r} is not a stage; add [stages.{self.build_stage}] "
                f"or set build_stage to one of {', '.join(names)}"
            )
        build = self.stages[self.build_stage]
        if build.promotes_from is not None:
            raise ValueError(
                f"stages.{self.build_stage}.promotes_from: the build stage builds its own images and "
                "promotes from nothing; remove promotes_from"
            )
        for name, stage in self.stages.items():
            if name != self.build_stage and stage.promotes_from is None:
                raise ValueError(
                    f"stages.{name}.promotes_from is missing: every stage but the build stage receives "
                    f"its images from another; set it to one of {', '.join(n for n in names if n != name)}"
                )
            if stage.promotes_from is not None and stage.promotes_from not in self.stages:
                raise ValueError(
                    f"stages.{name}.promotes_from: unknown stage {stage.promotes_from!r}; "
                    f"use one of {', '.join(n for n in names if n != name)}"
                )
            if name != self.build_stage and stage.network is None:
                raise ValueError(
                    f"stages.{name}.network is missing: set [stages.{name}.network] {', '.join(NETWORK_KEYS)} "
                    "(two subnets each), or default_vpc = true for a trial in the account's default VPC"
                )
            missing = [key for key in HTTPS_KEYS if not getattr(stage, key)]
            if name != self.build_stage and stage.tls and missing:
                raise ValueError(
                    f"stages.{name} serves HTTPS and is missing {', '.join(missing)}: give certificate_arn (an ACM "
                    f"certificate for *.<domain>), domain and hosted_zone_id, or tls = false for plain HTTP"
                )
        for name in names:
            seen = [name]
            current = self.stages[name].promotes_from
            while current is not None:
                if current in seen:
                    cycle = " -> ".join([*seen[seen.index(current) :], current])
                    raise ValueError(
                        f"stages.{name}.promotes_from: promotion cycle {cycle}; every chain must start "
                        f"at the build stage {self.build_stage!r}"
                    )
                seen.append(current)
                current = self.stages[current].promotes_from
        unique = (
            ("account_id", "account", "each stage needs its own AWS account"),
            ("credential_block", "block", "give each account its own block"),
        )
        for field_name, label, advice in unique:
            owners: dict[str, str] = {}
            for name, stage in self.stages.items():
                value = getattr(stage, field_name)
                if value in owners:
                    raise ValueError(
                        f"stages.{name}.{field_name}: {label} {value} already belongs to stage "
                        f"{owners[value]!r}; {advice}"
                    )
                owners[value] = name
        if self.application is not None:
            unknown = sorted(set(self.application.dockerfiles) - set(self.repositories))
            if unknown:
                raise ValueError(
                    f"application.dockerfiles: image(s) {', '.join(unknown)} have no ECR repository; add them to "
                    f"`repositories` ({', '.join(self.repositories)}) or rename the images"
                )
        return self

    def stage(self, name: str) -> Stage:
        """The stage called ``name``, or an error that lists the stages there are."""
        try:
            return self.stages[name]
        except KeyError:
            raise UnknownStageError(name, sorted(self.stages)) from None

    def target_stages(self) -> list[str]:
        """The stages a release goes to (promoted, deployed, approved, rolled back): all but the build stage."""
        return [name for name in self.promotion_order() if name != self.build_stage]

    def target_stage(self, name: str) -> Stage:
        """The stage ``name`` when a release can go there; else an error that lists the stages it can."""
        if name == self.build_stage:
            raise UnknownStageError(name, self.target_stages(), why="is the build stage: it builds and runs nothing")
        if name not in self.stages:
            raise UnknownStageError(name, self.target_stages())
        return self.stages[name]

    def promotion_order(self) -> list[str]:
        """Stage names from the build stage outwards: every stage comes after the one it promotes from."""
        ordered: list[str] = []

        def visit(name: str) -> None:
            ordered.append(name)
            for child in sorted(n for n, s in self.stages.items() if s.promotes_from == name):
                visit(child)

        visit(self.build_stage)
        return ordered

    def next_stages(self, name: str) -> list[str]:
        """The stages that promote from ``name``."""
        self.stage(name)
        return sorted(n for n, s in self.stages.items() if s.promotes_from == name)

    def require_application(self) -> Application:
        """The application the pipeline releases, or an error saying where to describe it."""
        if self.application is None:
            raise ConfigurationError("cloudops.toml has no [application]; add one (see docs/your-application.md)")
        return self.application


def config_path() -> Path:
    """Where the configuration file is: ``$CLOUDOPS_CONFIG_FILE`` or ``./cloudops.toml``."""
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the configuration; any mistake raises :class:`ConfigurationError`."""
    path = path or config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"configuration file {path} not found; create it (see cloudops.toml in the repository) "
            f"or point {CONFIG_FILE_ENV} at it"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path} is not valid TOML: {error}; fix the file's syntax") from None
    try:
        settings = Settings(**data)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error, path)) from None
    app = settings.application
    if app is not None and "://" not in app.repository and not Path(app.repository).is_absolute():
        repository = str((path.parent / app.repository).resolve())
        settings = settings.model_copy(update={"application": app.model_copy(update={"repository": repository})})
    return settings


def describe_validation_error(error: ValidationError, path: Path) -> str:
    """One line per problem: the field's dotted path, what is wrong, and what to do."""
    lines = [f"{path}: {error.error_count()} problem(s) in the configuration:"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        kind = item["type"]
        if kind == "missing":
            section, _, key = location.rpartition(".")
            where = f"[{section}]" if section else "the top level"
            advice = f"field required; add `{key} = ...` under {where} in {path.name}"
        elif kind == "extra_forbidden":
            section, _, key = location.rpartition(".")
            where = f"[{section}]" if section else "the top level"
            advice = f"unknown key {key!r} under {where}; remove it or correct its spelling"
        elif kind == "string_pattern_mismatch":
            value = item.get("input")
            advice = f"{value!r} is not valid here ({item['msg'].lower()}); see the field's description"
        else:
            advice = item["msg"].removeprefix("Value error, ")
        lines.append(f"  - {location}: {advice}" if location else f"  - {advice}")
    return "\n".join(lines)
