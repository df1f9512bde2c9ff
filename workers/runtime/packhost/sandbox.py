"""How a pack host process is confined. Fail closed: without a working sandbox, uploaded packs do not run.

Every host: a separate process in its own session/process group, started from nothing but an allow-listed
environment (no DATABASE_URL, SECRET_KEY, AWS_*, REDIS_URL, tokens, proxies), cwd and HOME and TMPDIR = a
private scratch folder, every other descriptor closed, rlimits (CPU time, address space, file size, open
files, processes, no core dumps), killed with its group on timeout, cancel or shutdown.

Inside bubblewrap (``bwrap``): new pid, network, ipc, uts and cgroup namespaces, ``--die-with-parent``; a
filesystem made only of read-only binds of the interpreter, /usr and the system libraries, the pack's own
environment and the host layer's packages, a private /tmp, /proc and /dev, and the scratch folder as the only
writable place. No network, no repository, no /etc, no var/, no home folder. Who the pack code runs as:

- worker not root: a new user namespace too (uid/gid 65534 inside, no capabilities);
- worker root: bubblewrap sets the mounts up as root, then ``setpriv`` switches to a uid of the host's own
  (``FLOWYARD_PACK_HOST_UIDS``, default 200000-200999), with no capabilities, an empty bounding set and
  ``no_new_privs``. Pack code never runs as root, even a namespaced one (root is exempt from the process
  limit, and a root-owned process that escaped would still be root).

The process limit is applied by the host itself before the pack is imported: inside a user namespace or
under its own uid, it counts the host's processes only.

``FLOWYARD_PACK_SANDBOX``:

- ``bwrap`` (default; ``auto`` is accepted as a synonym): hosts run in bubblewrap. Where it is missing or
  cannot create namespaces, starting a host raises ``SandboxUnavailable`` naming the reason, so a run using
  an uploaded pack fails with that reason: never unsandboxed by accident.
- ``insecure-none``: a site admin's explicit choice to run uploaded packs without the sandbox (only the
  environment scrub and rlimits apply: a pack can read what the worker's user can). Logged as a warning at
  start and shown by ``/api/health`` and the Workers page.

Built-in packs (``FLOWYARD_NODE_PACKS``) are the server's own code and run in-process; this module concerns
uploaded packs only.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workers.runtime.packhost.envs import PackEnv

SANDBOX_SETTING = "FLOWYARD_PACK_SANDBOX"
GIB = 1024**3
PASS_THROUGH_ENV = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "TZ")
"""Harmless variables a host may inherit; nothing else from the worker's environment reaches it."""


HOST_UIDS_SETTING = "FLOWYARD_PACK_HOST_UIDS"
DEFAULT_HOST_UIDS = "200000-200999"
INSECURE = "insecure-none"
MODES = ("bwrap", INSECURE)
HOW_TO_FIX = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; `make run` and `make worker` do it) on a "
    "kernel that allows user namespaces, or, knowing that uploaded packs can then read everything this "
    f"worker can, set {SANDBOX_SETTING}={INSECURE}"
)


class SandboxUnavailable(RuntimeError):
    """Uploaded packs must run in bubblewrap and it does not work here (or the setting is invalid)."""


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
    processes: int = 64
    """Processes and threads the host may run at once (a fork bomb stops here)."""
    scratch_bytes: int = 2 * GIB
    """Everything the host may write, all files together: its scratch folder is a tmpfs of this size."""
    tmp_bytes: int = 64 * 1024**2
    """The private /tmp (``TMPDIR`` points into scratch; this is for code that ignores it)."""
    watch_interval: float = 0.25
    """How often the whole host's memory and CPU time are checked (the rlimits bind each process alone)."""


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


def setting() -> str:
    """The configured mode (``bwrap`` or ``insecure-none``); SandboxUnavailable for anything else."""
    value = os.environ.get(SANDBOX_SETTING, "bwrap").strip().lower() or "bwrap"
    if value == "auto":
        return "bwrap"
    if value not in MODES:
        raise SandboxUnavailable(
            f"{SANDBOX_SETTING}={value!r} is not a mode: use bwrap (the default) or {INSECURE}"
        )
    return value


def sandbox_mode() -> str:
    """``bwrap`` or ``insecure-none``: what hosts started now use; SandboxUnavailable when they cannot start."""
    mode = setting()
    if mode == INSECURE:
        return mode
    path, reason = bwrap_probe()
    if path is None:
        raise SandboxUnavailable(f"the pack sandbox is unavailable: {reason}; {HOW_TO_FIX}")
    return "bwrap"


def status() -> dict[str, object]:
    """What ``/api/health``, worker heartbeats and the Workers page say about uploaded packs here.

    ``mode``: ``bwrap`` (sandboxed), ``insecure-none`` (the admin turned the sandbox off) or ``unavailable``
    (uploaded packs are refused); ``secure``: whether uploaded packs run confined; ``reason``: a sentence.
    """
    try:
        mode = sandbox_mode()
    except SandboxUnavailable as exc:
        return {"mode": "unavailable", "secure": False, "uploaded_packs": "refused", "reason": str(exc)}
    if mode == INSECURE:
        return {
            "mode": mode,
            "secure": False,
            "uploaded_packs": "run unconfined",
            "reason": f"{SANDBOX_SETTING}={INSECURE}: uploaded packs run without the sandbox and can read "
            "everything this worker can",
        }
    return {"mode": mode, "secure": True, "uploaded_packs": "sandboxed", "reason": bwrap_probe()[1]}


def announce(log: logging.Logger) -> None:
    """Log, once at a process's start, how uploaded packs will run (a warning unless they are sandboxed)."""
    state = status()
    if state["secure"]:
        log.info("uploaded node packs run in the bubblewrap sandbox")
    else:
        log.warning("uploaded node packs: %s (%s)", state["uploaded_packs"], state["reason"])


@dataclass
class HostIdentity:
    """The unprivileged uid/gid one host runs as, held (by a lock file) until ``release``."""

    uid: int
    gid: int
    _lock: int | None = None

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor drops the flock
            self._lock = None


def _uid_range() -> range:
    text = os.environ.get(HOST_UIDS_SETTING, DEFAULT_HOST_UIDS).strip() or DEFAULT_HOST_UIDS
    try:
        first, _, last = text.partition("-")
        start, stop = int(first), int(last or first)
    except ValueError:
        raise SandboxUnavailable(
            f"{HOST_UIDS_SETTING}={text!r}: write a uid range such as 200000-200999"
        ) from None
    if start <= 0 or stop < start:
        raise SandboxUnavailable(
            f"{HOST_UIDS_SETTING}={text!r}: pack hosts never run as root; use start <= end"
        )
    return range(start, stop + 1)


def claim_host_identity() -> HostIdentity | None:
    """A uid of its own for a host started by root (None when this process is not root).

    Root is exempt from the process limit and must never be who pack code runs as, so a root worker gives
    each live host a different uid from ``FLOWYARD_PACK_HOST_UIDS``: the process limit then counts that
    host's processes only, and no two hosts can signal or read each other's files. A uid is held with an
    ``flock`` on a file in the system's temporary folder, so worker processes on one machine never share one.
    """
    if os.geteuid() != 0:
        return None
    uids = _uid_range()
    folder = Path(tempfile.gettempdir()) / "flowyard-packhost-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    for uid in uids:
        fd = os.open(folder / str(uid), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return HostIdentity(uid, uid, fd)
    raise SandboxUnavailable(
        f"all {len(uids)} uids of {HOST_UIDS_SETTING} are in use by running pack hosts; widen the range"
    )


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


def bwrap_command(
    bwrap: str,
    env: PackEnv,
    scratch: Path,
    argv: list[str],
    identity: HostIdentity | None = None,
    limits: HostLimits | None = None,
) -> list[str]:
    """``argv`` wrapped in bubblewrap: read-only system, env and layer; scratch the only writable folder.

    Scratch (and /tmp) are tmpfs mounts of ``limits.scratch_bytes`` (``tmp_bytes``) made inside the sandbox:
    a quota on everything the host writes, all files together, where ``RLIMIT_FSIZE`` bounds each file
    alone. The folder of the same name outside stays empty.
    """
    limits = limits or HostLimits()
    if identity is None:
        who = [
            "--unshare-all",  # user, pid, net, ipc, uts, cgroup namespaces: no network at all
            "--cap-drop", "ALL",
            "--uid", "65534",
            "--gid", "65534",
        ]  # fmt: skip
    else:
        # Root: no user namespace (its uid 0 would still be root outside); setpriv drops to the host's uid.
        who = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    cmd = [bwrap, *who, "--die-with-parent", "--hostname", "packhost", "--ro-bind", "/usr", "/usr"]
    for system in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(system):
            cmd += ["--symlink", os.readlink(system), system]
        elif os.path.isdir(system):
            cmd += ["--ro-bind", system, system]
    cmd += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        str(limits.tmp_bytes),
        "--tmpfs",
        "/tmp",
    ]
    read_only = [env.layer.python_prefix, env.path / "src", env.path / "venv", env.layer.site.parent]
    read_only += list(env.layer.bind_paths)
    binds = list(dict.fromkeys(str(path) for path in read_only if not str(path).startswith("/usr/")))
    # Mount points' parents are made 0755 (bubblewrap would copy modes such as /root's 0700, which a host
    # running under its own uid could not cross).
    made = {"/", "/usr", "/tmp", "/proc", "/dev", *binds}
    parents = sorted(
        {str(parent) for text in [*binds, str(scratch)] for parent in Path(text).parents} - made,
        key=lambda text: text.count("/"),
    )
    for parent in parents:
        cmd += ["--perms", "0755", "--dir", parent]
    for text in binds:
        cmd += ["--ro-bind", text, text]
    # The sandbox's root is a tmpfs holding the mount points: read-only too, so scratch (and the private
    # /tmp, gone with the sandbox) are the only writable places.
    # World-writable and sticky like /tmp (the host's uid differs from the mount's owner when the worker is
    # root), yet private: no other process sees this mount namespace.
    cmd += ["--perms", "1777", "--size", str(limits.scratch_bytes), "--tmpfs", str(scratch)]
    cmd += ["--perms", "1777", "--dir", str(scratch / "tmp")]
    cmd += ["--remount-ro", "/", "--chdir", str(scratch), "--"]
    if identity is not None:
        setpriv = shutil.which("setpriv", path="/usr/bin:/bin") or "/usr/bin/setpriv"
        cmd += [
            setpriv, f"--reuid={identity.uid}", f"--regid={identity.gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        ]  # fmt: skip
    return cmd + argv


_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_usage(root: int) -> tuple[int, float]:
    """(memory in bytes, CPU seconds) of process ``root`` and all its descendants, from /proc.

    Memory is each process's proportional set size (shared pages split between their users, so a fork's
    copy-on-write pages are not counted twice), or its resident size where ``smaps_rollup`` cannot be read;
    CPU time includes children already reaped. Processes that vanish while being read are skipped.
    """
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2 :].split()
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        stats[pid] = (int(fields[21]), sum(int(value) for value in fields[11:15]))
    memory, ticks = 0, 0
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid not in stats:
            continue
        stack.extend(children.get(pid, ()))
        rss_pages, cpu = stats[pid]
        ticks += cpu
        memory += _proportional_bytes(pid) or rss_pages * _PAGE
    return memory, ticks / _TICKS


def _proportional_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def over_limits(root: int, limits: HostLimits) -> str | None:
    """Why the host rooted at ``root`` must be killed (its processes together are over a limit), or None."""
    memory, cpu = tree_usage(root)
    if memory > limits.memory_bytes:
        return (
            f"its processes together used {memory / 1024**2:.0f} MiB, more than its memory limit of "
            f"{limits.memory_bytes / 1024**2:.0f} MiB"
        )
    if cpu > limits.cpu_seconds:
        return f"its processes together used {cpu:.0f} s of CPU time, more than its limit of {limits.cpu_seconds} s"
    return None


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
