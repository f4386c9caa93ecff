"""The sandbox's RDS runtime: in moto's own process, it runs every RDS instance of a stage account as a MariaDB
server on the sandbox's Docker engine, as RDS would, and tells moto when each is available.

For each instance: its container (sandbox/sandbox/rds_runtime/servers.py) on the account's own network and on every
ECS cluster network of the account, reached by the instance's endpoint hostname; at its first start, the
snapshot it was restored from copied in (restore.py); its master user kept at the password moto holds (the
snapshot source's at first, the one ModifyDBInstance sets after). moto says ``creating`` (or
``resetting-master-credentials``) until the server answers with that password, then ``available``. A deleted
instance's container and data go. The build account's instances are not run: the snapshot flow keeps their
data on the sandbox's MariaDB itself (sandbox/sandbox/rds_databases.py).

It wakes when an instance or an ECS service changes, and every few seconds while an instance is not there yet.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path

import docker

from sandbox import moto_ecs_fixes, moto_rds_fixes
from sandbox.ecs_runtime.config import CONFIG_ENV, RdsRuntimeConfig, RuntimeConfig
from sandbox.ecs_runtime.networks import network_name
from sandbox.errors import SandboxError
from sandbox.rds_runtime import instances, restore, servers
from sandbox.rds_runtime.instances import InstanceView

BUSY_SECONDS, IDLE_SECONDS = 2.0, 30.0
LOG = logging.getLogger("sandbox.rds_runtime")


def account_network(account: str) -> str:
    """The account's own network, where its instances are before any ECS cluster exists (a VPC of sorts)."""
    return f"cloudops-rds-{account}"


class RdsRuntime:
    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self.wake = threading.Event()
        self.applied: dict[str, str | None] = {}  # instance key -> hash of the master password applied to its server
        self.seen: dict[str, float] = {}  # instance key -> when the runtime first saw it
        self.reported: set[str] = set()  # what was logged once (a missing base image, a failed restore)

    def config(self) -> RdsRuntimeConfig | None:
        try:
            return RuntimeConfig.model_validate_json(self.config_file.read_text()).rds
        except (OSError, ValueError):
            return None

    def runs(self, account: str) -> bool:
        config = self.config()
        return config is not None and account in config.accounts

    def run(self) -> None:
        moto_rds_fixes.runs_instances = self.runs
        moto_rds_fixes.on_change(self.wake.set)
        moto_ecs_fixes.on_change(self.wake.set)  # a new cluster: a network the instances join
        busy = True
        while True:
            self.wake.wait(BUSY_SECONDS if busy else IDLE_SECONDS)
            self.wake.clear()
            try:
                busy = self.reconcile()
            except Exception:  # the runtime must outlive any one failure; the next round tries again
                LOG.exception("RDS runtime: a round failed")
                busy = True

    def reconcile(self) -> bool:
        """One round; True while an instance is not available yet."""
        rds_config, docker_host = self.config(), self.docker_host()
        if rds_config is None or docker_host is None:
            return False
        client = docker.DockerClient(base_url=docker_host, timeout=300)
        try:
            client.ping()
        except docker.errors.DockerException:
            client.close()
            return True  # the engine is not up yet
        try:
            return self.reconcile_with(client, rds_config)
        finally:
            client.close()

    def reconcile_with(self, client: docker.DockerClient, rds_config: RdsRuntimeConfig) -> bool:
        deleted = moto_rds_fixes.take_deleted()  # before the instances are read: none of these is among them
        views = {v.key: v for v in instances.instances(set(rds_config.accounts))}
        for key, container in servers.servers(client).items():
            if key not in views:  # deleted, or of a moto that is gone (the sandbox restarted)
                LOG.info("RDS runtime: removing the server of %s", key)
                servers.remove_server(container)
                self.applied.pop(key, None)
        for account, region, identifier in deleted:
            if f"{account}/{region}/{identifier}" not in views:  # not made again meanwhile
                # NOTE: RDS would keep a final snapshot (DeletionPolicy: Snapshot); moto takes none, nor does this.
                servers.instance_folder(rds_config.data_dir, account, identifier).remove()
        busy = False
        for view in views.values():
            try:
                busy |= not self.reconcile_instance(client, rds_config, view)
            except Exception:  # one instance's trouble must not stop the others
                LOG.exception("RDS runtime: %s could not be reconciled", view.key)
                busy = True
        return busy

    def docker_host(self) -> str | None:
        try:
            return RuntimeConfig.model_validate_json(self.config_file.read_text()).docker_host
        except (OSError, ValueError):
            return None

    def reconcile_instance(self, client: docker.DockerClient, config: RdsRuntimeConfig, view: InstanceView) -> bool:
        """The instance's server towards what moto holds; True once it is there (and moto says available)."""
        started = time.monotonic()
        try:
            image = servers.ensure_image(client)
        except SandboxError as error:
            self.once(f"image:{error}", "RDS runtime: %s", error)
            instances.set_status(view, "failed")
            return True
        if image is not None and time.monotonic() - started > 1:
            LOG.info("RDS runtime: built the server image %s in %.0f s", image, time.monotonic() - started)
        if image is None:
            self.once(
                "base", "RDS runtime: no base image on the engine yet (build-images makes it); %s waits", view.key
            )
            return False
        self.seen.setdefault(view.key, time.monotonic())
        folder = servers.instance_folder(config.data_dir, view.account, view.identifier)
        networks = [account_network(view.account)] + [
            network_name(view.account, cluster) for cluster in instances.clusters(view.account, view.region)
        ]
        container = servers.ensure_server(
            client,
            key=view.key,
            name=servers.container_name(view.account, view.region, view.identifier),
            folder=folder,
            networks=networks,
            alias=view.address,
        )
        host = servers.address(container)
        wanted = (
            hashlib.sha256(view.master_password.get_secret_value().encode()).hexdigest()
            if view.master_password is not None
            else None
        )
        if view.status == "available" and folder.restored_marker.exists() and self.applied.get(view.key) == wanted:
            return True  # running, restored and with its password: an idle round asks nothing of the server
        admin = folder.admin_password()
        if host is None or not restore.answers(host, admin):
            return False  # still starting
        if not folder.restored_marker.exists():
            if view.snapshot:
                identifier = moto_rds_fixes.snapshot_identifier(view.snapshot)
                started = time.monotonic()
                try:
                    database = restore.restore(config.snapshots, identifier, host, admin)
                except SandboxError as error:
                    self.once(f"restore:{view.key}", "RDS runtime: %s cannot be restored: %s", view.key, error)
                    instances.set_status(view, "incompatible-restore")
                    return True
                LOG.info(
                    "RDS runtime: %s restored from %s (database %s) in %.1f s",
                    view.key,
                    view.snapshot,
                    database,
                    time.monotonic() - started,
                )
            folder.restored_marker.touch()
        if view.master_user and view.master_password is not None and self.applied.get(view.key) != wanted:
            restore.ensure_master(host, admin, view.master_user, view.master_password)
            self.applied[view.key] = wanted
        if view.status != "available":
            waited = time.monotonic() - self.seen[view.key]
            LOG.info(
                "RDS runtime: %s is available at %s (%s), %.1f s since the runtime first saw it",
                view.key,
                view.address,
                host,
                waited,
            )
            instances.set_available(view)
        return True

    def once(self, what: str, message: str, *args: object) -> None:
        if what not in self.reported:
            self.reported.add(what)
            LOG.warning(message, *args)


def start_from_environment() -> RdsRuntime | None:
    """Start the RDS runtime in this (moto's) process when the sandbox named its runtime configuration file."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return None
    LOG.setLevel(logging.INFO)
    runtime = RdsRuntime(Path(path))
    moto_rds_fixes.runs_instances = runtime.runs
    threading.Thread(target=runtime.run, name="sandbox-rds-runtime", daemon=True).start()
    return runtime
