"""Cache keys: the signature of a node's whole upstream subgraph, never its id.

key(node) = sha256(node type, pack name and version, node code version, canonical JSON of its constants
(coerced, defaults filled in), (input name, key(upstream), output index) for each linked input, and the node's
fingerprint when it declares one). Because each key folds in its upstream keys, nodes are hashed once each in
topological order: linear in the size of the graph.

Non-deterministic nodes, constants that have no canonical form and fingerprints that fail get a fresh random
nonce, so they and everything downstream re-run every time; such keys are *volatile* and not worth storing.

A model library file (a select whose source is ``modelfiles.<kind>``) enters the key as its content hash, not its
name: renaming a checkpoint keeps the cache, replacing its weights does not. A file that is missing makes the node
volatile; it then fails when it runs, with the library's message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

from nodepacks.sdk import FileProvider, ModelProvider
from nodepacks.sdk.context import NoFiles, NoModels
from nodepacks.sdk.inputs import MODEL_FILE_SOURCE
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


def _type_prefix(entry: NodeEntry) -> str:
    """The part of every key that depends only on the node type and its pack."""
    return _encode([entry.schema.id, entry.pack.name, entry.pack.version, entry.schema.version])


def _model_file_inputs(entry: NodeEntry) -> tuple[tuple[str, str], ...]:
    """(input name, library kind) of the inputs whose widget picks a model library file."""
    found = []
    for spec in entry.schema.inputs:
        source = (spec.widget or {}).get("source")
        if isinstance(source, str) and source.startswith(MODEL_FILE_SOURCE):
            found.append((spec.name, source.removeprefix(MODEL_FILE_SOURCE)))
    return tuple(found)


def keys_for(
    resolved: ResolvedGraph, files: FileProvider | None = None, models: ModelProvider | None = None
) -> CacheKeys:
    """Return the cache key of every resolved node (``resolved`` must be free of errors); ``models`` hashes the
    model library files that nodes name."""
    files = files or NoFiles()
    models = models or NoModels()
    keys: dict[str, str] = {}
    volatile: set[str] = set()
    prefixes: dict[str, str] = {}
    model_inputs: dict[str, tuple[tuple[str, str], ...]] = {}
    sha256 = hashlib.sha256
    nodes = resolved.nodes
    for node_id in resolved.order:
        node = nodes[node_id]
        entry = node.entry
        schema = entry.schema
        prefix = prefixes.get(schema.id)
        if prefix is None:
            prefix = prefixes[schema.id] = _type_prefix(entry)
        fresh = schema.non_deterministic
        constants = node.constants
        picks = model_inputs.get(schema.id)
        if picks is None:
            picks = model_inputs[schema.id] = _model_file_inputs(entry)
        if picks:
            constants = dict(constants)
            for name, kind in picks:
                value = constants.get(name)
                if not isinstance(value, str) or not value:
                    continue
                try:
                    constants[name] = {"model_sha256": models.sha256(kind, value)}
                except Exception as exc:
                    logger.info(
                        "node %s: model file %s/%s: %s; the node will re-run", node_id, kind, value, exc
                    )
                    fresh = True
        try:
            material = prefix + _encode(constants)
        except (_NoCanonicalForm, ValueError):
            material = prefix
            fresh = True
        # JSON escapes control characters, so "\x00" separates the parts unambiguously.
        for name, upstream, output in node.links:
            if upstream in volatile:
                fresh = True
            material += f"\x00{name}\x00{keys[upstream]}\x00{output}"
        if schema.has_fingerprint and not fresh:
            try:
                fingerprint = entry.node_cls.fingerprint(node.constants, files)
            except Exception:
                logger.warning("fingerprint of node %s (%s) failed: it will re-run", node_id, schema.id)
                fresh = True
            else:
                if fingerprint is not None:
                    material += f"\x00fingerprint\x00{fingerprint}"
        if fresh:
            volatile.add(node_id)
            material += f"\x00nonce\x00{secrets.token_hex(16)}"
        keys[node_id] = sha256(material.encode()).hexdigest()
    return CacheKeys(keys, volatile)


def compute_cache_keys(
    graph: Graph,
    registry: NodeRegistry,
    *,
    outputs: list[str] | None = None,
    files: FileProvider | None = None,
    models: ModelProvider | None = None,
) -> dict[str, str]:
    """Return the cache key of every node the outputs need; raise ``GraphFormatError`` if the graph is invalid."""
    resolved = resolve_graph(graph, registry, outputs=outputs)
    if resolved.errors:
        raise GraphFormatError(resolved.errors)
    return keys_for(resolved, files, models).keys
