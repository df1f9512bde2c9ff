"""One environment per pack version: verified sources, a venv with the pack's own pins, the host's packages.

Layout under ``root``::

    _layer-<key>/site/           the host layer: links to the host's copies of the host-provided packages
                                 (and everything they depend on), a copy of the SDK (``nodepacks.sdk``
                                 only) and of the host bootstrap (``flowyard_packhost``)
    <name>-<version>-<sha12>/
        src/                     the pack, extracted from a verified archive, files read-only
        venv/                    ``uv venv`` of the host's interpreter, no pip; the pack's pins installed
                                 with --no-deps; ``flowyard-host.pth`` appends the layer to sys.path
        requirements.lock        what was installed (the pack's pins + their resolved dependencies)
        env.json                 name, version, sha256, entry, layer key: written last (the ready mark)
    .locks/<sha12>.lock          flock: exclusive while building or collecting, shared while a host runs

The pack sees numpy, pillow, pydantic, torch... at the host's versions (the layer) and its own pins isolated
from every other pack (its venv's site-packages, which come first on ``sys.path``). Dependencies are
resolved with the host's versions of the layer's packages as constraints (a pack whose dependency needs
another numpy fails to install; the host is never touched), then only the packages that are *not* in the
layer are installed, so no pack environment ever holds its own numpy or torch.

Environments are built in a temporary folder and renamed into place, reused by every later run, and
removed by ``collect`` when no longer installed anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import nodepacks.sdk
from nodepacks.sdk.manifest import HOST_PROVIDED, Manifest, load_manifest
from workers.packs.files import HASHES_FILE
from workers.packs.limits import Limits
from workers.packs.validate import validate_archive

logger = logging.getLogger(__name__)

SDK_DIR = Path(nodepacks.sdk.__file__).resolve().parent
HOSTSIDE_DIR = Path(__file__).resolve().with_name("hostside")
BOOTSTRAP_PACKAGE = "flowyard_packhost"
ENV_FORMAT = 1
INSTALL_TIMEOUT = 600.0

ArchiveSource = Path | str | Callable[[], IO[bytes] | bytes]
"""An archive on disk, or a callable returning its bytes or a binary file object (a blob reader)."""


class PackEnvError(Exception):
    """An environment that cannot be built: wrong hash, an archive the validator refuses, a failed install."""


@dataclass(frozen=True)
class HostLayer:
    """The host-provided packages, the SDK and the bootstrap, shared read-only by every pack environment."""

    key: str
    site: Path
    pins: tuple[str, ...]
    """``name==version`` of every package in the layer: the constraints for resolving a pack's pins."""
    names: frozenset[str]
    """Canonical names of the layer's packages: never installed into a pack environment."""
    bind_paths: tuple[Path, ...]
    """Real paths the layer's links point at (bound read-only into the sandbox)."""
    python: Path
    """The host interpreter every pack venv is made from."""
    python_prefix: Path


@dataclass(frozen=True)
class PackEnv:
    """A ready pack environment."""

    name: str
    version: str
    sha256: str
    entry: str
    path: Path
    layer: HostLayer
    manifest: dict[str, Any]

    @property
    def key(self) -> str:
        """``<name>-<version>-<sha12>``: the folder name, unique per archive."""
        return self.path.name

    @property
    def src(self) -> Path:
        return self.path / "src"

    @property
    def venv(self) -> Path:
        return self.path / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def lock_path(self) -> Path:
        return self.path.parent / ".locks" / f"{self.sha256[:12]}.lock"

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Hold a shared lock while a host runs from this environment (``collect`` skips it meanwhile)."""
        with _flock(self.lock_path, fcntl.LOCK_SH):
            yield


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)


def _host_distributions() -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonicalize_name(name) not in found:
            found[canonicalize_name(name)] = dist
    return found


def _layer_closure(dists: dict[str, metadata.Distribution]) -> list[str]:
    """The installed host-provided packages plus, recursively, the installed packages they require."""
    seen: set[str] = set()
    stack = [name for name in HOST_PROVIDED if name in dists]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in dists[name].requires or ():
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            dep = canonicalize_name(requirement.name)
            if dep in dists:
                stack.append(dep)
    return sorted(seen)


def _top_level_paths(dist: metadata.Distribution) -> set[Path]:
    """The top-level entries of site-packages that a distribution installed (packages, modules, .libs)."""
    base = Path(str(dist.locate_file(""))).resolve()
    tops: set[Path] = set()
    for file in dist.files or ():
        parts = PurePosixPath(str(file)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".pth"):
            continue
        candidate = base / parts[0]
        if candidate.exists():
            tops.add(candidate)
    return tops


def _tree_digest(folder: Path, pattern: str, digest: Any) -> None:
    for path in sorted(folder.rglob(pattern)):
        if "tests" in path.relative_to(folder).parts or "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")


def build_layer(root: Path) -> HostLayer:
    """Create (once) the host layer for this interpreter, these host packages, this SDK and bootstrap."""
    dists = _host_distributions()
    names = _layer_closure(dists)
    pins = tuple(f"{name}=={dists[name].version}" for name in names)
    python = Path(os.path.realpath(sys.executable))
    digest = hashlib.sha256(f"{ENV_FORMAT}\0{python}\0{sys.version}\0{pins}".encode())
    _tree_digest(SDK_DIR, "*.py", digest)
    _tree_digest(HOSTSIDE_DIR, "*.py", digest)
    key = digest.hexdigest()[:16]
    tops = sorted({top for name in names for top in _top_level_paths(dists[name])})
    folder = root / f"_layer-{key}"
    site = folder / "site"
    if not (folder / "ready").exists():
        with _flock(root / ".locks" / f"layer-{key}.lock", fcntl.LOCK_EX):
            if not (folder / "ready").exists():
                _write_layer(root, folder, tops)
    return HostLayer(
        key=key,
        site=site,
        pins=pins,
        names=frozenset(names),
        bind_paths=tuple(tops),
        python=python,
        python_prefix=Path(sys.base_prefix).resolve(),
    )


def _write_layer(root: Path, folder: Path, tops: list[Path]) -> None:
    temp = Path(tempfile.mkdtemp(prefix=".tmp-layer-", dir=root))
    temp.chmod(0o755)  # hosts may run as another uid (sandbox.host_identity): they read the layer
    site = temp / "site"
    site.mkdir()
    for top in tops:
        (site / top.name).symlink_to(top)
    sdk_copy = site / "nodepacks" / "sdk"
    shutil.copytree(SDK_DIR, sdk_copy, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.pyc"))
    (site / "nodepacks" / "__init__.py").write_text(
        '"""Only the SDK: no built-in packs, no Flowyard code."""\n'
    )
    shutil.copytree(
        HOSTSIDE_DIR, site / BOOTSTRAP_PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(site / "nodepacks"), str(site / BOOTSTRAP_PACKAGE)],
        check=False,
        capture_output=True,
    )
    (temp / "ready").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    if folder.exists():
        shutil.rmtree(folder)
    temp.rename(folder)


def _uv() -> str | None:
    """The uv binary: next to this interpreter (the ``uv`` PyPI wheel installs it there) or on PATH."""
    candidate = Path(sys.executable).with_name("uv")
    if candidate.exists():
        return str(candidate)
    return shutil.which("uv")


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    env = {
        k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "UV_CACHE_DIR", "SSL_CERT_FILE")
    }
    env.setdefault("PATH", "/usr/bin:/bin")
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PackEnvError(f"{what} did not finish within {INSTALL_TIMEOUT:g} s") from None
    if done.returncode != 0:
        raise PackEnvError(f"{what} failed:\n{(done.stderr or done.stdout).strip()[-3000:]}")
    return done.stdout


class PackEnvironments:
    """Creates, reuses and garbage-collects pack environments under ``root``."""

    def __init__(self, root: Path | str, *, installer: str = "auto", limits: Limits | None = None) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        if installer not in ("auto", "uv", "pip"):
            raise ValueError("installer must be auto, uv or pip")
        self.uv = _uv() if installer in ("auto", "uv") else None
        if installer == "uv" and self.uv is None:
            raise PackEnvError("uv is not installed")
        self.limits = (limits or Limits()).model_copy(update={"import_check": False})
        self._layer: HostLayer | None = None

    @property
    def layer(self) -> HostLayer:
        if self._layer is None:
            self._layer = build_layer(self.root)
        return self._layer

    # Lookup

    def _load(self, folder: Path, sha256: str) -> PackEnv | None:
        try:
            info = json.loads((folder / "env.json").read_text())
        except (OSError, ValueError):
            return None
        if (
            info.get("format") != ENV_FORMAT
            or info.get("sha256") != sha256
            or info.get("layer") != self.layer.key
        ):
            return None
        return PackEnv(
            name=info["name"],
            version=info["version"],
            sha256=sha256,
            entry=info["entry"],
            path=folder,
            layer=self.layer,
            manifest=info["manifest"],
        )

    def find(self, sha256: str) -> PackEnv | None:
        """The ready environment of the archive with this sha256, or None."""
        for folder in self.root.glob(f"*-{sha256[:12]}"):
            env = self._load(folder, sha256)
            if env is not None:
                return env
        return None

    def installed(self) -> list[PackEnv]:
        """Every ready environment."""
        envs = []
        for info in self.root.glob("*/env.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                env = self._load(info.parent, json.loads(info.read_text())["sha256"])
                if env is not None:
                    envs.append(env)
        return envs

    # Creation

    def ensure(self, source: ArchiveSource, expected_sha256: str) -> PackEnv:
        """Return the environment of the archive ``source`` (which must hash to ``expected_sha256``)."""
        sha256 = expected_sha256.lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise PackEnvError(f"{expected_sha256!r} is not a sha256 hex digest")
        env = self.find(sha256)
        if env is not None:
            return env
        with _flock(self.root / ".locks" / f"{sha256[:12]}.lock", fcntl.LOCK_EX):
            env = self.find(sha256)  # built by another process while we waited
            if env is not None:
                return env
            temp = Path(tempfile.mkdtemp(prefix=".tmp-env-", dir=self.root))
            temp.chmod(0o755)  # hosts may run as another uid (sandbox.host_identity): they read the env
            try:
                return self._create(source, sha256, temp)
            finally:
                if temp.exists():
                    shutil.rmtree(temp, ignore_errors=True)

    def _create(self, source: ArchiveSource, sha256: str, temp: Path) -> PackEnv:
        began = time.perf_counter()
        archive = temp / "archive.zip"
        actual = _copy_archive(source, archive, self.limits.max_archive_bytes)
        if actual != sha256:
            raise PackEnvError(f"the archive's sha256 is {actual}, not the expected {sha256}")
        report = validate_archive(archive, self.limits)
        if not report.ok:
            problems = "; ".join(f"{p.code}: {p.message}" for p in report.errors[:10])
            raise PackEnvError(f"the archive is not a valid pack: {problems}")
        src = temp / "src"
        _extract_verified(archive, src)
        manifest = load_manifest(src)
        self._make_venv(temp / "venv")
        locked = self._install(manifest, temp)
        archive.unlink()
        for folder, _, files in os.walk(src):
            for name in files:
                os.chmod(os.path.join(folder, name), 0o444)
        info = {
            "format": ENV_FORMAT,
            "name": manifest.name,
            "version": manifest.version,
            "sha256": sha256,
            "entry": manifest.entry,
            "layer": self.layer.key,
            "installed": locked,
            "manifest": manifest.summary(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - began, 3),
        }
        (temp / "env.json").write_text(json.dumps(info, indent=1) + "\n")
        final = self.root / f"{manifest.name}-{manifest.version}-{sha256[:12]}"
        if final.exists():  # a stale build (an older layer, a crash halfway): replace it
            trash = self.root / f".trash-{secrets.token_hex(4)}"
            final.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        temp.rename(final)
        logger.info("pack environment %s ready in %.1f s", final.name, info["seconds"])
        env = self._load(final, sha256)
        assert env is not None
        return env

    def _make_venv(self, venv: Path) -> None:
        python = str(self.layer.python)
        if self.uv:
            _run(
                [self.uv, "venv", "--no-config", "-q", "--python", python, str(venv)], venv.parent, "uv venv"
            )
        else:
            _run([python, "-m", "venv", "--without-pip", str(venv)], venv.parent, "python -m venv")
        site = _site_packages(venv)
        (site / "flowyard-host.pth").write_text(f"{self.layer.site}\n")

    def _install(self, manifest: Manifest, temp: Path) -> list[str]:
        wanted = [str(r) for r in manifest.installable_requirements]
        if not wanted:
            (temp / "requirements.lock").write_text("")
            return []
        (temp / "requirements.in").write_text("\n".join(wanted) + "\n")
        (temp / "constraints.txt").write_text("\n".join(self.layer.pins) + "\n")
        python = str(temp / "venv" / "bin" / "python")
        resolved = self._resolve(temp, python)
        # The layer's packages stay the host's: never installed into the pack's venv.
        own = sorted(pin for pin in resolved if canonicalize_name(pin.split("==")[0]) not in self.layer.names)
        (temp / "requirements.lock").write_text("\n".join(own) + "\n")
        if own:
            if self.uv:
                cmd = [self.uv, "pip", "install", "--no-config", "-q", "--python", python, "--no-deps"]
                cmd += ["--only-binary", ":all:"]  # building an sdist runs its code, outside any sandbox
                _run([*cmd, "-r", "requirements.lock"], temp, "installing the pack's dependencies")
            else:
                cmd = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps"]
                cmd += ["--only-binary", ":all:"]
                _run(
                    [*cmd, "--no-compile", "-r", "requirements.lock"],
                    temp,
                    "installing the pack's dependencies",
                )
        return own

    def _resolve(self, temp: Path, python: str) -> list[str]:
        """Resolve the pack's pins and their dependencies, with the layer's versions as constraints."""
        if self.uv:
            out = _run(
                [
                    self.uv, "pip", "compile", "--no-config", "-q", "--python", python, "--no-header",
                    "--no-annotate", "--only-binary", ":all:", "--constraint", "constraints.txt",
                    "requirements.in",
                ],
                temp,
                "resolving the pack's dependencies",
            )  # fmt: skip
            return [line.strip() for line in out.splitlines() if "==" in line and not line.startswith("#")]
        report = temp / "resolution.json"
        _run(
            [
                sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
                "--only-binary", ":all:", "--report", str(report), "-c", "constraints.txt", "-r", "requirements.in",
            ],
            temp,
            "resolving the pack's dependencies",
        )  # fmt: skip
        data = json.loads(report.read_text())
        return [
            f"{item['metadata']['name']}=={item['metadata']['version']}" for item in data.get("install", [])
        ]

    # Garbage collection

    def collect(self, keep: Iterable[PackEnv | str]) -> list[str]:
        """Remove every environment (and unused layer) not in ``keep`` (envs or sha256s) and not in use."""
        kept = {item.sha256 if isinstance(item, PackEnv) else item.lower() for item in keep}
        (self.root / ".locks").mkdir(exist_ok=True)
        removed = []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith((".tmp-", ".trash-")) and time.time() - folder.stat().st_mtime > 3600:
                shutil.rmtree(folder, ignore_errors=True)  # left by a crashed build
                continue
            if folder.name.startswith("_layer-"):
                if folder.name != f"_layer-{self.layer.key}":
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder.name)
                continue
            info_path = folder / "env.json"
            if folder.name.startswith(".") or not info_path.exists():
                continue
            try:
                sha = json.loads(info_path.read_text())["sha256"]
            except (OSError, ValueError, KeyError):
                continue
            if sha in kept:
                continue
            lock = self.root / ".locks" / f"{sha[:12]}.lock"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a host is running from it
                trash = self.root / f".trash-{secrets.token_hex(4)}"
                folder.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
                removed.append(folder.name)
            finally:
                os.close(fd)
        return removed


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise PackEnvError(f"{venv} has no site-packages")
    return found[0]


def _copy_archive(source: ArchiveSource, target: Path, max_bytes: int) -> str:
    """Copy the archive to ``target`` (so it cannot change after it was checked); return its sha256."""
    digest = hashlib.sha256()
    size = 0
    opened: IO[bytes] | bytes = source() if callable(source) else open(source, "rb")  # noqa: SIM115
    with open(target, "wb") as out:
        if isinstance(opened, bytes | bytearray | memoryview):
            data = bytes(opened)
            if len(data) > max_bytes:
                raise PackEnvError(f"the archive is larger than the limit of {max_bytes} bytes")
            digest.update(data)
            out.write(data)
        else:
            with opened as stream:
                while chunk := stream.read(1 << 20):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PackEnvError(f"the archive is larger than the limit of {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def _extract_verified(archive: Path, dest: Path) -> None:
    """Extract every listed file, checking each one's sha256 and size against the embedded hash list."""
    dest.mkdir()
    with zipfile.ZipFile(archive) as zf:
        listed = {item["path"]: item for item in json.loads(zf.read(HASHES_FILE))["files"]}
        names = [info.filename for info in zf.infolist() if not info.is_dir()]
        unlisted = sorted(set(names) - set(listed) - {HASHES_FILE})
        missing = sorted(set(listed) - set(names))
        if unlisted or missing:
            raise PackEnvError(
                f"the hash list does not match the archive (unlisted {unlisted}, missing {missing})"
            )
        root = dest.resolve()
        for name, item in sorted(listed.items()):
            parts = PurePosixPath(name).parts
            if not parts or name.startswith("/") or ".." in parts or "\\" in name:
                raise PackEnvError(f"{name!r}: unsafe path")
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.parent.resolve() != target.parent or not str(target).startswith(str(root) + os.sep):
                raise PackEnvError(f"{name!r}: escapes the pack folder")
            digest, size = hashlib.sha256(), 0
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            with os.fdopen(fd, "wb") as out, zf.open(name) as entry:
                while chunk := entry.read(1 << 16):
                    size += len(chunk)
                    if size > int(item["size"]):
                        raise PackEnvError(f"{name}: larger than its hash list entry")
                    digest.update(chunk)
                    out.write(chunk)
            if size != int(item["size"]) or digest.hexdigest() != item["sha256"]:
                raise PackEnvError(f"{name}: content does not match its sha256 in {HASHES_FILE}")
