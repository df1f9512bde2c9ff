"""Hostile node packs for the attack corpus: archives that attack the validator, and nodes that attack the host.

``write_archive`` writes a pack archive the way ``flowyard pack build`` does (sorted entries, the hash list),
then appends raw ``extra`` entries an honest build never makes (traversal, symlinks, set-uid bits...).
``HOSTILE_NODES`` is the module of one pack whose nodes each try to get out of the sandbox and report, as a
JSON text, what every attempt gave: ``"ok: ..."`` or ``"denied: <ExceptionType>: ..."``.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path

from workers.packs.build import FILE_MODE, ZIP_EPOCH
from workers.packs.files import HASHES_FILE, FileEntry, hash_list_bytes

MANIFEST = """\
name = "{name}"
version = "{version}"
display_name = "Attack corpus {name}"
description = "A hostile pack of the attack corpus."
publisher = "{publisher}"
license = "MIT"
sdk_api = ">=1.0,<2"
dependencies = []
"""

PLAIN_MODULE = '''\
"""A pack with one harmless node; the attack is elsewhere in the archive."""

from nodepacks import sdk


class Hello(sdk.Node):
    id = "{name}.Hello"

    class Outputs(sdk.Outputs):
        text: str

    def execute(self, inputs, ctx):
        return self.Outputs(text="hello")


pack = sdk.Pack(name="{name}", version="{version}", nodes=[Hello])
'''


def pack_files(
    name: str, publisher: str, version: str = "1.0.0", module: str | None = None
) -> dict[str, bytes]:
    """A valid pack's files: manifest, README and ``<name>/__init__.py`` (``module`` or one harmless node).

    ``{name}`` and ``{version}`` in ``module`` become the pack's name and version (the module avoids them
    elsewhere).
    """
    code = module if module is not None else PLAIN_MODULE
    return {
        "flowyard.toml": MANIFEST.format(name=name, version=version, publisher=publisher).encode(),
        "README.md": f"# {name}\n".encode(),
        f"{name}/__init__.py": code.replace("{name}", name).replace("{version}", version).encode(),
    }


def entry(name: str, mode: int = FILE_MODE, compress_type: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """A zip entry header as the build writes it, with ``mode`` (file type and permission bits) of choice."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = compress_type
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def write_archive(
    path: Path,
    files: dict[str, bytes],
    extra: Iterable[tuple[zipfile.ZipInfo, bytes]] = (),
    *,
    hash_list: bool = True,
) -> Path:
    """Write ``files`` (listed in the hash list unless ``hash_list`` is False), then the raw ``extra`` entries."""
    contents = dict(files)
    if hash_list:
        entries = [
            FileEntry(name, hashlib.sha256(data).hexdigest(), len(data))
            for name, data in sorted(files.items())
        ]
        contents[HASHES_FILE] = hash_list_bytes(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compresslevel=9) as archive:
        for name in sorted(contents):
            archive.writestr(entry(name), contents[name])
        for info, data in extra:
            archive.writestr(info, data)
    return path


SYMLINK_MODE = stat.S_IFLNK | 0o777
SETUID_MODE = stat.S_IFREG | stat.S_ISUID | 0o755
FIFO_MODE = stat.S_IFIFO | 0o644

# Everything the nodes need is imported inside `execute`'s helpers; the module does no work when imported,
# so it stays a valid upload whatever import-time rules the validator adds.
HOSTILE_NODES = '''\
"""Hostile nodes: each tries to get out of its pack host and reports, as JSON text, what every attempt gave."""

import ctypes
import json
import os
import signal
import socket
import time

import numpy as np

from nodepacks import sdk


def attempt(action):
    try:
        return "ok: " + repr(action())[:4000]
    except BaseException as exc:
        return f"denied: {type(exc).__name__}: {exc}"


def read(path):
    if os.path.isdir(path):
        return sorted(os.listdir(path))
    with open(path, "rb") as handle:
        return handle.read(65536).decode("latin-1")


def write(path):
    with open(path, "w") as handle:
        handle.write("pwned by a pack")
    return path


def connect_tcp(host, port):
    with socket.create_connection((host, port), timeout=2) as sock:
        return sock.getpeername()


def connect_unix(address):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(address)
        return "connected"


def send_udp(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return sock.sendto(b"x", (host, port))


def raw_socket(family, kind, protocol):
    with socket.socket(family, kind, protocol) as sock:
        return sock.fileno()


def libc():
    return ctypes.CDLL(None, use_errno=True)


def errno_call(function, *args):
    result = function(*args)
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def name_process(marker):
    libc().prctl(15, marker.encode(), 0, 0, 0)  # PR_SET_NAME: found from outside by /proc/<pid>/comm


def status_lines():
    with open("/proc/self/status") as handle:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in handle)}


class Target(sdk.Inputs):
    target: str = sdk.text("{}")


class Report(sdk.Outputs):
    report: str


class ReadFiles(sdk.Node):
    """Read (or list) each path: the repository, the canary, /etc, /root, the database, another pack."""

    id = "{name}.ReadFiles"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        paths = json.loads(inputs.target)["paths"]
        return self.Outputs(report=json.dumps({path: attempt(lambda p=path: read(p)) for path in paths}))


class WriteFiles(sdk.Node):
    """Write a file at each path outside the scratch folder."""

    id = "{name}.WriteFiles"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        paths = json.loads(inputs.target)["paths"]
        return self.Outputs(report=json.dumps({path: attempt(lambda p=path: write(p)) for path in paths}))


class Environ(sdk.Node):
    """Read the environment, the own and pid 1's, for the worker's secrets."""

    id = "{name}.Environ"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        found = {
            "environ": dict(os.environ),
            "self": attempt(lambda: read("/proc/self/environ")),
            "pid1": attempt(lambda: read("/proc/1/environ")),
            "ppid": attempt(lambda: read(f"/proc/{os.getppid()}/environ")),
        }
        return self.Outputs(report=json.dumps(found))


class ProcSnoop(sdk.Node):
    """List the processes /proc shows and read the worker's command line, environment and files."""

    id = "{name}.ProcSnoop"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        visible = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
        found = {
            "visible": visible,
            "cmdlines": {pid: attempt(lambda p=pid: read(f"/proc/{p}/cmdline")) for pid in visible},
        }
        for pid in json.loads(inputs.target)["pids"]:
            for what in ("cmdline", "environ", "status", "root", "cwd", "fd"):
                found[f"{pid}/{what}"] = attempt(lambda p=pid, w=what: read(f"/proc/{p}/{w}"))
        return self.Outputs(report=json.dumps(found))


class Network(sdk.Node):
    """Connect to the canary servers, the database and Redis; resolve names; open raw and packet sockets."""

    id = "{name}.Network"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        target = json.loads(inputs.target)
        found = {}
        for host, port in target["tcp"]:
            found[f"tcp {host}:{port}"] = attempt(lambda h=host, p=port: connect_tcp(h, p))
        for path in target["unix"]:
            found[f"unix {path}"] = attempt(lambda a=path: connect_unix(a))
        for label in target["abstract"]:
            found[f"abstract {label}"] = attempt(lambda a=label: connect_unix("\\0" + a))
        for label in target["dns"]:
            found[f"dns {label}"] = attempt(lambda n=label: socket.getaddrinfo(n, 80))
        found["udp 8.8.8.8:53"] = attempt(lambda: send_udp("8.8.8.8", 53))
        found["raw icmp"] = attempt(lambda: raw_socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
        found["packet"] = attempt(lambda: raw_socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
        found["interfaces"] = attempt(lambda: [name for _, name in socket.if_nameindex()])
        return self.Outputs(report=json.dumps(found))


class Privileges(sdk.Node):
    """Become root: set-uid/set-gid calls, capabilities, mount, chroot."""

    id = "{name}.Privileges"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        found = {
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "gid": os.getgid(),
            "setuid": attempt(lambda: os.setuid(0)),
            "seteuid": attempt(lambda: os.seteuid(0)),
            "setgid": attempt(lambda: os.setgid(0)),
            "setgroups": attempt(lambda: os.setgroups([0])),
            "chroot": attempt(lambda: os.chroot("/")),
            "mount": attempt(lambda: errno_call(libc().mount, b"none", b"/tmp", b"tmpfs", 0, None)),
        }
        status = status_lines()
        for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
            found[key] = status.get(key)
        found["euid after"] = os.geteuid()
        return self.Outputs(report=json.dumps(found))


class Signals(sdk.Node):
    """Signal and ptrace the worker and its parent; signal and ptrace the host's own parent."""

    id = "{name}.Signals"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        found = {"ppid": os.getppid()}
        pids = json.loads(inputs.target)["pids"]
        for pid in [*pids, os.getppid()]:
            found[f"kill {pid}"] = attempt(lambda p=pid: os.kill(p, 0))
            # PTRACE_SEIZE (0x4206) does not stop the tracee, so a success would not hang the worker.
            found[f"ptrace {pid}"] = attempt(lambda p=pid: errno_call(libc().ptrace, 0x4206, p, None, None))
        return self.Outputs(report=json.dumps(found))


class FileRefs(sdk.Node):
    """Ask the worker, over the host's own channel, for files that are not uploads of this workspace."""

    id = "{name}.FileRefs"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        found = {}
        for ref in json.loads(inputs.target)["refs"]:
            found[f"open {ref}"] = attempt(lambda r=ref: ctx.files.open(r).read(65536).decode("latin-1"))
            found[f"sha256 {ref}"] = attempt(lambda r=ref: ctx.files.sha256(r))
        return self.Outputs(report=json.dumps(found))


class SaveOutside(sdk.Node):
    """Save an image under a file name prefix that climbs out of the output folder."""

    id = "{name}.SaveOutside"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        prefix = json.loads(inputs.target)["prefix"]
        image = np.zeros((1, 4, 4, 3), dtype=np.float32)
        return sdk.Result(self.Outputs(report="saved"), sdk.UI(images=[image], saved=True, filename_prefix=prefix))


class MemoryHog(sdk.Node):
    """Allocate (and touch) memory in 16 MiB pieces until ``bytes`` or failure."""

    id = "{name}.MemoryHog"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        wanted = json.loads(inputs.target)["bytes"]
        held = []
        while len(held) * 16 * 2**20 < wanted:
            held.append(b"\\1" * (16 * 2**20))
        return self.Outputs(report=json.dumps({"held": len(held) * 16 * 2**20}))


class MemoryFanOut(sdk.Node):
    """Each of ``children`` processes allocates ``bytes`` and holds it ``hold`` s: do they together pass the host's
    limit?"""

    id = "{name}.MemoryFanOut"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        target = json.loads(inputs.target)
        children = []
        for _ in range(target["children"]):
            reader, writer = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(reader)
                try:
                    held = b"\\1" * target["bytes"]
                    os.write(writer, b"y" if held else b"n")
                    time.sleep(30)
                except BaseException:
                    os.write(writer, b"n")
                os._exit(0)
            os.close(writer)
            children.append((pid, reader))
        allocated = 0
        for pid, reader in children:
            if os.read(reader, 1) == b"y":
                allocated += target["bytes"]
            os.close(reader)
        time.sleep(target.get("hold", 0))  # keep it all, as a real hog would
        for pid, _ in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        return self.Outputs(report=json.dumps({"allocated": allocated, "children": len(children)}))


class Spin(sdk.Node):
    """Burn CPU forever."""

    id = "{name}.Spin"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        count = 0
        while count >= 0:
            count += 1
        return self.Outputs(report=str(count))


class ForkBomb(sdk.Node):
    """Fork until refused; every child names itself ``marker`` and sleeps, so the bomb stays standing."""

    id = "{name}.ForkBomb"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        target = json.loads(inputs.target)
        forked, error = 0, ""
        while forked < target["max"]:
            try:
                pid = os.fork()
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
                break
            if pid == 0:
                name_process(target["marker"])
                os.setsid()  # out of the host's process group, so killing the group alone would miss it
                time.sleep(120)
                os._exit(0)
            forked += 1
        return self.Outputs(report=json.dumps({"forked": forked, "error": error}))


class OpenFiles(sdk.Node):
    """Open files until refused."""

    id = "{name}.OpenFiles"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        held, error = [], ""
        while len(held) < json.loads(inputs.target)["max"]:
            try:
                held.append(open("/dev/null"))
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
                break
        count = len(held)
        for handle in held:
            handle.close()
        return self.Outputs(report=json.dumps({"opened": count, "error": error}))


class BigFile(sdk.Node):
    """Write each file of ``paths`` (``bytes`` each, in 1 MiB pieces); they stay in the scratch folder."""

    id = "{name}.BigFile"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        target = json.loads(inputs.target)
        found = {}
        for path in target["paths"]:
            written, error = 0, ""
            try:
                with open(path, "wb") as handle:
                    while written < target["bytes"]:
                        written += handle.write(b"\\0" * 2**20)
                        handle.flush()
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
            found[path] = {"written": os.path.getsize(path) if os.path.exists(path) else 0, "error": error}
        return self.Outputs(report=json.dumps(found))


class KillAll(sdk.Node):
    """Send SIGKILL to every process this user may signal (kill -9 -1)."""

    id = "{name}.KillAll"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        os.kill(-1, signal.SIGKILL)
        time.sleep(5)
        return self.Outputs(report="survived")


class Alive(sdk.Node):
    """Answer: the host works."""

    id = "{name}.Alive"
    Inputs = Target
    Outputs = Report

    def execute(self, inputs, ctx):
        return self.Outputs(report=f"alive {os.getpid()}")


pack = sdk.Pack(
    name="{name}",
    version="{version}",
    nodes=[
        ReadFiles, WriteFiles, Environ, ProcSnoop, Network, Privileges, Signals, FileRefs, SaveOutside,
        MemoryHog, MemoryFanOut, Spin, ForkBomb, OpenFiles, BigFile, KillAll, Alive,
    ],
)
'''

VICTIM_MODULE = '''\
"""An honest pack whose environment holds a data file other packs must not read."""

from nodepacks import sdk


class Hello(sdk.Node):
    id = "{name}.Hello"

    class Outputs(sdk.Outputs):
        text: str

    def execute(self, inputs, ctx):
        return self.Outputs(text="hello")


pack = sdk.Pack(name="{name}", version="{version}", nodes=[Hello])
'''

IMPORT_TIME_MODULE = '''\
"""Attacks when imported (when the server describes it), before any node runs."""

import json
import os
import socket

from nodepacks import sdk

LOOT = dict()
for target in {paths!r}:
    try:
        with open(target) as handle:
            LOOT[target] = handle.read()
    except OSError as exc:
        LOOT[target] = repr(exc)
    try:
        with open(target + ".pwned", "w") as handle:
            handle.write("pwned")
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
except OSError:
    pass


class Loot(sdk.Node):
    id = "{name}.Loot"

    class Outputs(sdk.Outputs):
        loot: str

    def execute(self, inputs, ctx):
        return self.Outputs(loot=json.dumps({{"loot": LOOT, "environ": dict(os.environ)}}))


pack = sdk.Pack(name="{name}", version="{version}", nodes=[Loot])
'''
