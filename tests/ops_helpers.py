"""Set-up for the operations tests: an application of its own (so its audit trail, stacks and parameters
are apart from the other tests'), with two releases made from the session's built release."""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudops import audit, bootstrap, environment_kinds, networks
from cloudops.aws import cloudformation
from cloudops.aws.session import AccountSession
from cloudops.deploy import StageOptions
from cloudops.errors import CloudOpsError
from cloudops.image_copy import copy_image
from cloudops.images import BuiltImage
from cloudops.networks import StageNetwork
from cloudops.policies import execution_role_arn
from cloudops.promotion import release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release, save_release
from cloudops.settings import Network, Settings, load_settings
from cloudops.verification import CheckResult, Verification, verification_entry
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource

BUILD_BUCKET = "cloudops-build-111111111111"


def approve(
    sandbox: Sandbox,
    release: Release,
    stage: str,
    digests: dict[str, str],
    decision: audit.Decision = "approved",
    actor: str = "qa.lead@example.com",
    ticket: str = "QA-42",
) -> None:
    """An approval decision for ``digests`` of ``release`` in ``stage``, recorded as await-approval records it."""
    audit.record(
        sandbox.account("build"),
        BUILD_BUCKET,
        audit.approval_entry(release, stage, digests, decision, actor, ticket=ticket),
    )


def verified(
    sandbox: Sandbox,
    release: Release,
    stage: str,
    kind: str = "author-live",
    passed: bool = True,
    digests: dict[str, str] | None = None,
) -> audit.AuditEntry:
    """A verification of ``release``'s deploy of ``kind`` in ``stage`` (of other ``digests`` when given), recorded
    as deploy-environment records one: for the tests of the gates, which read only the trail."""
    spec = environment_kinds.kind(kind)
    now = datetime.now(UTC)
    check = CheckResult(name="smoke: /health", passed=passed, detail="as the test says", at=now)
    verification = Verification(
        stage=stage,
        kind=kind,
        version=release.version,
        digests=audit.deployed_digests(release, spec),
        passed=passed,
        checks=(check,),
        started_at=now,
        finished_at=now,
    )
    entry = verification_entry(release, stage, spec, verification, "flow-run:test", None)
    if digests is not None:
        entry = entry.model_copy(update={"digests": digests})
    audit.record(sandbox.account("build"), BUILD_BUCKET, entry)
    return entry


def reject_earlier(sandbox: Sandbox, release: Release, *stages: str) -> None:
    """Record a rejection as the last decision in ``stages``, so the release has to ask there again."""
    for stage in stages:
        approve(sandbox, release, stage, release_digests(release), decision="rejected")


@dataclass(frozen=True)
class OpsApp:
    name: str
    settings: Settings
    sandbox: Sandbox
    built: Release
    releases: tuple[Release, Release]

    def trail(self) -> list[audit.AuditEntry]:
        return audit.entries(self.sandbox.account("build"), BUILD_BUCKET, self.name)

    def copy_images(self, release: Release, to_stage: str, names: list[str]) -> None:
        """Test set-up standing in for promote (which needs approvals): each image by digest into the stage."""
        source, target = self.sandbox.state.registries["build"], self.sandbox.state.registries[to_stage]
        with RegistryClient(source.login()) as reader, RegistryClient(target.login()) as writer:
            for name in names:
                digest = release.images[name].digest
                origin = next((n for n, i in self.built.images.items() if i.digest == digest), name)
                copy_image(reader, origin, writer, name, digest)

    def another_release(self, suffix: str, app_image: str | BuiltImage) -> Release:
        """One more release of this application whose app image is the built image ``app_image`` (or that one)."""
        image = self.built.images[app_image] if isinstance(app_image, str) else app_image
        release = self.releases[0].model_copy(
            update={"version": f"{self.built.version}-{suffix}", "images": {**self.built.images, "app": image}}
        )
        save_release(self.sandbox.account("build"), BUILD_BUCKET, release)
        return release

    def approve(self, release: Release, stage: str, actor: str, decision: audit.Decision = "approved") -> None:
        """An answer of await-approval, recorded as that flow records it."""
        approve(self.sandbox, release, stage, release_digests(release), decision, actor=actor, ticket="OPS-1")

    def remove_stacks(self) -> None:
        """Delete every stack of this application in every stage, so its environments stop running (their
        tasks and databases would load the machine for the rest of the session)."""
        for stage in self.settings.promotion_order():
            account = self.sandbox.account(stage)
            client = account.client("cloudformation")
            for page in client.get_paginator("describe_stacks").paginate():
                for stack in page["Stacks"]:
                    if stack["StackName"].startswith(f"{self.name}-") and stack["StackStatus"] != "DELETE_COMPLETE":
                        try:
                            cloudformation.delete(account, stack["StackName"], execution_role_arn(account.account_id))
                        except CloudOpsError as error:  # a clean-up: the test's own outcome stands either way
                            warnings.warn(f"stack {stack['StackName']} left: {error}", stacklevel=1)

    def verified(self, release: Release, stage: str, kind: str = "author-live") -> None:
        """A passed verification of ``release``'s ``kind`` in ``stage``, recorded as deploy-environment does."""
        verified(self.sandbox, release, stage, kind)


def make_ops_app(
    sandbox: Sandbox,
    source: ReleaseSource,
    built: Release,
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    second_app: BuiltImage,
) -> OpsApp:
    name = f"ops-{uuid.uuid4().hex[:6]}"
    config = folder / "cloudops.toml"
    text = source.config.read_text()
    assert 'name = "commerce"' in text
    config.write_text(text.replace('name = "commerce"', f'name = "{name}"'))
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(config))
    first = built.model_copy(update={"application": name, "version": f"{built.version}-ops1"})
    # the second release's app image is another build of the app (``second_app``: it works, and answers /health
    # with another version), so a rollback visibly changes the stacks
    second = built.model_copy(
        update={"application": name, "version": f"{built.version}-ops2", "images": {**built.images, "app": second_app}}
    )
    for release in (first, second):
        save_release(sandbox.account("build"), BUILD_BUCKET, release)
    return OpsApp(name, load_settings(config), sandbox, built, (first, second))


def default_vpc(account: AccountSession) -> StageNetwork:
    """The network of a stage that asks for its account's default VPC, as the sandbox's stages do."""
    return networks.stage_network(account, "test", Network(default_vpc=True))


def stage_options(account: AccountSession, stage: str) -> StageOptions:
    """What a deploy gives the stage's environments besides the network, as the deploy reads it (its account's key,
    log bucket and monitoring role, from the bootstrap stack), with the stage settings' defaults."""
    return StageOptions(**vars(bootstrap.account_resources(account, stage)))
