"""Run events: what the engine reports while a run goes, in order, with a per-run sequence number.

Event types and their ``data`` (the backend stores them and the browser reads them, so names are fixed):

- ``run_started`` {"nodes": [planned ids], "targets": [ids]}
- ``nodes_cached`` {"nodes": [ids]}: planned nodes served from the cache instead of executing
- ``node_started`` {"type"}
- ``progress`` {"value", "max"}; ``Event.preview`` holds the preview image the node passed, if any
- ``node_finished`` {"type", "duration", "cached", "outputs": [{"name", "type", "summary"}]}; ``Event.ui`` holds
  what the node shows
- ``node_failed`` {"type", "error", "error_type", "traceback", "duration"}
- ``nodes_skipped`` {"nodes": [ids], "reason"}
- ``run_finished`` {"status", "executed", "cached", "failed": [ids], "duration"}: ``executed`` and ``cached``
  are counts
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from nodepacks.sdk import UI

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Event:
    """One thing that happened in a run; ``data`` is JSON-serialisable, arrays travel in ``ui``/``preview``."""

    seq: int
    type: str
    node: str | None
    data: dict[str, Any]
    time: float
    ui: UI | None = None
    preview: np.ndarray | None = None


EventCallback = Callable[[Event], None]


class EventSink:
    """Numbers events and hands them to the callback one at a time, whichever thread emits them."""

    __slots__ = ("_callback", "_lock", "count")

    def __init__(self, callback: EventCallback | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self.count = 0

    @property
    def listening(self) -> bool:
        """True when someone receives the events (so building their data is worth it)."""
        return self._callback is not None

    def emit(
        self,
        type: str,
        node: str | None,
        data: dict[str, Any],
        ui: UI | None = None,
        preview: np.ndarray | None = None,
    ) -> None:
        """Number the event and deliver it; the lock keeps seq order and delivery order the same.

        A listener that raises loses that event but does not stop the run: events report, they do not steer.
        """
        with self._lock:
            self.count += 1
            if self._callback is not None:
                try:
                    self._callback(Event(self.count, type, node, data, time.time(), ui, preview))
                except Exception:
                    logger.exception("event listener failed on %s event %d", type, self.count)


_SUMMARY_TEXT = 40


def summarize(type_name: str, value: Any) -> str:
    """Return a short human description of an output value, e.g. ``IMAGE 1x512x512x3`` or ``INT 42``."""
    if isinstance(value, np.ndarray):
        return f"{type_name} {'x'.join(map(str, value.shape))}"
    if isinstance(value, str):
        shown = value if len(value) <= _SUMMARY_TEXT else value[: _SUMMARY_TEXT - 1] + "…"
        return f"{type_name} {shown!r}"
    if isinstance(value, bool | int):
        return f"{type_name} {value}"
    if isinstance(value, float):
        return f"{type_name} {value:.6g}"
    if isinstance(value, list | tuple | dict):
        return f"{type_name} ({len(value)} items)"
    if value is None:
        return f"{type_name} none"
    for attribute in ("frames", "samples", "vertices"):  # the SDK's Video, Audio and Mesh
        array = getattr(value, attribute, None)
        if isinstance(array, np.ndarray):
            return f"{type_name} {'x'.join(map(str, array.shape))}"
    return f"{type_name} {type(value).__name__}"
