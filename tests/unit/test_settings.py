"""The configuration: a sound pipeline loads; every mistake fails at load, naming the field and the fix."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from cloudops.errors import ConfigurationError, UnknownStageError
from cloudops.image_roles import ImageRoles
from cloudops.settings import load_settings
from tests.app_source import CONFIG_FILE

STAGES = """
[stages.build]
account_id = "111111111111"
region = "eu-west-1"
credential_block = "aws-build"
bucket = "cloudops-build-bucket"

[stages.qa]
account_id = "222222222222"
region = "eu-west-1"
credential_block = "aws-qa"
bucket = "cloudops-qa-bucket"
promotes_from = "build"
tls = false

[stages.qa.network]
vpc_id = "vpc-0abc"
vpc_cidr = "10.20.0.0/16"
public_subnets = ["subnet-0a1", "subnet-0b1"]
private_subnets = ["subnet-0a2", "subnet-0b2"]

[stages.prod]
account_id = "444444444444"
region = "eu-west-1"
credential_block = "aws-prod"
bucket = "cloudops-prod-bucket"
promotes_from = "qa"
network = { default_vpc = true }
tls = false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cloudops.toml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write(tmp_path, text))
    return str(caught.value)


def test_the_repository_configuration_is_a_four_stage_chain() -> None:
    settings = load_settings(CONFIG_FILE)
    assert settings.promotion_order() == ["build", "qa", "staging", "prod"]
    assert settings.next_stages("qa") == ["staging"]
    assert settings.stage("prod").registry_host == "444444444444.dkr.ecr.eu-west-1.amazonaws.com"
    assert len({settings.stage(s).account_id for s in settings.stages}) == 4


def test_environment_overrides_one_field_of_one_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDOPS_STAGES__QA__REGION", "us-east-2")
    settings = load_settings(write(tmp_path, STAGES))
    assert settings.stage("qa").region == "us-east-2"
    assert settings.stage("qa").bucket == "cloudops-qa-bucket"
    assert settings.stage("prod").region == "eu-west-1"


def test_unknown_stage_in_a_promotion_chain(tmp_path: Path) -> None:
    message = load_error(tmp_path, STAGES.replace('promotes_from = "qa"', 'promotes_from = "qa2"'))
    assert "stages.prod.promotes_from: unknown stage 'qa2'" in message
    assert "use one of build, qa" in message


@pytest.mark.reliability("input", "cloudops.toml with a promotion cycle", "refused naming the cycle")
def test_a_promotion_cycle(tmp_path: Path) -> None:
    text = STAGES.replace('promotes_from = "build"', 'promotes_from = "prod"')
    message = load_error(tmp_path, text)
    assert "promotion cycle" in message
    assert "qa -> prod -> qa" in message or "prod -> qa -> prod" in message


@pytest.mark.reliability("input", "two stages on one AWS account", "refused: each stage needs its own account")
def test_two_stages_on_one_account(tmp_path: Path) -> None:
    message = load_error(tmp_path, STAGES.replace('"444444444444"', '"222222222222"'))
    assert "stages.prod.account_id: account 222222222222 already belongs to stage 'qa'" in message
    assert "each stage needs its own AWS account" in message


def test_a_missing_field(tmp_path: Path) -> None:
    message = load_error(tmp_path, STAGES.replace('bucket = "cloudops-qa-bucket"\n', ""))
    assert "stages.qa.bucket: field required; add `bucket = ...` under [stages.qa]" in message


@pytest.mark.reliability("input", "a misspelt key in cloudops.toml", "refused naming the key and where it is")
def test_an_unknown_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, STAGES.replace('region = "eu-west-1"', 'regoin = "eu-west-1"', 1))
    assert (
        "stages.build.regoin: unknown key 'regoin' under [stages.build]; remove it or correct its spelling" in message
    )


def test_a_bad_account_id_names_the_value(tmp_path: Path) -> None:
    message = load_error(tmp_path, STAGES.replace('"222222222222"', '"2222"'))
    assert "stages.qa.account_id: '2222' is not valid here" in message


def test_a_stage_without_a_source_and_a_build_stage_that_promotes(tmp_path: Path) -> None:
    message = load_error(tmp_path, STAGES.replace('promotes_from = "build"\n', ""))
    assert "stages.qa.promotes_from is missing" in message
    message = load_error(
        tmp_path,
        STAGES.replace('bucket = "cloudops-build-bucket"', 'bucket = "cloudops-build-bucket"\npromotes_from = "qa"'),
    )
    assert "the build stage builds its own images" in message


@pytest.mark.reliability("input", "a stage's role_arn in another account", "refused naming both accounts")
def test_a_role_in_another_account(tmp_path: Path) -> None:
    text = STAGES.replace(
        'promotes_from = "build"',
        'promotes_from = "build"\nrole_arn = "arn:aws:iam::444444444444:role/deploy"',
    )
    message = load_error(tmp_path, text)
    assert "is in account 444444444444, not in this stage's account 222222222222" in message


def test_a_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found; create it"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigurationError, match="is not valid TOML"):
        load_settings(write(tmp_path, "[stages.build\n"))


def test_an_unknown_stage_name_lists_the_stages_and_survives_pickling() -> None:
    settings = load_settings(CONFIG_FILE)
    with pytest.raises(UnknownStageError) as caught:
        settings.stage("production")
    assert "unknown stage 'production'; use one of build, prod, qa, staging" in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, UnknownStageError) and str(again) == str(caught.value)


def test_two_stages_sharing_a_credential_block(tmp_path: Path) -> None:
    message = load_error(tmp_path, STAGES.replace('"aws-prod"', '"aws-qa"'))
    assert "stages.prod.credential_block: block aws-qa already belongs to stage 'qa'" in message


QA_NETWORK = STAGES[STAGES.index("[stages.qa.network]") : STAGES.index("[stages.prod]")]


def test_a_stage_network_is_a_vpc_with_public_and_private_subnets(tmp_path: Path) -> None:
    network = load_settings(write(tmp_path, STAGES)).stage("qa").network
    assert network is not None and not network.default_vpc
    assert (network.vpc_id, str(network.vpc_cidr)) == ("vpc-0abc", "10.20.0.0/16")
    assert (network.public_subnets, network.private_subnets) == (
        ("subnet-0a1", "subnet-0b1"),
        ("subnet-0a2", "subnet-0b2"),
    )


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ("", "stages.qa.network is missing: set [stages.qa.network] vpc_id, vpc_cidr, public_subnets, private_subnets"),
        ('network = { vpc_id = "vpc-0abc" }\n', "missing vpc_cidr, public_subnets, private_subnets: give vpc_id"),
        (QA_NETWORK.replace('"subnet-0a1", ', ""), "public_subnets: give at least two subnets, in two availability"),
        (QA_NETWORK.replace("subnet-0a2", "subnet-0a1"), "subnet-0a1 is both public and private"),
        (QA_NETWORK.replace("10.20.0.0/16", "10.20.0.1/16"), "vpc_cidr"),
        ('network = { default_vpc = true, vpc_id = "vpc-0abc" }\n', "default_vpc = true takes no vpc_id"),
        ('network = { vpc = "vpc-0abc" }\n', "vpc"),
    ],
)
def test_a_stage_network_that_is_missing_or_incomplete_fails_at_load(
    tmp_path: Path, network: str, message: str
) -> None:
    assert message in load_error(tmp_path, STAGES.replace(QA_NETWORK, network))


HTTPS = (
    'certificate_arn = "arn:aws:acm:eu-west-1:222222222222:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"\n'
    'domain = "qa.example.com"\nhosted_zone_id = "Z0123456789ABCDEFGHIJ"\n'
)


def test_a_stage_serves_https_with_its_certificate_domain_and_zone(tmp_path: Path) -> None:
    stage = load_settings(write(tmp_path, STAGES.replace("tls = false\n", HTTPS, 1))).stage("qa")
    assert stage.tls and stage.domain == "qa.example.com" and stage.hosted_zone_id == "Z0123456789ABCDEFGHIJ"
    assert (stage.min_tasks, stage.max_tasks) == (2, 4)


@pytest.mark.parametrize(
    ("https", "message"),
    [
        (
            "",
            "stages.qa serves HTTPS and is missing certificate_arn, domain, hosted_zone_id: give certificate_arn (an "
            "ACM certificate for *.<domain>), domain and hosted_zone_id, or tls = false for plain HTTP",
        ),
        (HTTPS.split("\n", 1)[1], "stages.qa serves HTTPS and is missing certificate_arn"),
        (HTTPS.replace('hosted_zone_id = "Z0123456789ABCDEFGHIJ"\n', ""), "domain qa.example.com needs hosted_zone_id"),
        (HTTPS.replace("acm:eu-west-1", "iam:eu-west-1"), "certificate_arn"),
        (HTTPS + "min_tasks = 5\nmax_tasks = 3\n", "min_tasks 5 is above max_tasks 3: raise max_tasks"),
    ],
)
def test_an_incomplete_https_or_task_range_fails_at_load(tmp_path: Path, https: str, message: str) -> None:
    assert message in load_error(tmp_path, STAGES.replace("tls = false\n", https, 1))


APPLICATION = """
[application]
name = "commerce"
repository = "."
build_command = "true"

[application.dockerfiles]
app = "docker/app/Dockerfile"
broker = "docker/broker/Dockerfile"
mysql = "docker/mysql/Dockerfile"
"""


def test_image_roles_default_to_app_broker_and_mysql(tmp_path: Path) -> None:
    application = load_settings(write(tmp_path, STAGES + APPLICATION)).application
    assert application is not None
    assert application.images == ImageRoles(app="app", broker="broker", database="mysql")
    images = application.images
    assert [images.image("app"), images.image("broker"), images.image("database")] == ["app", "broker", "mysql"]
    assert load_settings(CONFIG_FILE).application.images.database == "mysql"  # type: ignore[union-attr]


def test_image_roles_name_images_of_the_application(tmp_path: Path) -> None:
    text = STAGES + APPLICATION + '\n[application.images]\ndatabase = "app"\n'
    application = load_settings(write(tmp_path, text)).application
    assert application is not None and application.images.database == "app"

    text = STAGES + APPLICATION + '\n[application.images]\ndatabase = "mydb"\n'
    message = load_error(tmp_path, text)
    assert (
        "application.images.database: 'mydb' has no entry in application.dockerfiles (app, broker, mysql); "
        "add one or name another image"
    ) in message
    message = load_error(tmp_path, STAGES + APPLICATION + '\n[application.images]\ndatabse = "mysql"\n')
    assert "application.images.databse: unknown key 'databse' under [application.images]" in message


def test_an_application_declares_only_the_images_its_kinds_run(tmp_path: Path) -> None:
    # A lookup service has no broker: its application builds an app and a database image, nothing else
    lookup_only = APPLICATION.replace('broker = "docker/broker/Dockerfile"\n', "")
    application = load_settings(write(tmp_path, STAGES + lookup_only)).application
    assert application is not None and sorted(application.dockerfiles) == ["app", "mysql"]
    # A role named on purpose must be built, and the app always
    message = load_error(tmp_path, STAGES + lookup_only + '\n[application.images]\nbroker = "broker"\n')
    assert "application.images.broker: 'broker' has no entry in application.dockerfiles (app, mysql)" in message
    message = load_error(tmp_path, STAGES + APPLICATION.replace('app = "docker/app/Dockerfile"\n', ""))
    assert "application.images.app: 'app' has no entry in application.dockerfiles (broker, mysql)" in message


def test_the_authorities_folder_is_optional_inside_the_application_and_not_also_included(tmp_path: Path) -> None:
    application = load_settings(write(tmp_path, STAGES + APPLICATION)).application
    assert application is not None and application.authorities is None
    assert load_settings(CONFIG_FILE).application.authorities == "authorities"  # type: ignore[union-attr]
    with_authorities = STAGES + APPLICATION.replace('build_command = "true"\n', 'build_command = "true"\nAUTHORITIES\n')
    for value, problem in [
        ('"../shared"', "application.authorities: '../shared' must be a path inside the application's folder"),
        ('"/srv/authorities"', "application.authorities: '/srv/authorities' must be a path inside"),
        (
            '"docker"',
            "application.authorities: 'docker' is in application.include too; the package carries it as "
            "authorities/ already: remove it from include",
        ),
    ]:
        assert problem in load_error(tmp_path, with_authorities.replace("AUTHORITIES", f"authorities = {value}"))
    assert "application.authorities" in load_error(
        tmp_path, with_authorities.replace("AUTHORITIES", 'authorities = ""')
    )
