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


def freeze() -> None:
    """Collect what is garbage now, then exempt every surviving object from later collections."""
    gc.collect()
    gc.freeze()


def freeze_after_first_run() -> None:
    """Freeze once more after this process's first run: it loaded the node packs and warmed the caches."""
    if not _after_first_run.is_set():
        _after_first_run.set()
        freeze()
