"""moto's state across `cloudops sandbox down` and `up`: what every AWS API holds, kept in one file.

moto keeps everything in memory. On a clean stop (SIGTERM, what `sandbox down` sends) the process writes
every backend in use into the state file, in one pickle so that objects two services share (a stack's
resources and the ECS or RDS objects they are) stay one object; on start it loads them back before it
serves a request. The file holds the accounts' secrets (SSM SecureStrings, Secrets Manager), so it is
written with mode 0600, next to the sandbox's other private files, and only ever read from there.

NOTE: a moto process killed outright (SIGKILL, a crash) writes nothing: its state since the last clean
stop is lost, as a whole moto server's always was.
"""

from __future__ import annotations

import functools
import importlib
import io
import logging
import os
import pickle
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import LambdaType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto.core.base_backend import BackendDict

from sandbox.moto_env import STATE_ENV

LOG = logging.getLogger("sandbox.moto_state")


LOCKS = (type(threading.Lock()), type(threading.RLock()))
# A KMS key's key material (moto makes one for every key, the bootstrap's included), a Rust object pickle cannot
# take: kept as its PKCS#8 DER bytes, in the state file of mode 0600 with the accounts' other secrets.
PRIVATE_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)


def _private_key(der: bytes) -> Any:
    return serialization.load_der_private_key(der, password=None)


def _defaultdict(cls: type[defaultdict[Any, Any]], factory: Any) -> defaultdict[Any, Any]:
    """A defaultdict (or subclass, whatever its __init__ takes) with ``factory``; pickle then sets its items and
    attributes."""
    made = cls.__new__(cls)
    defaultdict.__init__(made, factory)
    return made


class _Pickler(pickle.Pickler):
    """Pickles moto's backends. A defaultdict is rebuilt without calling its class's __init__ (SSM's
    ``ParameterDict`` takes an account and a region), and a lambda factory that makes a
    ``defaultdict(dict)`` (SSM's tags) is kept as a factory pickle can name; a KMS key's private key as its
    DER bytes."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, LOCKS):  # a backend's lock: what it guarded is saved, the lock starts anew
            return (threading.Lock if isinstance(obj, LOCKS[0]) else threading.RLock, ())
        if isinstance(obj, PRIVATE_KEYS):
            der = obj.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return (_private_key, (der,))
        if not isinstance(obj, defaultdict):
            return NotImplemented
        factory = obj.default_factory
        if isinstance(factory, LambdaType) and factory.__name__ == "<lambda>":
            inner = factory()
            if type(inner) is not defaultdict or isinstance(inner.default_factory, LambdaType):
                return NotImplemented
            factory = functools.partial(defaultdict, inner.default_factory)
        return (_defaultdict, (type(obj), factory), getattr(obj, "__dict__", None) or None, None, iter(obj.items()))


# What a BackendDict holds besides its accounts (S3's bucket -> account map, say) is kept too; these are its
# identity and make-up, which the live one keeps.
OWN_ATTRIBUTES = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}


def in_use() -> dict[str, BackendDict[Any]]:
    """Every backend that holds an account, by where moto defines it ("moto.ecs.models:ecs_backends")."""
    loaded = {id(backends): backends for backends in BackendDict._instances if len(backends)}  # type: ignore[misc]
    named = {}
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("moto.") or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if attribute.endswith("_backends") and id(value) in loaded:
                named[f"{module_name}:{attribute}"] = loaded.pop(id(value))  # one name each (some are re-exported)
    return named


def save(path: Path, attempts: int = 5) -> int:
    """Write every backend in use to ``path`` (mode 0600, replaced whole); the bytes written."""
    for attempt in range(attempts):
        buffer = io.BytesIO()
        try:
            kept = {
                name: (dict(backends), {k: v for k, v in vars(backends).items() if k not in OWN_ATTRIBUTES})
                for name, backends in in_use().items()
            }
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(kept)
            break
        except RuntimeError:  # a request or the ECS runtime changed a dict meanwhile: take it again
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
        except (TypeError, AttributeError, pickle.PicklingError) as error:
            raise pickle.PicklingError(f"{unpicklable(kept)}: {error}") from error
    partial = path.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(buffer.getvalue())
    partial.replace(path)
    return len(buffer.getvalue())


def unpicklable(kept: dict[str, Any]) -> str:
    """Which backends cannot be pickled (to name them when saving fails)."""
    failing = []
    for name, value in kept.items():
        try:
            _Pickler(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        except Exception:
            failing.append(name)
    return ", ".join(failing) or "no single backend"


def load(path: Path) -> list[str]:
    """Put the backends saved in ``path`` back in place; the names of the services restored."""
    if not path.is_file():
        return []
    saved: dict[str, tuple[dict[str, Any], dict[str, Any]]] = pickle.loads(path.read_bytes())  # noqa: S301 - ours
    for name, (accounts, attributes) in saved.items():
        module, attribute = name.split(":")
        backends: BackendDict[Any] = getattr(importlib.import_module(module), attribute)
        backends.clear()
        backends.update(accounts)
        for attribute_name, value in attributes.items():
            setattr(backends, attribute_name, value)
        if backends not in BackendDict._instances:  # type: ignore[misc]
            BackendDict._instances.append(backends)  # type: ignore[misc]
    return sorted(name.split(".")[1] for name in saved)


def keep_from_environment() -> Callable[[], None]:
    """Load the state file the sandbox names; what saves it again when the server stops (moto's own signal
    handler turns SIGTERM and SIGINT into SystemExit, so the caller saves on the way out)."""
    value = os.environ.get(STATE_ENV)
    if not value:
        return lambda: None
    path = Path(value)
    try:
        restored = load(path)
    except Exception:  # a file from another moto version, say: start empty rather than not at all
        LOG.exception("moto state: %s could not be loaded; starting empty", path)
        restored = []
    if restored:
        print(f"moto state: restored {', '.join(restored)} from {path}", flush=True)

    def keep() -> None:
        try:
            print(f"moto state: saved {save(path)} bytes to {path}", flush=True)
        except Exception:
            LOG.exception("moto state: could not be saved to %s", path)

    return keep
