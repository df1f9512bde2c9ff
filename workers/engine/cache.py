"""The cache store interface and the in-memory LRU store.

The engine asks the index which keys exist (``contains_many``, one query for the whole graph), then loads only
the entries it needs (``get``) and stores what it computes (``put``). A persistent store (Postgres index plus
blob store) implements the same protocol in the backend.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from nodepacks.sdk import UI

GiB = 1024**3


@dataclasses.dataclass(slots=True)
class CacheEntry:
    """A node's stored result: its output values and types, its UI data, and its size in bytes."""

    outputs: tuple[Any, ...]
    output_types: tuple[str, ...]
    ui: UI | None
    node_type: str
    size: int


class CacheStore(Protocol):
    """Where node results live between runs."""

    def contains_many(self, keys: Sequence[str]) -> set[str]:
        """Return the subset of ``keys`` the store holds (an index lookup: no values are loaded)."""
        ...

    def get(self, key: str) -> CacheEntry | None:
        """Return the entry stored under ``key``, or None if it is missing (or was evicted meanwhile)."""
        ...

    def put(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` under ``key``."""
        ...

    def flush(self) -> None:
        """Make every ``put`` so far durable (a store may batch writes); called when a run ends."""
        ...


class MemoryCache:
    """A thread-safe LRU cache holding entries in memory within a byte budget."""

    def __init__(self, max_bytes: int = 2 * GiB) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def contains_many(self, keys: Sequence[str]) -> set[str]:
        """Return the subset of ``keys`` held now."""
        entries = self._entries
        with self._lock:
            return {key for key in keys if key in entries}

    def get(self, key: str) -> CacheEntry | None:
        """Return the entry under ``key`` (marking it recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry``, evicting the least recently used entries to stay within the budget.

        An entry larger than the whole budget is not stored: keeping it would evict everything else.
        """
        if entry.size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.bytes -= previous.size
            self._entries[key] = entry
            self.bytes += entry.size
            while self.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.size
                self.evictions += 1

    def flush(self) -> None:
        """Nothing to do: memory holds every entry at once."""

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def stats(self) -> dict[str, int]:
        """Return the counters: entries, bytes, max_bytes, hits, misses, evictions."""
        with self._lock:
            return {
                "entries": len(self._entries),
                "bytes": self.bytes,
                "max_bytes": self.max_bytes,
                "hits": self.hits,
                "misses": self.misses,
                "evictions": self.evictions,
            }


_SMALL_SCALARS = (int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SMALL_SCALARS)


def estimate_size(value: Any) -> int:
    """Return roughly how many bytes ``value`` holds: array data, string lengths, containers summed.

    Walks nested containers with an explicit stack (no recursion) and counts each object once.
    """
    if type(value) is tuple and all(type(item) in _SCALAR_TYPES for item in value):
        return 16 * len(value)  # the common case of a node's outputs: what the general walk would count
    total = 0
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, _SMALL_SCALARS):
            total += 8
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            total += item.nbytes
        elif isinstance(item, str | bytes | bytearray):
            total += len(item)
        elif isinstance(item, memoryview):
            total += item.nbytes
        elif isinstance(item, list | tuple | set | frozenset):
            total += 8 * len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 16 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        else:
            total += sys.getsizeof(item)
    return total
