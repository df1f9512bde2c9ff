import threading
from typing import Any

import numpy as np

from nodepacks.sdk import Audio
from workers.engine import CacheEntry, MemoryCache, estimate_size


def entry(size: int, node_type: str = "t") -> CacheEntry:
    return CacheEntry(outputs=(size,), output_types=("INT",), ui=None, node_type=node_type, size=size)


def test_get_returns_what_put_stored_and_counts_hits_and_misses() -> None:
    cache = MemoryCache()
    cache.put("a", entry(10))
    assert cache.get("a") == entry(10)
    assert cache.get("b") is None
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.contains_many(["a", "b", "c"]) == {"a"}


def test_the_least_recently_used_entries_go_first_when_over_budget() -> None:
    cache = MemoryCache(max_bytes=100)
    cache.put("a", entry(40))
    cache.put("b", entry(40))
    cache.get("a")  # now b is the least recently used
    cache.put("c", entry(40))
    assert cache.contains_many(["a", "b", "c"]) == {"a", "c"}
    assert cache.bytes == 80 and cache.evictions == 1


def test_replacing_an_entry_counts_its_bytes_once() -> None:
    cache = MemoryCache(max_bytes=100)
    cache.put("a", entry(60))
    cache.put("a", entry(70))
    assert cache.bytes == 70 and len(cache) == 1 and cache.evictions == 0


def test_an_entry_larger_than_the_budget_is_not_stored() -> None:
    cache = MemoryCache(max_bytes=100)
    cache.put("small", entry(10))
    cache.put("huge", entry(1000))
    assert cache.contains_many(["small", "huge"]) == {"small"}


def test_concurrent_puts_keep_the_byte_count_exact() -> None:
    cache = MemoryCache(max_bytes=1000)

    def fill(prefix: str) -> None:
        for i in range(500):
            cache.put(f"{prefix}{i}", entry(7))

    threads = [threading.Thread(target=fill, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.bytes == 7 * len(cache) <= 1000
    assert cache.evictions == 2000 - len(cache)


def test_sizes_are_estimated_from_arrays_strings_and_containers() -> None:
    image = np.zeros((1, 64, 64, 3), dtype=np.float32)
    assert estimate_size(image) == 64 * 64 * 3 * 4
    assert estimate_size("hello") == 5
    assert estimate_size((image, image)) == 64 * 64 * 3 * 4 + 16  # the same array counted once
    audio = Audio(samples=np.zeros((2, 1000), dtype=np.float32), sample_rate=44100)
    assert estimate_size(audio) == 8000 + 8
    nested: list[Any] = []
    for _ in range(100_000):  # deep nesting must not hit the recursion limit
        nested = [nested]
    assert estimate_size(nested) == 8 * 100_000
