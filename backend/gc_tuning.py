"""Keep CPython's full garbage collections off the request and run paths.

A web or worker process holds ~150,000 long-lived objects (Django, DRF, the node packs). A full (generation 2)
collection walks all of them: 0.35-0.6 s of CPU here, and submitting or recording a 500-node run allocates
enough containers to trigger one, so a POST of a 500-node graph took 0.7-1.4 s of which one collection was
0.37-0.58 s (measured with ``gc.callbacks``). ``gc.freeze()`` moves every object alive at that moment into the
permanent generation, which collections skip; objects created later are collected as before.

``freeze()`` is called once the process has started (asgi.py, a Celery worker process) and once more after its
first run (node packs and the engine are loaded lazily by the first run).
"""

from __future__ import annotations

import gc
import threading

_after_first_run = threading.Event()


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
