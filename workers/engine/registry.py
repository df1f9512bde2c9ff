"""The node registry: which node types exist, from which pack, frozen once built."""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from nodepacks.sdk import API_VERSION, Node, NodeSchema, Pack, PackError
from workers.engine.graph import Graph

DEFAULT_PACK_MODULES = ("nodepacks.core", "nodepacks.diffusion")


class RegistryError(ValueError):
    """Packs that cannot be registered together."""


@dataclass(frozen=True)
class NodeEntry:
    """A registered node type: its class, schema, pack, and the one instance the engine calls."""

    node_cls: type[Node]
    schema: NodeSchema
    pack: Pack
    instance: Node

    @property
    def pack_version(self) -> str:
        """The version of the pack the node comes from."""
        return self.pack.version


class NodeRegistry:
    """An immutable mapping of node type id to ``NodeEntry``."""

    def __init__(self, packs: Iterable[Pack]) -> None:
        self._packs: dict[str, Pack] = {}
        self._entries: dict[str, NodeEntry] = {}
        for pack in packs:
            if pack.name in self._packs:
                raise RegistryError(f"pack {pack.name!r} is registered twice")
            if not pack.supports_api(API_VERSION):
                raise RegistryError(
                    f"pack {pack.name} {pack.version} supports SDK API {pack.sdk_api}, this is {API_VERSION}"
                )
            self._packs[pack.name] = pack
            for node_cls in pack.nodes:
                schema = node_cls.schema()
                if schema.id in self._entries:
                    other = self._entries[schema.id].pack.name
                    raise RegistryError(
                        f"node type {schema.id!r} is declared by both {other} and {pack.name}"
                    )
                self._entries[schema.id] = NodeEntry(node_cls, schema, pack, node_cls())

    @classmethod
    def from_modules(cls, modules: Iterable[str] = DEFAULT_PACK_MODULES) -> NodeRegistry:
        """Build a registry from modules that each define ``pack = Pack(...)``."""
        return cls(load_pack(module) for module in modules)

    def get(self, node_type: str) -> NodeEntry | None:
        """Return the entry for ``node_type``, or None when no pack declares it."""
        return self._entries.get(node_type)

    def __contains__(self, node_type: object) -> bool:
        return node_type in self._entries

    def __iter__(self) -> Iterator[NodeEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def packs(self) -> dict[str, Pack]:
        """The registered packs by name."""
        return dict(self._packs)

    def packs_used(self, graph: Graph) -> dict[str, str]:
        """Return {pack name: version} for the packs the graph's node types come from."""
        used: dict[str, str] = {}
        for node in graph.nodes.values():
            entry = self._entries.get(node.type)
            if entry is not None:
                used[entry.pack.name] = entry.pack.version
        return dict(sorted(used.items()))

    def catalog(self) -> dict[str, Any]:
        """The node catalog as served by ``/api/nodes`` and ``flowyard nodes --json``."""
        return self._catalog

    @cached_property
    def _catalog(self) -> dict[str, Any]:
        nodes = []
        for entry in sorted(self._entries.values(), key=lambda e: (e.schema.category, e.schema.id)):
            data = entry.schema.to_json()
            data["pack"] = {"name": entry.pack.name, "version": entry.pack.version}
            nodes.append(data)
        packs = [
            {
                "name": p.name,
                "version": p.version,
                "display_name": p.display_name or p.name,
                "builtin": p.builtin,
            }
            for p in self._packs.values()
        ]
        return {"api_version": API_VERSION, "packs": packs, "nodes": nodes}

    @cached_property
    def etag(self) -> str:
        """A strong ETag of the catalog: changes whenever a node schema or pack version changes."""
        body = json.dumps(self._catalog, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(body).hexdigest()[:32]


def load_pack(module_name: str) -> Pack:
    """Import ``module_name`` and return its ``pack``; raise ``PackError`` if it has none."""
    module = importlib.import_module(module_name)
    pack = getattr(module, "pack", None)
    if not isinstance(pack, Pack):
        raise PackError(f"module {module_name} defines no 'pack = Pack(...)'")
    return pack


_default: NodeRegistry | None = None


def default_registry() -> NodeRegistry:
    """The registry of the built-in packs, built once per process."""
    global _default
    if _default is None:
        _default = NodeRegistry.from_modules(DEFAULT_PACK_MODULES)
    return _default
