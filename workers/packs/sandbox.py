"""Run a child process under CPU, address-space, file-size and wall-time limits, with capped output.

Not a security boundary on its own (the child keeps the network and the user's file permissions); it
keeps pathological archives and imports from exhausting the validating machine. Isolation at run time
is a separate, later layer.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_OUTPUT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LimitedResult:
    """How a limited child ended: exit code (negative: killed by that signal), output, and why it stopped."""

    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool

    def death(self, cpu_seconds: int, memory_bytes: int, wall_seconds: float) -> str | None:
        """A sentence saying which limit killed the child, or None when it exited by itself."""
        if self.timed_out:
            return f"did not finish within {wall_seconds:g} s (wall-time limit) and was killed"
        if self.returncode == -signal.SIGXCPU or self.returncode == -signal.SIGKILL:
            return f"used more than {cpu_seconds} s of CPU (CPU limit) and was killed"
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"was killed by {name} (memory limit {memory_bytes // (1024 * 1024)} MiB or a crash)"
        if b"MemoryError" in self.stderr[-4000:]:
            return f"ran out of memory (limit {memory_bytes // (1024 * 1024)} MiB)"
        return None


def clean_env(**extra: str) -> dict[str, str]:
    """An environment with nothing inherited: no tokens, no proxies, no user paths."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/nonexistent",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.update(extra)
    return env


def _limiter(cpu_seconds: int, memory_bytes: int, file_bytes: int) -> Callable[[], None]:
    def limit(kind: int, soft: int, hard: int) -> None:
        # A nested child (the import check inside the validator) cannot raise its parent's hard limits.
        _, current = resource.getrlimit(kind)
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(kind, (soft, hard))

    def apply() -> None:
        limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
        limit(resource.RLIMIT_AS, memory_bytes, memory_bytes)
        limit(resource.RLIMIT_FSIZE, file_bytes, file_bytes)
        limit(resource.RLIMIT_CORE, 0, 0)

    return apply


def _drain(stream: IO[bytes], sink: bytearray) -> None:
    while chunk := stream.read(65536):
        if len(sink) < MAX_OUTPUT_BYTES:
            sink.extend(chunk[: MAX_OUTPUT_BYTES - len(sink)])


def run_limited(
    cmd: Sequence[str],
    *,
    cpu_seconds: int,
    memory_bytes: int,
    wall_seconds: float,
    cwd: Path,
    env: Mapping[str, str],
    file_bytes: int = 0,
) -> LimitedResult:
    """Run ``cmd`` with the limits applied before exec; kill its whole process group on timeout."""
    # preexec_fn only calls setrlimit (a plain syscall), which is safe even when the parent has threads.
    process = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_limiter(cpu_seconds, memory_bytes, file_bytes),
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(), bytearray()
    readers = [
        threading.Thread(target=_drain, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout=wall_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    # Kill the group either way: grandchildren (the import check) must not outlive the validator.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for reader in readers:
        reader.join(timeout=5)
    return LimitedResult(process.returncode, bytes(out), bytes(err), timed_out)
