"""How a pack host process is confined: scrubbed environment, rlimits, and bubblewrap when it works.

Always (any Linux): a separate process in its own session/process group, started from nothing but an
allow-listed environment (no DATABASE_URL, SECRET_KEY, AWS_*, REDIS_URL, tokens, proxies), cwd and HOME and
TMPDIR = a private scratch folder, every other descriptor closed, rlimits (CPU, address space, file size,
open files, no core dumps), killed with its group on timeout, cancel or shutdown.

With bubblewrap (``bwrap``, when user namespaces work): new user, pid, network, ipc, uts and cgroup
namespaces, no capabilities, uid/gid 65534, ``--die-with-parent``; a filesystem made only of read-only binds
of the interpreter, /usr and the system libraries, the pack's own environment and the host layer's
packages, a private /tmp, /proc and /dev, and the scratch folder as the only writable place. No network,
no repository, no /etc, no var/, no home folder.

``FLOWYARD_PACK_SANDBOX``: ``auto`` (default: bwrap when the probe succeeds), ``bwrap`` (refuse to start
hosts without it), ``none`` (never use it).
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workers.runtime.packhost.envs import PackEnv

SANDBOX_SETTING = "FLOWYARD_PACK_SANDBOX"
GIB = 1024**3
PASS_THROUGH_ENV = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "TZ")
"""Harmless variables a host may inherit; nothing else from the worker's environment reaches it."""


class SandboxUnavailable(RuntimeError):
    """``FLOWYARD_PACK_SANDBOX=bwrap`` but bubblewrap does not work on this machine."""


@dataclass(frozen=True)
class HostLimits:
    """Resource limits of one pack host process (its whole life, across calls)."""

    cpu_seconds: int = 6 * 3600
    memory_bytes: int = 16 * GIB
    file_bytes: int = 4 * GIB
    open_files: int = 512
    start_timeout: float = 60.0
    call_timeout: float | None = None
    """Default wall-clock limit of one node execution (None: no limit beyond cancellation)."""
    cancel_grace: float = 2.0
    """Seconds a node gets to notice a cancel (``ctx.check_cancelled``) before its host is killed."""


@functools.lru_cache(maxsize=1)
def bwrap_probe() -> tuple[str | None, str]:
    """(path to a working bwrap, or None; a sentence saying why not)."""
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap is not installed"
    cmd = [
        path,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-all",
        "--die-with-parent",
    ]
    try:
        done = subprocess.run([*cmd, "true"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bubblewrap does not start: {exc}"
    if done.returncode != 0:
        return (
            None,
            f"bubblewrap cannot create namespaces here: {done.stderr.decode(errors='replace').strip()}",
        )
    return path, "bubblewrap works"


def sandbox_mode() -> str:
    """``bwrap`` or ``none``: what hosts started now will use."""
    setting = os.environ.get(SANDBOX_SETTING, "auto").strip().lower() or "auto"
    if setting == "none":
        return "none"
    path, reason = bwrap_probe()
    if path is None:
        if setting == "bwrap":
            raise SandboxUnavailable(f"{SANDBOX_SETTING}=bwrap but {reason}")
        return "none"
    return "bwrap"


def scrubbed_env(scratch: Path) -> dict[str, str]:
    """The host's whole environment: an allow-list, never a copy of the worker's."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": os.environ.get("FLOWYARD_PACK_THREADS", "1"),
        "OPENBLAS_NUM_THREADS": os.environ.get("FLOWYARD_PACK_THREADS", "1"),
        "MKL_NUM_THREADS": os.environ.get("FLOWYARD_PACK_THREADS", "1"),
    }
    for name in PASS_THROUGH_ENV:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def bwrap_command(bwrap: str, env: PackEnv, scratch: Path, argv: list[str]) -> list[str]:
    """``argv`` wrapped in bubblewrap: read-only system, env and layer; scratch the only writable folder."""
    cmd = [
        bwrap,
        "--unshare-all",  # user, pid, net, ipc, uts, cgroup namespaces: no network at all
        "--die-with-parent",
        "--cap-drop", "ALL",
        "--uid", "65534",
        "--gid", "65534",
        "--hostname", "packhost",
        "--ro-bind", "/usr", "/usr",
    ]  # fmt: skip
    for system in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(system):
            cmd += ["--symlink", os.readlink(system), system]
        elif os.path.isdir(system):
            cmd += ["--ro-bind", system, system]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    read_only = [env.layer.python_prefix, env.path / "src", env.path / "venv", env.layer.site.parent]
    read_only += list(env.layer.bind_paths)
    seen: set[str] = set()
    for path in read_only:
        text = str(path)
        if text in seen or text.startswith("/usr/"):
            continue
        seen.add(text)
        cmd += ["--ro-bind", text, text]
    # The sandbox's root is a tmpfs holding the mount points: read-only too, so scratch (and the private
    # /tmp, gone with the sandbox) are the only writable places.
    cmd += ["--bind", str(scratch), str(scratch), "--remount-ro", "/", "--chdir", str(scratch), "--"]
    return cmd + argv


def limiter(limits: HostLimits) -> Callable[[], None]:
    """The preexec function applying ``limits`` (setrlimit only: safe in a threaded parent)."""

    def limit(kind: int, value: int) -> None:
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))

    def apply() -> None:
        limit(resource.RLIMIT_CPU, limits.cpu_seconds)
        limit(resource.RLIMIT_AS, limits.memory_bytes)
        limit(resource.RLIMIT_FSIZE, limits.file_bytes)
        limit(resource.RLIMIT_NOFILE, limits.open_files)
        limit(resource.RLIMIT_CORE, 0)

    return apply
