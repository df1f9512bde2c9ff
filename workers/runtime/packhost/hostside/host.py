"""The pack host: imports one pack in its own environment and executes its nodes on request.

Started by ``workers.runtime.packhost.client.PackHost`` as
``<venv>/bin/python -I -B -m flowyard_packhost.host --fd N SRC ENTRY``, with a scrubbed environment, its
scratch folder as cwd and (when bubblewrap works) inside a sandbox. It speaks ``wire`` messages on the
SOCK_SEQPACKET socket ``N``:

- host -> parent at start: ``ready`` (pack metadata and node schemas) or ``fatal`` (the import failed);
- parent -> host: ``describe``, ``execute`` (id, node_type, node_id, inputs), ``cancel`` (id),
  ``file_reply`` (req, ok, value/error), ``shutdown``;
- host -> parent while a node runs: ``progress``, ``log``, ``file`` (a ``ctx.files`` request), then one of
  ``result`` (outputs in socket order + UI), ``error`` or ``cancelled``.

A UI's image arrays and encoded files (``UI.files``: bytes, format, kind) ride the message's sealed memfd like
any other large buffer, so they are bounded the same way: by the host's rlimits (``HostLimits.file_bytes``
caps the memfd, ``memory_bytes`` what the host can hold).

One node runs at a time, on a worker thread, so the main thread keeps reading (cancel, file replies).
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import os
import resource
import socket
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from . import wire


class _Link:
    """The socket, with a lock so the node's thread and the main thread can both send."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.replies: dict[int, dict[str, Any]] = {}
        self.reply_ready = threading.Condition()
        self.next_req = 0

    def send(self, message: dict[str, Any], encoder: wire.Encoder | None = None) -> None:
        with self.lock:
            wire.send(self.sock, message, encoder)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.reply_ready:
            self.next_req += 1
            req = self.next_req
        self.send({**message, "req": req})
        with self.reply_ready:
            while req not in self.replies:
                self.reply_ready.wait()
            return self.replies.pop(req)

    def deliver(self, message: dict[str, Any], decoder: wire.Decoder) -> None:
        if message.get("ok"):
            message["value"] = decoder.decode(message["value"])
        with self.reply_ready:
            self.replies[int(message["req"])] = message
            self.reply_ready.notify_all()


class _RemoteFiles:
    """``ctx.files`` inside the host: each call asks the parent, which checks the run's permissions."""

    def __init__(self, link: _Link, call_id: int) -> None:
        self.link, self.call_id = link, call_id

    def _ask(self, action: str, ref: str) -> Any:
        reply = self.link.request({"op": "file", "id": self.call_id, "action": action, "ref": str(ref)})
        if not reply.get("ok"):
            raise FileNotFoundError(reply.get("error") or f"no file named {ref!r} is available to this run")
        return reply["value"]

    def open(self, ref: str) -> io.BytesIO:
        return io.BytesIO(self._ask("read", ref))

    def sha256(self, ref: str) -> str:
        return str(self._ask("sha256", ref))


class _LogForwarder(logging.Handler):
    def __init__(self, link: _Link, call_id: int) -> None:
        super().__init__(logging.DEBUG)
        self.link, self.call_id = link, call_id

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = {
                "op": "log",
                "id": self.call_id,
                "level": record.levelno,
                "message": self.format(record),
            }
            self.link.send(message)
        except Exception:
            self.handleError(record)


class Host:
    def __init__(self, link: _Link, pack: Any, sdk: Any) -> None:
        self.link = link
        self.pack = pack
        self.sdk = sdk
        self.nodes = {cls.id: cls for cls in pack.nodes}
        self.instances: dict[str, Any] = {}
        self.cancel_events: dict[int, threading.Event] = {}
        self.scratch = Path.cwd()

    def describe(self) -> dict[str, Any]:
        nodes = []
        for cls in self.pack.nodes:
            schema = cls.schema()
            data = schema.to_json()
            data["has_fingerprint"] = schema.has_fingerprint
            nodes.append(data)
        pack = {
            "name": self.pack.name,
            "version": self.pack.version,
            "sdk_api": self.pack.sdk_api,
            "display_name": self.pack.display_name,
            "description": self.pack.description,
        }
        return {"pack": pack, "nodes": nodes, "pid": os.getpid(), "python": sys.version.split()[0]}

    def execute(self, message: dict[str, Any], decoder: wire.Decoder) -> None:
        call_id = int(message["id"])
        cancel = self.cancel_events[call_id]
        sdk = self.sdk
        try:
            node_cls = self.nodes.get(message["node_type"])
            if node_cls is None:
                raise sdk.NodeError(f"pack {self.pack.name} has no node type {message['node_type']!r}")
            instance = self.instances.get(node_cls.id)
            if instance is None:
                instance = self.instances[node_cls.id] = node_cls()
            values = {name: decoder.decode(value) for name, value in message["inputs"].items()}
            inputs = node_cls.Inputs.model_construct(**values)
            logger = logging.getLogger(f"flowyard.node.{node_cls.id}")
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
            handler = _LogForwarder(self.link, call_id)
            logger.handlers[:] = [handler]

            def on_progress(node_id: str, value: float, total: float | None, preview: Any) -> None:
                encoder = wire.Encoder()
                shown = encoder.encode(preview) if preview is not None else None
                progress = {"op": "progress", "id": call_id, "value": value, "total": total, "preview": shown}
                self.link.send(progress, encoder)

            ctx = sdk.Context(
                str(message.get("node_id") or node_cls.id),
                on_progress=on_progress,
                cancel_event=cancel,
                files=_RemoteFiles(self.link, call_id),
                logger=logger,
                scratch_root=self.scratch / "nodes",
            )
            returned = instance.execute(inputs, ctx)
            self.link.send(*self._result(call_id, node_cls, returned))
        except sdk.Cancelled:
            self.link.send({"op": "cancelled", "id": call_id})
        except BaseException as exc:
            user = isinstance(exc, sdk.NodeError | wire.Unencodable)
            error = {
                "op": "error",
                "id": call_id,
                "error_type": "NodeError" if user else type(exc).__name__,
                "message": str(exc),
                "traceback": "" if user else traceback.format_exc(),
            }
            # Free what the failed node held (its frames' locals: a MemoryError's allocations) before the
            # parent hears of the failure and sends the next call, which must find the memory back.
            traceback.clear_frames(exc.__traceback__)
            del exc
            self.link.send(error)
        finally:
            self.cancel_events.pop(call_id, None)

    def _result(self, call_id: int, node_cls: Any, returned: Any) -> tuple[dict[str, Any], wire.Encoder]:
        sdk = self.sdk
        ui = None
        outputs = returned
        if isinstance(returned, sdk.Result):
            outputs, ui = returned.outputs, returned.ui
        encoder = wire.Encoder()
        encoded_outputs = None
        if outputs is not None:
            if not isinstance(outputs, node_cls.Outputs):
                raise sdk.NodeError(f"{node_cls.id} returned {type(outputs).__name__}, not its Outputs")
            encoded_outputs = [
                encoder.encode(getattr(outputs, name)) for name in node_cls.Outputs.model_fields
            ]
        encoded_ui = None
        if ui is not None and not ui.is_empty():
            encoded_ui = {
                "images": [encoder.encode(image) for image in ui.images],
                "text": [str(item) for item in ui.text],
                "data": encoder.encode(dict(ui.data)),
                "saved": bool(ui.saved),
                "filename_prefix": str(ui.filename_prefix),
            }
            if ui.files:
                encoded_ui["files"] = [
                    {
                        "data": encoder.encode(bytes(file.data)),
                        "format": str(file.format),
                        "kind": str(file.kind),
                    }
                    for file in ui.files
                ]
        return {"op": "result", "id": call_id, "outputs": encoded_outputs, "ui": encoded_ui}, encoder

    def serve(self) -> None:
        self.link.send({"op": "ready", **self.describe()})
        while True:
            try:
                message, decoder = wire.recv(self.link.sock)
            except wire.PeerClosed:
                return
            op = message.get("op")
            if op == "execute":
                self.cancel_events[int(message["id"])] = threading.Event()
                worker = threading.Thread(target=self.execute, args=(message, decoder), daemon=True)
                worker.start()
            elif op == "cancel":
                event = self.cancel_events.get(int(message["id"]))
                if event is not None:
                    event.set()
            elif op == "file_reply":
                self.link.deliver(message, decoder)
            elif op == "describe":
                self.link.send({"op": "described", **self.describe()})
            elif op == "shutdown":
                return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="flowyard_packhost.host")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--max-processes", type=int, default=0)
    parser.add_argument("src")
    parser.add_argument("entry")
    args = parser.parse_args(argv)
    if args.max_processes > 0:
        # Before any pack code runs; inside the sandbox's user namespace this counts its processes only.
        resource.setrlimit(resource.RLIMIT_NPROC, (args.max_processes, args.max_processes))
    sock = socket.socket(fileno=args.fd)
    link = _Link(sock)
    # Whatever the pack prints goes to stderr (the parent keeps its tail for crash reports).
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        import nodepacks.sdk as sdk

        sys.path.insert(0, args.src)
        module = importlib.import_module(args.entry)
        pack = getattr(module, "pack", None)
        if not isinstance(pack, sdk.Pack):
            raise ImportError(f"module {args.entry} defines no 'pack = sdk.Pack(...)'")
    except BaseException as exc:
        tail = "".join(traceback.format_exception(exc)[-6:]).strip()
        link.send(
            {"op": "fatal", "message": f"importing {args.entry} failed: {type(exc).__name__}: {exc}\n{tail}"}
        )
        os._exit(1)
    Host(link, pack, sdk).serve()
    os._exit(0)  # skip atexit handlers and non-daemon threads the pack may have started


if __name__ == "__main__":
    main()
