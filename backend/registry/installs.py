"""What a workspace has installed: for the node catalog, the pack host and workflows that name packs."""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

from django.db.models import QuerySet

from backend.accounts.models import Workspace
from backend.registry.models import NodePackVersion, TeamPackInstall
from workers.engine.registry import NodeRegistry, default_registry


class InstalledPack(NamedTuple):
    """One installed pack pinned to a version: what the isolated pack host fetches and loads."""

    name: str
    version: str
    archive_sha256: str
    manifest: dict[str, Any]


def _installs(workspace: Workspace | int) -> QuerySet[TeamPackInstall]:
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else int(workspace)
    return (
        TeamPackInstall.objects.filter(workspace_id=workspace_id)
        .select_related("pack", "version")
        .order_by("pack__name")
    )


def installed_pack_versions(workspace: Workspace | int) -> list[InstalledPack]:
    """The workspace's installed packs as (name, version, archive sha256, manifest), by name.

    The archive is in the blob store under its sha256; the manifest is the one the validator accepted.
    """
    return [
        InstalledPack(i.pack.name, i.version.version, i.version.archive_sha256, i.version.manifest)
        for i in _installs(workspace)
    ]


def installed_packs_used(workspace: Workspace | int, graph: dict[str, Any]) -> dict[str, str]:
    """{pack name: installed version} for the installed packs whose node types ``graph`` uses (by prefix)."""
    prefixes = {
        node["type"].split(".", 1)[0]
        for node in (graph.get("nodes") or {}).values()
        if isinstance(node, dict) and isinstance(node.get("type"), str) and "." in node["type"]
    }
    if not prefixes:
        return {}
    return {i.pack.name: i.version.version for i in _installs(workspace).filter(pack__name__in=prefixes)}


def workspace_catalog(workspace: Workspace | None, registry: NodeRegistry | None = None) -> tuple[dict, str]:
    """The node catalog of ``workspace``: the built-in packs plus its installed packs, and its ETag.

    Installed nodes come from the schemas recorded on the version rows; a version whose schemas are not
    known yet (import check off, not loaded by the pack host) is listed in ``packs`` with ``nodes_known:
    false``. The ETag changes on install, upgrade, removal and when schemas are recorded.
    """
    registry = registry or default_registry()
    base = registry.catalog()
    if workspace is None:
        return base, registry.etag
    installs = list(_installs(workspace))
    if not installs:
        return base, registry.etag
    builtin_types = {node["type"] for node in base["nodes"]}
    packs = list(base["packs"])
    nodes = list(base["nodes"])
    state = []
    for install in installs:
        pack, version = install.pack, install.version
        packs.append(
            {
                "name": pack.name,
                "version": version.version,
                "display_name": pack.display_name,
                "builtin": False,
                "installed": True,
                "nodes_known": version.nodes_recorded_at is not None,
                "yanked": version.yanked,
                "deprecated": version.deprecated or None,
            }
        )
        for schema in version.nodes:
            if schema.get("type") in builtin_types:
                continue
            nodes.append({**schema, "pack": {"name": pack.name, "version": version.version}})
        state.append(
            [pack.name, version.pk, version.yanked, version.deprecated, str(version.nodes_recorded_at)]
        )
    digest = hashlib.sha256(json.dumps([registry.etag, state], separators=(",", ":")).encode()).hexdigest()
    return {"api_version": base["api_version"], "packs": packs, "nodes": nodes}, digest[:32]


def missing_packs(
    workspace: Workspace, recorded: dict[str, str], graph: dict[str, Any] | None = None
) -> list[dict]:
    """The packs a workflow version needs that ``workspace`` lacks or has at another version.

    ``recorded`` is ``WorkflowVersion.packs`` ({name: version} at save time); node types of ``graph`` that no
    built-in pack declares name their pack by their prefix (``demo.Example`` → ``demo``). A recorded version
    that is still available runs even when another one is installed (backend/registry/runtime.py), so
    ``other_version`` means the recorded one is gone. Each entry:
    ``{pack, version, installed_version, status: missing|other_version, message, install: {pack, version}}``.
    """
    registry = default_registry()
    wanted: dict[str, str | None] = {
        name: version for name, version in recorded.items() if name not in registry.packs
    }
    for node in ((graph or {}).get("nodes") or {}).values():
        node_type = node.get("type") if isinstance(node, dict) else None
        if isinstance(node_type, str) and "." in node_type and node_type not in registry:
            wanted.setdefault(node_type.split(".", 1)[0], None)
    if not wanted:
        return []
    installed = {i.pack.name: i.version.version for i in _installs(workspace)}
    available = set(
        NodePackVersion.objects.filter(
            pack__name__in=[name for name, version in wanted.items() if version],
            status=NodePackVersion.Status.ACTIVE,
        ).values_list("pack__name", "version")
    )
    problems = []
    for name, version in sorted(wanted.items()):
        have = installed.get(name)
        if have is not None and (version is None or have == version or (name, version) in available):
            continue
        if have is None:
            what = f"pack {name} {version}" if version else f"pack {name}"
            message = f"This workflow uses {what}; the workspace does not have it installed."
            status = "missing"
        else:
            message = f"This workflow uses pack {name} {version}; the workspace has {have} installed."
            status = "other_version"
        problems.append(
            {
                "pack": name,
                "version": version,
                "installed_version": have,
                "status": status,
                "message": message,
                "install": {"pack": name, "version": version},
            }
        )
    return problems
