"""The Flowyard execution engine: plain Python, no Django, no Celery.

``Engine(registry, cache).run(graph)`` validates a graph, plans what its outputs need, and runs it with
results cached by the signature of each node's upstream subgraph.
"""

from workers.engine.cache import CacheEntry, CacheStore, MemoryCache, estimate_size
from workers.engine.cache_keys import compute_cache_keys
from workers.engine.events import Event
from workers.engine.executor import Engine, RunResult
from workers.engine.graph import Graph, GraphError, GraphFormatError, GraphNode, Link, parse_graph
from workers.engine.registry import NodeRegistry, default_registry
from workers.engine.validation import OptionSources, validate_graph

__all__ = [
    "CacheEntry",
    "CacheStore",
    "Engine",
    "Event",
    "Graph",
    "GraphError",
    "GraphFormatError",
    "GraphNode",
    "Link",
    "MemoryCache",
    "NodeRegistry",
    "OptionSources",
    "RunResult",
    "compute_cache_keys",
    "default_registry",
    "estimate_size",
    "parse_graph",
    "validate_graph",
]
