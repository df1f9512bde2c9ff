"""What a node sees while it runs: progress, cancellation, logs, files, models and scratch space."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np


class Cancelled(Exception):
    """Raised inside a node when the run was cancelled; the engine stops the run."""


class NodeError(Exception):
    """Raise to fail a node with a message meant for the user (shown without a traceback)."""


class AwaitDecision(Exception):  # noqa: N818 - a signal, like Cancelled, not an error
    """Raised by a node that needs a person's decision before it can finish (an approval step): the engine
    pauses the run at that node, keeps what finished, and executes the node again once the decision is
    recorded (then in ``ctx.decision``). ``request`` (JSON) says who should decide and how; ``ui`` is what
    they are shown."""

    def __init__(self, message: str = "", *, request: dict[str, Any] | None = None, ui: Any = None) -> None:
        super().__init__(message or "waiting for a decision")
        self.request: dict[str, Any] = dict(request or {})
        self.ui = ui


class NodeTimeout(TimeoutError):
    """Raised inside a node (at ``check_cancelled()`` or ``progress()``) once it has run past its
    ``timeout_seconds``; a ``TimeoutError``, so a retry policy ``on=(TimeoutError,)`` retries it."""


class FileProvider(Protocol):
    """Resolves the file references that upload widgets hold."""

    def open(self, ref: str) -> BinaryIO:
        """Return a binary file object for ``ref``; raise ``FileNotFoundError`` when the caller may not read it."""
        ...

    def sha256(self, ref: str) -> str:
        """Return the content hash of ``ref`` (used as the cache fingerprint of file inputs)."""
        ...


class ModelProvider(Protocol):
    """Hands out loaded models; nodes never load models themselves.

    Two kinds of models: ModelScope models by id and revision (``get``), and files of the site's model library in
    ComfyUI's folder layout (``file``/``sha256``: kind is the folder, e.g. ``checkpoints``, ``loras``, ``vae``),
    whose loaded form a node keeps warm with ``cached``.
    """

    def get(self, model_id: str, revision: str | None = None, **options: Any) -> Any:
        """Return a loaded, warm model for ``model_id`` at ``revision``."""
        ...

    def file(self, kind: str, name: str) -> Path:
        """The path of model file ``name`` (relative, as listed) in the library folder ``kind``; raises
        ``NodeError`` naming the file and the folders searched when it is not there."""
        ...

    def sha256(self, kind: str, name: str) -> str:
        """The content hash of a library file (remembered by path, size and modification time)."""
        ...

    def cached(self, key: str, load: Callable[[], Any], *, size_bytes: int | None = None) -> Any:
        """Return the warm object stored under ``key``, calling ``load()`` once on a miss (concurrent callers wait
        for that one load); the object is kept in the manager's LRU within its memory budgets."""
        ...


class NoFiles:
    """A file provider for runs that have no uploaded files."""

    def open(self, ref: str) -> BinaryIO:
        raise FileNotFoundError(f"no file named {ref!r} is available to this run")

    def sha256(self, ref: str) -> str:
        raise FileNotFoundError(f"no file named {ref!r} is available to this run")


class NoModels:
    """A model provider for runtimes without a model manager."""

    def get(self, model_id: str, revision: str | None = None, **options: Any) -> Any:
        raise NodeError(f"model {model_id!r} is not available: this runtime has no model manager")

    def file(self, kind: str, name: str) -> Path:
        raise NodeError(f"model file {kind}/{name} is not available: this runtime has no model library")

    def sha256(self, kind: str, name: str) -> str:
        raise NodeError(f"model file {kind}/{name} is not available: this runtime has no model library")

    def cached(self, key: str, load: Callable[[], Any], *, size_bytes: int | None = None) -> Any:
        return load()


ProgressCallback = Callable[[str, float, float | None, np.ndarray | None], None]


class Context:
    """The per-node execution context passed to ``Node.execute``."""

    __slots__ = (
        "node_id",
        "_on_progress",
        "_cancel",
        "files",
        "models",
        "log",
        "_scratch_root",
        "_scratch",
        "_deadline",
        "_timeout",
        "decision",
    )

    def __init__(
        self,
        node_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
        files: FileProvider | None = None,
        models: ModelProvider | None = None,
        logger: logging.Logger | None = None,
        scratch_root: Path | None = None,
        timeout_seconds: float | None = None,
        decision: str | None = None,
    ) -> None:
        self.node_id = node_id
        # The decision recorded for this node ("approve", "reject"), or None while nobody decided.
        self.decision = decision
        self._timeout = timeout_seconds
        self._deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        self._on_progress = on_progress
        self._cancel = cancel_event
        self.files: FileProvider = files or NoFiles()
        self.models: ModelProvider = models or NoModels()
        self.log: logging.Logger = logger or logging.getLogger(f"flowyard.node.{node_id}")
        self._scratch_root = scratch_root
        self._scratch: Path | None = None

    def progress(self, value: float, total: float | None = None, preview: np.ndarray | None = None) -> None:
        """Report progress (``value`` of ``total``), optionally with a preview image; also checks cancellation."""
        self.check_cancelled()
        if self._on_progress is not None:
            self._on_progress(self.node_id, float(value), None if total is None else float(total), preview)

    def is_cancelled(self) -> bool:
        """True once the run has been asked to stop."""
        return self._cancel is not None and self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the run has been asked to stop, ``NodeTimeout`` if the node ran out of time."""
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled()
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise NodeTimeout(f"node {self.node_id} ran longer than its timeout of {self._timeout:g} s")

    def timed_out(self) -> bool:
        """True once the node has run past its ``timeout_seconds``."""
        return self._deadline is not None and time.monotonic() > self._deadline

    @property
    def scratch_dir(self) -> Path:
        """A private temporary directory for this node execution, created on first use."""
        if self._scratch is None:
            root = self._scratch_root or Path(tempfile.gettempdir())
            root.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=f"node-{self.node_id}-", dir=root))
        return self._scratch
