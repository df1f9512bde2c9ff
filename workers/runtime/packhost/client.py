"""The worker's side of a pack host: start it confined, call its nodes, restart it when it dies.

``PackHost(env)`` runs ``<venv>/bin/python -I -B -m flowyard_packhost.host`` (see ``hostside/host.py``)
through ``sandbox`` and talks to it over a SOCK_SEQPACKET socket pair (``hostside/wire.py``). One node runs
at a time per host; calls from several engine threads queue on a lock. ``PackHostPool`` keeps one warm host
per pack environment and replaces a host that crashed or was killed, so a crash fails one node, not the
worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodepacks.sdk import UI, Cancelled, Context, MediaFile, NodeError
from nodepacks.sdk.node import MEDIA_KINDS
from workers.runtime.packhost import sandbox
from workers.runtime.packhost.envs import BOOTSTRAP_PACKAGE, PackEnv
from workers.runtime.packhost.hostside import wire

logger = logging.getLogger(__name__)
STDERR_TAIL = 8192
_FILE_FORMAT = re.compile(r"[A-Za-z0-9]{1,16}")
"""A UI file's format becomes its output file's extension: letters and digits only, never a path."""


class PackHostError(NodeError):
    """The host could not run the node: it failed to start, crashed, timed out or broke the protocol."""


class RemoteError(Exception):
    """A node raised an unexpected exception inside its host; ``remote_traceback`` is the host's traceback."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback


class PackHost:
    """One host process for one pack environment."""

    def __init__(
        self,
        env: PackEnv,
        *,
        limits: sandbox.HostLimits | None = None,
        scratch_root: Path | None = None,
    ) -> None:
        self.env = env
        self.limits = limits or sandbox.HostLimits()
        self.scratch_root = scratch_root
        self.mode = "none"
        self.scratch: Path | None = None
        self.description: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._stderr = bytearray()
        self._lock = threading.Lock()
        self._calls = 0
        self._env_lock: contextlib.ExitStack | None = None
        self._identity: sandbox.HostIdentity | None = None
        self._killed_because = ""

    # Life cycle

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> dict[str, Any]:
        """Start the host and wait for its ``ready`` message; return the description (pack + node schemas)."""
        if self._process is not None:
            self.close()  # the previous process died: release its lock and scratch first
        try:
            self.mode = sandbox.sandbox_mode()
            self._identity = sandbox.claim_host_identity() if self.mode == "bwrap" else None
        except sandbox.SandboxUnavailable as exc:
            raise PackHostError(f"pack {self._label} cannot run on this worker: {exc}") from None
        identity = self._identity
        root = self.scratch_root or Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"packhost-{self.env.key}-", dir=root)).resolve()
        (self.scratch / "tmp").mkdir()
        os.chmod(self.scratch, 0o700)
        if identity is not None:
            for folder in (self.scratch, self.scratch / "tmp"):
                os.chown(folder, identity.uid, identity.gid)
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [
            str(self.env.python), "-I", "-B", "-m", f"{BOOTSTRAP_PACKAGE}.host",
            "--fd", str(child_sock.fileno()),
        ]  # fmt: skip
        if self.mode == "bwrap":
            # Applied by the host itself: in its user namespace or under its own uid it counts its processes.
            argv += ["--max-processes", str(self.limits.processes)]
        argv += [str(self.env.src), self.env.entry]
        if self.mode == "bwrap":
            bwrap, _ = sandbox.bwrap_probe()
            assert bwrap is not None
            argv = sandbox.bwrap_command(bwrap, self.env, self.scratch, argv, identity, self.limits)
        self._env_lock = contextlib.ExitStack()
        self._env_lock.enter_context(self.env.in_use())
        try:
            self._process = subprocess.Popen(
                argv,
                cwd=self.scratch,
                env=sandbox.scrubbed_env(self.scratch),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(child_sock.fileno(),),
                close_fds=True,
                start_new_session=True,
                preexec_fn=sandbox.limiter(self.limits),
            )
        except BaseException:
            parent_sock.close()
            self._release()
            raise
        finally:
            child_sock.close()
        self._sock = parent_sock
        self._killed_because = ""
        threading.Thread(target=self._drain, args=(self._process,), daemon=True).start()
        threading.Thread(target=self._watch, args=(self._process,), daemon=True).start()
        try:
            message, _ = self._receive(time.monotonic() + self.limits.start_timeout)
        except PackHostError as exc:
            self.close()
            raise PackHostError(f"the host of pack {self._label} did not start: {exc}") from None
        if message.get("op") == "fatal":
            self.close()
            raise PackHostError(f"pack {self._label}: {message.get('message')}")
        if message.get("op") != "ready":
            self.close()
            raise PackHostError(f"pack {self._label}: the host sent {message.get('op')!r} instead of ready")
        self.description = {k: v for k, v in message.items() if k != "op"}
        logger.info("pack host %s started (pid %s, sandbox %s)", self.env.key, self.pid, self.mode)
        return self.description

    @property
    def _label(self) -> str:
        return f"{self.env.name} {self.env.version}"

    def _drain(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        node_log = logging.getLogger(f"flowyard.packhost.{self.env.name}")
        for line in process.stdout:
            self._stderr.extend(line)
            del self._stderr[:-STDERR_TAIL]
            node_log.debug("%s", line.decode("utf-8", "replace").rstrip())

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        """Kill the host when its processes together pass its memory or CPU limit (rlimits bind each alone)."""
        while process.poll() is None:
            try:
                reason = sandbox.over_limits(process.pid, self.limits)
            except OSError:
                reason = None
            if reason is not None and process.poll() is None:
                self._killed_because = reason
                logger.warning("pack host %s (pid %s) killed: %s", self.env.key, process.pid, reason)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                return
            time.sleep(self.limits.watch_interval)

    def kill(self) -> None:
        """Kill the host and everything it started (its process group), at once."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def close(self) -> None:
        """Ask the host to stop, then kill it; remove its scratch folder."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                wire.send(self._sock, {"op": "shutdown"})
            process = self._process
            if process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=1)
        self.kill()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._release()
        self._process = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def _release(self) -> None:
        if self._identity is not None:
            self._identity.release()
            self._identity = None
        if self._env_lock is not None:
            self._env_lock.close()
            self._env_lock = None

    def _died(self, what: str) -> PackHostError:
        process = self._process
        code = None
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(timeout=2)
        if code is not None and code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        if self._killed_because:
            how = f"was killed because {self._killed_because}"
        elif code == -signal.SIGXCPU or code == 128 + signal.SIGXCPU:
            how = f"was stopped at its CPU time limit ({self.limits.cpu_seconds} s)"
        tail = bytes(self._stderr).decode("utf-8", "replace").strip()[-1500:]
        message = f"the host process of pack {self._label} {how} {what}"
        return PackHostError(message + (f"; its last output:\n{tail}" if tail else ""))

    # Messages

    def _receive(
        self, deadline: float | None, poll: Callable[[], None] | None = None
    ) -> tuple[dict[str, Any], wire.Decoder]:
        sock = self._sock
        if sock is None:
            raise PackHostError("the host is not running")
        while True:
            timeout = 0.05 if poll is not None else 0.5
            if deadline is not None:
                timeout = min(timeout, max(deadline - time.monotonic(), 0))
            ready, _, _ = select.select([sock], [], [], timeout)
            if ready:
                try:
                    return wire.recv(sock)
                except wire.PeerClosed:
                    raise self._died("unexpectedly") from None
                except (wire.ProtocolError, OSError) as exc:
                    self.kill()
                    raise PackHostError(f"pack {self._label}: protocol error: {exc}") from None
            if not self.alive:
                raise self._died("unexpectedly")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError
            if poll is not None:
                poll()

    def describe(self) -> dict[str, Any]:
        """The pack and its node schemas, as the host reports them (started if needed)."""
        with self._lock:
            if not self.alive:
                self.start()
            return self.description

    def execute(
        self, node_type: str, inputs: dict[str, Any], ctx: Context, *, timeout: float | None = None
    ) -> tuple[list[Any] | None, UI | None]:
        """Run ``node_type`` in the host; return (output values in socket order or None, UI or None).

        Raises ``NodeError`` (the node's own), ``Cancelled``, ``RemoteError`` (an unexpected exception in
        the node) or ``PackHostError`` (crash, timeout, protocol error: the host is then gone).
        """
        timeout = timeout if timeout is not None else self.limits.call_timeout
        with self._lock:
            if not self.alive:
                self.start()
            assert self._sock is not None
            self._calls += 1
            call_id = self._calls
            encoder = wire.Encoder()
            try:
                encoded = {name: encoder.encode(value) for name, value in inputs.items()}
            except wire.Unencodable as exc:
                raise NodeError(
                    f"{node_type}: an input cannot be sent to the pack's process: {exc}"
                ) from None
            message = {
                "op": "execute",
                "id": call_id,
                "node_type": node_type,
                "node_id": ctx.node_id,
                "inputs": encoded,
            }
            try:
                wire.send(self._sock, message, encoder)
            except OSError:
                raise self._died("before the node could start") from None
            return self._await_result(call_id, node_type, ctx, timeout)

    def _await_result(
        self, call_id: int, node_type: str, ctx: Context, timeout: float | None
    ) -> tuple[list[Any] | None, UI | None]:
        assert self._sock is not None
        sock = self._sock
        deadline = time.monotonic() + timeout if timeout is not None else None
        cancel_deadline: float | None = None

        def poll() -> None:
            nonlocal cancel_deadline
            if cancel_deadline is None and ctx.is_cancelled():
                cancel_deadline = time.monotonic() + self.limits.cancel_grace
                with contextlib.suppress(OSError):
                    wire.send(sock, {"op": "cancel", "id": call_id})
            elif cancel_deadline is not None and time.monotonic() >= cancel_deadline:
                logger.warning("node %s ignored the cancel: killing the host of %s", node_type, self.env.key)
                self.kill()
                raise Cancelled()

        while True:
            try:
                message, decoder = self._receive(deadline, poll)
            except TimeoutError:
                self.kill()
                raise PackHostError(
                    f"{node_type} did not finish within {timeout:g} s; its host process was killed"
                ) from None
            except PackHostError as exc:
                if cancel_deadline is not None:
                    raise Cancelled() from None
                raise PackHostError(f"{node_type} failed: {exc}") from None
            op = message.get("op")
            if message.get("id") not in (call_id, None):
                continue  # a late message of an earlier, abandoned call
            if op == "result":
                return self._decode_result(message, decoder)
            if op == "progress":
                preview = decoder.decode(message["preview"]) if message.get("preview") else None
                try:
                    ctx.progress(float(message["value"]), message.get("total"), preview)
                except Cancelled:
                    poll()
            elif op == "log":
                ctx.log.log(
                    int(message.get("level", logging.INFO)), "%s", str(message.get("message", ""))[:10000]
                )
            elif op == "file":
                self._answer_file(message, ctx)
            elif op == "error":
                if message.get("error_type") == "NodeError":
                    raise NodeError(str(message.get("message")))
                text = f"{message.get('error_type')}: {message.get('message')}"
                raise RemoteError(text, str(message.get("traceback") or ""))
            elif op == "cancelled":
                raise Cancelled()

    def _answer_file(self, message: dict[str, Any], ctx: Context) -> None:
        assert self._sock is not None
        encoder = wire.Encoder()
        reply: dict[str, Any] = {"op": "file_reply", "req": message.get("req")}
        try:
            ref = str(message.get("ref"))
            if message.get("action") == "sha256":
                value: Any = ctx.files.sha256(ref)
            else:
                with ctx.files.open(ref) as handle:
                    value = handle.read()
            reply.update(ok=True, value=encoder.encode(value))
        except Exception as exc:
            reply.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        wire.send(self._sock, reply, encoder)

    @staticmethod
    def _decode_result(message: dict[str, Any], decoder: wire.Decoder) -> tuple[list[Any] | None, UI | None]:
        outputs = None
        if message.get("outputs") is not None:
            outputs = [decoder.decode(value) for value in message["outputs"]]
        ui = None
        data = message.get("ui")
        if data:
            ui = UI(
                images=[decoder.decode(image) for image in data["images"]],
                text=[str(text) for text in data["text"]],
                data=decoder.decode(data["data"]),
                saved=bool(data["saved"]),
                filename_prefix=str(data["filename_prefix"]),
                files=[PackHost._decode_file(file, decoder) for file in data.get("files") or ()],
            )
        return outputs, ui

    @staticmethod
    def _decode_file(entry: Any, decoder: wire.Decoder) -> MediaFile:
        """One ``UI.files`` entry from the host, checked here (the host runs the pack's code: trust nothing)."""
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), dict):
            raise NodeError("the node's UI file is malformed")
        content = decoder.decode(entry["data"])
        file_format, kind = entry.get("format"), entry.get("kind")
        if type(content) is not bytes:
            raise NodeError("a UI file's data must be bytes")
        if not isinstance(file_format, str) or not _FILE_FORMAT.fullmatch(file_format):
            raise NodeError(f"a UI file's format must be a short extension like 'mp4', not {file_format!r}")
        if kind not in MEDIA_KINDS:
            raise NodeError(f"a UI file's kind must be one of {', '.join(MEDIA_KINDS)}, not {kind!r}")
        return MediaFile(content, file_format.lower(), kind)


class PackHostPool:
    """One warm host per pack environment for this worker; a dead host is replaced on its next call."""

    def __init__(self, *, limits: sandbox.HostLimits | None = None, scratch_root: Path | None = None) -> None:
        self.limits = limits or sandbox.HostLimits()
        self.scratch_root = scratch_root
        self._hosts: dict[str, PackHost] = {}
        self._lock = threading.Lock()

    def host(self, env: PackEnv) -> PackHost:
        """The host of ``env`` (not started until first used; restarted after a crash)."""
        with self._lock:
            host = self._hosts.get(env.key)
            if host is None:
                host = self._hosts[env.key] = PackHost(
                    env, limits=self.limits, scratch_root=self.scratch_root
                )
            return host

    def execute(
        self,
        env: PackEnv,
        node_type: str,
        inputs: dict[str, Any],
        ctx: Context,
        *,
        timeout: float | None = None,
    ) -> tuple[list[Any] | None, UI | None]:
        host = self.host(env)
        try:
            return host.execute(node_type, inputs, ctx, timeout=timeout)
        except PackHostError:
            host.close()  # the next call starts a fresh host
            raise

    def close(self) -> None:
        with self._lock:
            hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            host.close()

    def __enter__(self) -> PackHostPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
