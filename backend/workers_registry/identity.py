"""This process's worker identity, as runs record it in ``Run.worker``.

A Celery worker node is ``<nodename>:<pid of its main process>`` (set at ``worker_init``, before the pool forks,
so prefork children inherit it); a run executed by a prefork child records ``<name>/<child pid>``, so a
redelivered message can tell that the child which held it died. The embedded runner is ``local:<host>:<pid>``.
"""

from __future__ import annotations

import os

_name: str | None = None
_main_pid: int | None = None


def set_worker_name(name: str) -> None:
    """Remember the registry name of this worker (called in the worker's main process)."""
    global _name, _main_pid
    _name, _main_pid = name, os.getpid()


def worker_name() -> str | None:
    """The registry name of the worker this process belongs to, or None outside a registered worker."""
    return _name


def run_worker_name() -> str | None:
    """What a run executed by this process records as its worker (``name`` or ``name/<child pid>``)."""
    if _name is None:
        return None
    pid = os.getpid()
    return _name if pid == _main_pid else f"{_name}/{pid}"


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
