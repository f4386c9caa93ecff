"""The kinds of environment a release deploys as: one registry of their stacks, templates, images, snapshots,
config files and outputs. Deploy plans, teardown, the pre-deploy checks, the audit trail, the account set-up
and the flows' ``kind`` parameter (the UI form's dropdown) all read it; a new kind is one entry here and its
templates in ``cloudops/templates/stacks``."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudops.errors import CloudOpsError
from cloudops.image_roles import ImageRole, ImageRoles

PlanValue = Literal[
    "application",
    "stage",
    "environment",
    "vpc",
    "vpc_cidr",
    "public_subnets",
    "private_subnets",
    "assign_public_ip",
    "snapshot",
    "database",
    "db_password",
    "config_bucket",
    "multi_az",
    "deletion_protection",
    "account_key",
    "min_tasks",
    "max_tasks",
    "certificate",
    "domain",
    "hosted_zone",
    "log_bucket",
    "monitoring_role",
]
"""What a deploy plan gives a template parameter: the application's name, the stage's name, the stack's
environment; the stage's VPC, its CIDR block, its public and private subnets (comma-separated) and whether tasks
get a public IP (cloudops/networks.py); the ARN of the release's snapshot of the stack's environment, the SSM path
of the environment's database password, the stage's bucket; whether the stage's databases are Multi-AZ and
protected from deletion ("true" or "false"); the ARN of the account's KMS key (the bootstrap's); the fewest and
most tasks of an app service; the stage's certificate, domain and hosted zone (empty where it has none); the
account's access-log bucket and RDS monitoring role (the bootstrap's)."""


class StackSpec(BaseModel):
    """One stack of a kind of environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The stack's name, a pattern over {application} and {stage}.")
    template: str = Field(description="Its template in cloudops/templates/stacks, without .yaml.")
    environment: str = Field(description="Its environment: the config store path its outputs are published under.")
    parameters: dict[str, PlanValue] = Field(
        default_factory=dict, description="Template parameter -> the value the deploy plan gives it."
    )
    database_of: str = Field(
        default="",
        description="The environment whose database the app reads (its snapshot's, the MySQL image's); empty: its own.",
    )
    takes_images: bool = Field(default=True, description="Whether it runs the kind's images (their parameters).")
    parameter_file: str = Field(
        default="",
        description=(
            "A CloudFormation parameter file in cloudops/templates/parameters (package data) that fills the stack's "
            "other parameters, its ${stage} and ${account_id} filled in for the stage; empty: none."
        ),
    )
    inputs: tuple[str, ...] = Field(
        default=(), description="Outputs of the stack created before it that it takes as parameters of the same name."
    )
    kept_on_teardown: bool = Field(
        default=False, description="Teardown keeps it: it holds the environment's data for the next deploy."
    )

    def stack_name(self, application: str, stage: str) -> str:
        return self.name.format(application=application, stage=stage)


class EnvironmentKind(BaseModel):
    """A kind of environment: what a deploy of it creates and needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", description="The kind's name: the flows' `kind` parameter.")
    description: str = Field(description="One line for people choosing a kind.")
    stacks: tuple[StackSpec, ...] = Field(min_length=1, description="Its stacks, in the order they are created.")
    images: dict[ImageRole, str] = Field(description="Image role -> the template parameter its image by digest fills.")
    snapshots: tuple[str, ...] = Field(
        default=(), description="The environments whose database is restored from the release's snapshot."
    )
    config_files: tuple[str, ...] = Field(default=(), description="The files in the stage bucket's config/ it reads.")
    outputs: dict[str, str] = Field(
        default_factory=dict, description="Stack output -> the config store key its value is published as."
    )
    environment_file: str = Field(
        default="",
        description=(
            "A file of cloudops/templates/config the first stack's bucket (its output EnvBucketName) holds for the "
            "containers, written when missing and never overwritten; empty: none."
        ),
    )
    verify_timeout_seconds: int = Field(
        default=600,
        ge=30,
        le=7200,
        description=(
            "How long a deploy's verification waits for its services to be steady and its load balancer targets "
            "healthy."
        ),
    )
    fills_authorities: bool = Field(
        default=False,
        description=(
            "Whether a deploy fills the first stack's authorities access point from the release's authorities "
            "when they changed (the last stack's output AuthoritiesFillTaskDefinition, run once by ECS RunTask)."
        ),
    )

    @property
    def templates(self) -> tuple[str, ...]:
        """Its templates, each once, in the order its stacks are created."""
        return tuple(dict.fromkeys(spec.template for spec in self.stacks))

    @property
    def roles(self) -> tuple[ImageRole, ...]:
        return tuple(self.images)

    @property
    def chained(self) -> bool:
        """Whether a stack takes its parameters from a parameter file or from the stack before it (so the stacks
        deploy one after the other, and a change set cannot be previewed before the first one exists)."""
        return any(spec.parameter_file or spec.inputs for spec in self.stacks)

    def image_names(self, roles: ImageRoles) -> list[str]:
        """The names of the images it runs, given which image plays which role."""
        return [roles.image(role) for role in self.images]

    def stack_names(self, application: str, stage: str) -> list[tuple[str, str]]:
        """(stack name, environment) of each of its stacks, in the order they are created."""
        return [(spec.stack_name(application, stage), spec.environment) for spec in self.stacks]

    def teardown_names(self, application: str, stage: str) -> list[tuple[str, str]]:
        """(stack name, environment) of each stack teardown deletes, newest first."""
        kept = {spec.stack_name(application, stage) for spec in self.stacks if spec.kept_on_teardown}
        return [named for named in reversed(self.stack_names(application, stage)) if named[0] not in kept]


def _environment_stack(environment: str) -> StackSpec:
    """One of the Author and Live stacks: an ECS service over an RDS database restored from the snapshot."""
    return StackSpec(
        name=f"{{application}}-{{stage}}-{environment}",
        template="author-live",
        environment=environment,
        parameters={
            "Application": "application",
            "Stage": "stage",
            "Environment": "environment",
            "VpcId": "vpc",
            "PublicSubnetIds": "public_subnets",
            "PrivateSubnetIds": "private_subnets",
            "AssignPublicIp": "assign_public_ip",
            "DbSnapshotIdentifier": "snapshot",
            "DbName": "database",
            "DbPasswordParameter": "db_password",
            "ConfigBucket": "config_bucket",
            "MultiAZ": "multi_az",
            "DeletionProtection": "deletion_protection",
            "AccountKeyArn": "account_key",
            "MinTasks": "min_tasks",
            "MaxTasks": "max_tasks",
            "CertificateArn": "certificate",
            "Domain": "domain",
            "HostedZoneId": "hosted_zone",
            "LogBucket": "log_bucket",
            "MonitoringRoleArn": "monitoring_role",
        },
    )


ENDPOINTS = {
    "AppEndpoint": "app_endpoint",
    "DatabaseEndpoint": "database_endpoint",
    "DatabasePort": "database_port",
    "BrokerEndpoint": "broker_endpoint",
    "ClusterName": "cluster",
}

REGISTRY: tuple[EnvironmentKind, ...] = (
    EnvironmentKind(
        name="author-live",
        description="Author and Live: two ECS services, each over an RDS database restored from its snapshot.",
        stacks=(_environment_stack("author"), _environment_stack("live")),
        images={"app": "AppImage", "broker": "BrokerImage"},
        snapshots=("author", "live"),
        config_files=("author.env", "live.env"),
        outputs=ENDPOINTS,
        verify_timeout_seconds=600,
    ),
    EnvironmentKind(
        name="single-instance",
        description="A development environment: the app, the broker and the database image in one ECS task.",
        stacks=(
            StackSpec(
                name="{application}-{stage}-single-instance",
                template="single-instance",
                environment="single-instance",
                database_of="author",  # the MySQL image holds the author data sets' database
                parameters={
                    "Application": "application",
                    "Stage": "stage",
                    "VpcId": "vpc",
                    "VpcCidr": "vpc_cidr",
                    "PrivateSubnetIds": "private_subnets",
                    "AssignPublicIp": "assign_public_ip",
                    "DbName": "database",
                    "DbPasswordParameter": "db_password",
                    "ConfigBucket": "config_bucket",
                    "AccountKeyArn": "account_key",
                },
            ),
        ),
        images={"app": "AppImage", "broker": "BrokerImage", "database": "MysqlImage"},
        config_files=("single-instance-mysql-container.env",),
        outputs={k: v for k, v in ENDPOINTS.items() if k != "AppEndpoint"},
        verify_timeout_seconds=600,
    ),
    EnvironmentKind(
        name="lookup-service",
        description="The Data Lookup Service on EC2-backed ECS, its data on EFS from a prerequisites stack.",
        stacks=(
            StackSpec(
                name="lookup-{stage}-prerequisites",
                template="lookup-prerequisites",
                environment="lookup",
                takes_images=False,
                parameters={"AWSVpcId": "vpc", "PrivateSubnetIds": "private_subnets", "LogBucket": "log_bucket"},
                parameter_file="lookup-prerequisites.json",
                # its bucket holds the environment file and its EFS the data (the template retains both), and a
                # retained bucket would stop the next deploy from creating this stack again
                kept_on_teardown=True,
            ),
            StackSpec(
                name="lookup-{stage}",
                template="lookup-service",
                environment="lookup",
                parameters={
                    "Stage": "stage",
                    "AWSVpcId": "vpc",
                    "VpcCidr": "vpc_cidr",
                    "PrivateSubnetIds": "private_subnets",
                    "DbPasswordParameter": "db_password",
                    "AccountKeyArn": "account_key",
                    "CertificateArn": "certificate",
                    "Domain": "domain",
                    "HostedZoneId": "hosted_zone",
                    "LogBucket": "log_bucket",
                },
                inputs=(
                    "EnvBucketName",
                    "FileSystemId",
                    "DatabaseAccessPointId",
                    "AuthoritiesAccessPointId",
                    "FileSystemClientSecurityGroupId",
                ),
            ),
        ),
        images={"app": "AppImage", "database": "MysqlImage"},
        outputs={"AppEndpoint": "app_endpoint", "ClusterName": "cluster"},
        environment_file="lookup.env",
        fills_authorities=True,
        verify_timeout_seconds=900,  # EC2-backed: its container instances start first
    ),
)
KINDS: dict[str, EnvironmentKind] = {entry.name: entry for entry in REGISTRY}
CONFIG_FILES: tuple[str, ...] = tuple(dict.fromkeys(name for entry in REGISTRY for name in entry.config_files))
OUTPUT_KEYS: dict[str, str] = {key: value for entry in REGISTRY for key, value in entry.outputs.items()}

if TYPE_CHECKING:
    KindName = str
else:
    # The flows' `kind` parameter: Prefect's parameter schema (the UI form's dropdown) is an enum of these names.
    KindName = Literal[tuple(KINDS)]


class MissingImageError(CloudOpsError):
    """A kind of environment runs an image (a role) the application or the release does not have."""


def require_images(kind: EnvironmentKind, roles: ImageRoles, images: Collection[str], holder: str) -> list[str]:
    """The names of the images an environment of ``kind`` runs, each among ``images`` (``holder``'s: a release or
    the application's Dockerfiles); refused in one line, before anything changes, when one is not. An application
    declares only the images its kinds run: the lookup service needs no broker."""
    names = kind.image_names(roles)
    missing = [f"a {role} image ({name!r})" for role, name in zip(kind.roles, names, strict=True) if name not in images]
    if missing:
        raise MissingImageError(
            f"kind {kind.name} runs {' and '.join(missing)}, and {holder} has none; add it to application.dockerfiles "
            f"(then build a release), or deploy another kind"
        )
    return names


def names_text() -> str:
    """The kinds' names for people: "a, b or c"."""
    *others, last = KINDS
    return f"{', '.join(others)} or {last}" if others else last


class UnknownKindError(CloudOpsError):
    """A kind of environment that is not in the registry."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"unknown kind of environment {name!r}; use one of {', '.join(KINDS)} "
            "(the kinds are defined in cloudops/environment_kinds.py)"
        )

    def __reduce__(self) -> tuple[type[UnknownKindError], tuple[str]]:
        return (self.__class__, (self.name,))


def kind(name: str) -> EnvironmentKind:
    """The kind called ``name``, or an error that lists the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKindError(name) from None
