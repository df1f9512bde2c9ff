"""Installed packs at run time: a workspace's node registry, with each installed pack version isolated.

``load_packs(workspace, pinned)`` picks the pack versions a run uses (the workspace's installs, or the versions a
workflow version pinned when they are still available), makes sure each has its environment (archives come from
the blob store; ``settings.FLOWYARD_PACK_ENV_ROOT``) and a description of its nodes, and returns the registry:
the built-in packs plus ``RemoteNode`` proxies that execute in this process's ``PackHostPool``.

Registries are cached per process under the *fingerprint* of what they hold (built-in modules and the
(name, version, archive sha256) of each pack version), so submitting and running do not rebuild or describe
anything; an install, upgrade or removal changes the fingerprint, in every process, with nothing to notify.
Describing a version the first time starts its host (in whichever process builds the registry first: the web
process at submit time, a worker otherwise); the description is kept in the environment's folder and its node
schemas are recorded on the version row for ``/api/nodes?workspace=``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from backend.accounts.exceptions import ApiError
from backend.accounts.models import Workspace
from backend.registry.models import NodePackVersion, TeamPackInstall
from workers.engine import GraphError, NodeRegistry
from workers.engine.graph import Graph
from workers.engine.registry import load_pack
from workers.runtime.packhost import PackEnvironments, PackHostPool, default_pool, registry_with_packs
from workers.runtime.packhost.remote import describe

logger = logging.getLogger(__name__)

CACHE_SIZE = 16
_lock = threading.Lock()
_cache: OrderedDict[tuple, LoadedPacks] = OrderedDict()
_environments: dict[Path, PackEnvironments] = {}


@dataclass(frozen=True)
class LoadedPacks:
    """A workspace's registry, the pack versions in it and the ones that could not be loaded (and why)."""

    registry: NodeRegistry
    versions: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by archive sha256: schemas


def pack_environments() -> PackEnvironments:
    """This process's pack environments under ``settings.FLOWYARD_PACK_ENV_ROOT``."""
    root = Path(settings.FLOWYARD_PACK_ENV_ROOT).resolve()
    with _lock:
        if root not in _environments:
            _environments[root] = PackEnvironments(root)
        return _environments[root]


def pack_host_pool() -> PackHostPool:
    """This process's warm pack hosts, reused across runs and closed when the process exits."""
    return default_pool()


def is_available(version: NodePackVersion) -> bool:
    """True when a run may use this version: active, yanked or not (a pin outlives a yank)."""
    return version.status == NodePackVersion.Status.ACTIVE


def pack_versions_for(
    workspace: Workspace | int, pinned: Mapping[str, str] | None = None
) -> list[NodePackVersion]:
    """The pack versions a run in ``workspace`` uses, by pack name.

    Each installed pack at its installed version, unless ``pinned`` (a workflow version's ``packs``) names
    another version of it that is still available: then that one. Packs the workspace lacks are never used.
    """
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else int(workspace)
    if not _has_installs(workspace_id):
        return []  # most workspaces: the built-in packs only
    installs = list(
        TeamPackInstall.objects.filter(workspace_id=workspace_id)
        .select_related("pack", "version")
        .order_by("pack__name")
    )
    pinned = pinned or {}
    wanted = [
        (i.pack_id, pinned[i.pack.name])
        for i in installs
        if pinned.get(i.pack.name, i.version.version) != i.version.version
    ]
    others: dict[tuple[int, str], NodePackVersion] = {}
    if wanted:
        for row in NodePackVersion.objects.filter(
            pack_id__in=[pack_id for pack_id, _ in wanted], version__in=[v for _, v in wanted]
        ):
            others[(row.pack_id, row.version)] = row
    chosen = []
    for install in installs:
        version = install.version
        other = others.get((install.pack_id, pinned.get(install.pack.name, "")))
        if other is not None and is_available(other):
            version = other
        version.pack = install.pack
        chosen.append(version)
    return chosen


def _has_installs(workspace_id: int) -> bool:
    """Whether the workspace installed any pack. Written out: the ORM took longer to build the installs query
    (joins, ordering) than a small run takes to execute, and every submit and every run asks (issue 14)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT 1 FROM "{TeamPackInstall._meta.db_table}" WHERE "workspace_id" = %s LIMIT 1',
            [workspace_id],
        )
        return cursor.fetchone() is not None


def load_packs(workspace: Workspace | int, pinned: Mapping[str, str] | None = None) -> LoadedPacks:
    """The registry of a run in ``workspace`` (see ``pack_versions_for``), built once per fingerprint."""
    versions = pack_versions_for(workspace, pinned)
    builtin = tuple(settings.FLOWYARD_NODE_PACKS)
    root = Path(settings.FLOWYARD_PACK_ENV_ROOT).resolve()
    key = (builtin, str(root), tuple((v.pack.name, v.version, v.archive_sha256) for v in versions))
    with _lock:
        loaded = _cache.get(key)
        if loaded is not None:
            _cache.move_to_end(key)
    if loaded is None:
        # Built outside the lock, so a first build does not hold up other workspaces; two threads building
        # the same one is safe (the environments' file locks), the second finding what the first made.
        loaded = _build(versions, builtin)
        with _lock:
            _cache[key] = loaded
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    _record_schemas(versions, loaded)
    return loaded


def forget_loaded_packs() -> None:
    """Drop every cached registry (tests; the fingerprint already keeps installs and registries in step)."""
    with _lock:
        _cache.clear()


def _build(versions: list[NodePackVersion], builtin: tuple[str, ...]) -> LoadedPacks:
    from backend.storage.blobs import get_blob_store

    if not versions:
        return LoadedPacks(NodeRegistry(load_pack(module) for module in builtin))
    environments, pool = pack_environments(), pack_host_pool()
    usable = []
    unavailable: dict[str, str] = {}
    nodes: dict[str, list[dict[str, Any]]] = {}
    for version in versions:
        name, sha = version.pack.name, version.archive_sha256

        def archive(sha: str = sha) -> Any:
            return get_blob_store().open(sha)

        try:
            env = environments.ensure(archive, sha)
            description = describe(env, pool)
        except Exception as exc:
            logger.exception("pack %s %s cannot be loaded", name, version.version)
            unavailable[name] = f"pack {name} {version.version} cannot be loaded on this server: {exc}"
            continue
        nodes[sha] = [
            {k: v for k, v in node.items() if k != "has_fingerprint"} for node in description["nodes"]
        ]
        usable.append((name, version.version, archive, sha))
    registry = registry_with_packs(usable, environments=environments, pool=pool, builtin_modules=builtin)
    for name, number, _, _ in usable:
        if name not in registry.packs:
            unavailable[name] = f"pack {name} {number} clashes with another pack's name or node types"
    loaded_versions = {v.pack.name: v.version for v in versions if v.pack.name in registry.packs}
    return LoadedPacks(registry, loaded_versions, unavailable, nodes)


def _record_schemas(versions: list[NodePackVersion], loaded: LoadedPacks) -> None:
    """Record described schemas on versions that have none yet (again on a later call if it rolled back)."""
    from backend.registry.actions import do_record_node_schemas

    for version in versions:
        if version.nodes_recorded_at is None and version.archive_sha256 in loaded.nodes:
            do_record_node_schemas(version, loaded.nodes[version.archive_sha256])


def check_packs(
    workspace: Workspace, loaded: LoadedPacks, graph: Graph, pinned: Mapping[str, str] | None
) -> None:
    """Raise ``ApiError`` (400) when nodes of ``graph`` come from packs the workspace lacks or cannot load.

    The detail names each pack; each error names its node, with ``code`` (``missing_pack`` or
    ``pack_unavailable``), ``pack`` and the ``install`` body a team admin POSTs to install it.
    """
    nodes = graph.nodes
    builtin = set(loaded.registry.packs) - set(loaded.versions)  # the packs of FLOWYARD_NODE_PACKS
    errors: list[dict[str, Any]] = []
    summaries: dict[str, str] = {}
    for node_id, node in nodes.items():
        name = node.type.split(".", 1)[0]
        if node.type in loaded.registry or "." not in node.type or name in builtin:
            continue
        version = (pinned or {}).get(name)
        install = {"pack": name, "version": version}
        if name in loaded.unavailable:
            code, why = "pack_unavailable", loaded.unavailable[name]
            summaries[name] = why
        elif name not in loaded.versions:
            what = f"pack {name} {version}" if version else f"pack {name}"
            code, why = "missing_pack", f"comes from {what}, which this workspace has not installed"
            summaries[name] = (
                f"it uses {what}, which this workspace has not installed; a team admin can install it: "
                f"POST /api/workspaces/{workspace.pk}/packs {json.dumps(install)}"
            )
        else:
            continue  # an installed pack without this node type: validation names the unknown type
        message = f"{node.type} {why}" if code == "missing_pack" else f"{node.type}: {why}"
        error = GraphError(code, message, node=node_id).to_json()
        errors.append({**error, "pack": name, "install": install})
    if errors:
        raise ApiError(f"The graph cannot run: {'; '.join(summaries.values())}.", errors)
