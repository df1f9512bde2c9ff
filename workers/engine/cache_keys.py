"""Cache keys: the signature of a node's whole upstream subgraph, never its id.

key(node) = sha256(node type, pack name and version, node code version, canonical JSON of its constants
(coerced, defaults filled in), (input name, key(upstream), output index) for each linked input, and the node's
fingerprint when it declares one). Because each key folds in its upstream keys, nodes are hashed once each in
topological order: linear in the size of the graph.

Non-deterministic nodes, constants that have no canonical form and fingerprints that fail get a fresh random
nonce, so they and everything downstream re-run every time; such keys are *volatile* and not worth storing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

from nodepacks.sdk import FileProvider
from nodepacks.sdk.context import NoFiles
from workers.engine.graph import Graph, GraphFormatError
from workers.engine.registry import NodeEntry, NodeRegistry
from workers.engine.validation import ResolvedGraph, resolve_graph

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class CacheKeys:
    """Keys by node id, and the ids whose keys are fresh each run (never found in a cache)."""

    keys: dict[str, str]
    volatile: set[str]


class _NoCanonicalForm(TypeError):
    pass


def _canonical_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return {"ndarray": [str(value.dtype), list(value.shape), digest]}
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise _NoCanonicalForm(type(value).__name__)


_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_canonical_default).encode


_type_prefixes: dict[tuple[str, str, str, str], bytes] = {}


def _type_prefix(entry: NodeEntry) -> bytes:
    """The part of every key that depends only on the node type and its pack: encoded once."""
    parts = (entry.schema.id, entry.pack.name, entry.pack.version, entry.schema.version)
    prefix = _type_prefixes.get(parts)
    if prefix is None:
        prefix = _type_prefixes[parts] = _encode(list(parts)).encode()
    return prefix


def keys_for(resolved: ResolvedGraph, files: FileProvider | None = None) -> CacheKeys:
    """Return the cache key of every resolved node (``resolved`` must be free of errors)."""
    files = files or NoFiles()
    keys: dict[str, str] = {}
    volatile: set[str] = set()
    sha256 = hashlib.sha256
    nodes = resolved.nodes
    for node_id in resolved.order:
        node = nodes[node_id]
        entry = node.entry
        schema = entry.schema
        digest = sha256(_type_prefix(entry))
        fresh = schema.non_deterministic
        try:
            digest.update(_encode(node.constants).encode())
        except (_NoCanonicalForm, ValueError):
            fresh = True
        for name, upstream, output in node.links:
            if upstream in volatile:
                fresh = True
            digest.update(f"\x00{name}\x00{keys[upstream]}\x00{output}".encode())
        if schema.has_fingerprint and not fresh:
            try:
                fingerprint = entry.node_cls.fingerprint(node.constants, files)
            except Exception:
                logger.warning("fingerprint of node %s (%s) failed: it will re-run", node_id, schema.id)
                fresh = True
            else:
                if fingerprint is not None:
                    digest.update(f"\x00fingerprint\x00{fingerprint}".encode())
        if fresh:
            volatile.add(node_id)
            digest.update(secrets.token_bytes(16))
        keys[node_id] = digest.hexdigest()
    return CacheKeys(keys, volatile)


def compute_cache_keys(
    graph: Graph,
    registry: NodeRegistry,
    *,
    outputs: list[str] | None = None,
    files: FileProvider | None = None,
) -> dict[str, str]:
    """Return the cache key of every node the outputs need; raise ``GraphFormatError`` if the graph is invalid."""
    resolved = resolve_graph(graph, registry, outputs=outputs)
    if resolved.errors:
        raise GraphFormatError(resolved.errors)
    return keys_for(resolved, files).keys
