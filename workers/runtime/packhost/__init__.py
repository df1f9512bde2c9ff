"""Isolated execution of third-party node packs: one environment and one host process per pack version.

- ``envs.PackEnvironments``: verified extraction, a venv per pack version with its own pins and the host's
  numpy/pillow/pydantic/torch (never its own), reused across runs, garbage-collectable.
- ``client.PackHost`` / ``PackHostPool``: a confined host process per environment (``sandbox``), called
  over a SOCK_SEQPACKET socket with arrays in sealed memfds (``hostside.wire``).
- ``remote``: proxy node classes and ``registry_with_packs`` for the engine.

See docs/node-packs.md, "Isolation at run time".
"""

from workers.runtime.packhost.client import PackHost, PackHostError, PackHostPool, RemoteError
from workers.runtime.packhost.envs import PackEnv, PackEnvError, PackEnvironments
from workers.runtime.packhost.remote import (
    InstalledPack,
    RemoteNode,
    default_environments,
    default_pool,
    registry_with_packs,
    remote_pack,
)
from workers.runtime.packhost.sandbox import HostLimits, bwrap_probe, sandbox_mode

__all__ = [
    "HostLimits",
    "InstalledPack",
    "PackEnv",
    "PackEnvError",
    "PackEnvironments",
    "PackHost",
    "PackHostError",
    "PackHostPool",
    "RemoteError",
    "RemoteNode",
    "bwrap_probe",
    "default_environments",
    "default_pool",
    "registry_with_packs",
    "remote_pack",
    "sandbox_mode",
]
