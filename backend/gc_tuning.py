"""Keep CPython's full garbage collections off the request and run paths.

A web or worker process holds ~150,000 long-lived objects (Django, DRF, the node packs). A full (generation 2)
collection walks all of them: 0.35-0.6 s of CPU here, and submitting or recording a 500-node run allocates
enough containers to trigger one, so a POST of a 500-node graph took 0.7-1.4 s of which one collection was
0.37-0.58 s (measured with ``gc.callbacks``). ``gc.freeze()`` moves every object alive at that moment into the
permanent generation, which collections skip; objects created later are collected as before.

``freeze()`` is called once the process has started (asgi.py, a Celery worker process) and once more after its
first run (node packs and the engine are loaded lazily by the first run).

``collections_deferred()`` holds automatic collections off while one large request builds its objects (a
20,000-node submit keeps ~300,000 containers alive until it ends): each young or middle collection meanwhile walks
them again, and one that reached the old generation paused the whole process, event loop included, for 50-400
ms. The objects die by reference counting when the request ends, so nothing is left for a collector to find.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_after_first_run = threading.Event()
_deferring = 0
_was_enabled = True
_deferring_lock = threading.Lock()


# Young-generation threshold: CPython's default (700) collects every 700 net container allocations. A web
# process with a few hundred open websockets allocates that many in a fraction of a millisecond of fan-out,
# survivors pile up in the old generation, and a full collection (40-60 ms with 200 sockets, each holding a
# consumer, a protocol and their tasks) followed every 3-8 s, stalling every socket's delivery at once. With
# 20,000 most short-lived containers die before a collection sees them: full collections become rare.
YOUNG_THRESHOLD = 20_000


def freeze() -> None:
    """Collect what is garbage now, then exempt every surviving object from later collections."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_after_first_run() -> None:
    """Freeze once more after this process's first run: it loaded the node packs and warmed the caches."""
    if not _after_first_run.is_set():
        _after_first_run.set()
        freeze()


# A request body at least this large (a graph of ~2,000 nodes) is parsed, validated and stored with collections
# held off; smaller ones allocate too little for a collection to matter, and holding the collector off for
# every request would let overlapping ones keep it off for good.
DEFER_FOR_BODY_BYTES = 256 * 1024
# A run of at least this many nodes is executed with collections held off, for at most DEFER_RUN_SECONDS: its
# graph, engine state and events are walked by every collection while it runs (15-25% of a 5,000-chain's CPU).
DEFER_FOR_RUN_NODES = 1000
DEFER_RUN_SECONDS = 60.0


class _Deferral:
    """One holder of the collector: ends once, by its block or by its time limit, whichever comes first."""

    def __init__(self) -> None:
        self.ended = False

    def begin(self) -> None:
        global _deferring, _was_enabled
        with _deferring_lock:
            if _deferring == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _deferring += 1

    def end(self) -> None:
        global _deferring
        with _deferring_lock:
            if self.ended:
                return
            self.ended = True
            _deferring -= 1
            if _deferring == 0 and _was_enabled:
                gc.enable()


@contextmanager
def collections_deferred(when: bool = True, at_most: float | None = None) -> Iterator[None]:
    """Hold automatic garbage collections off (in every thread: the collector is process-wide) while the block
    runs, when ``when``, and for ``at_most`` seconds if given; overlapping holders turn them back on when the
    last one ends."""
    if not when:
        yield
        return
    deferral = _Deferral()
    deferral.begin()
    timer = None
    if at_most is not None:
        timer = threading.Timer(at_most, deferral.end)
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
        deferral.end()


def large_body(request: object) -> bool:
    """True when the request declares a body of at least ``DEFER_FOR_BODY_BYTES``."""
    meta = getattr(request, "META", {})
    try:
        return int(meta.get("CONTENT_LENGTH") or 0) >= DEFER_FOR_BODY_BYTES
    except ValueError:
        return False
