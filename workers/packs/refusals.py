"""Static checks that refuse an upload outright: what no honest pack needs and a reviewer should never see.

Unlike the scan's findings (a reviewer weighs them), each of these is a blocking :class:`Problem` naming the
file and the reason:

- ``shadows-stdlib`` / ``shadows-host-module``: a module or package at the top of the pack, the folder the
  pack host puts first on ``sys.path``, named like a standard-library module or a module the host provides
  (numpy, PIL, torch, their dependencies, the SDK, the host bootstrap). Importing the pack would then replace
  that module for every later import in the host, the SDK's included.
- ``node-prefix``: a node class whose literal ``id`` does not start with ``<pack name>.``, so it could take
  the place of a core node (``LoadImage``) or another pack's. The import check says the same, but it is off
  for uploads until it runs in the sandbox; this check reads the source and needs no import.
- ``nested-archive``: an archive (zip, wheel, tar, gzip, 7z, rar...) inside the pack, by name or magic
  bytes: its contents escape every check above.
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.metadata
import re
import sys
from collections.abc import Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nodepacks.sdk.manifest import HOST_PROVIDED, RESERVED_MODULES
from workers.packs.report import Problem

# Import names of the host-provided distributions, known even where a package is not installed here (the
# registry's web process has no torch); the installed ones and their dependencies are added at run time.
_HOST_IMPORT_NAMES = frozenset(
    {"numpy", "PIL", "pydantic", "pydantic_core", "packaging", "typing_extensions", "torch", "torchvision"}
    | {"torchaudio", "safetensors", "modelscope", "nodepacks", "flowyard_packhost"}
)
# Python imports these by name at start-up from anywhere on sys.path.
_STARTUP_MODULES = frozenset({"sitecustomize", "usercustomize"})
_MODULE_SUFFIXES = tuple(sorted({*importlib.machinery.all_suffixes(), ".pyw", ".pyi"}, key=len, reverse=True))

ARCHIVE_SUFFIXES = (
    ".zip", ".whl", ".egg", ".jar", ".war", ".npz", ".tar", ".tgz", ".tbz", ".tbz2", ".txz", ".tlz",
    ".gz", ".bz2", ".xz", ".lz", ".lzma", ".lz4", ".zst", ".z", ".7z", ".rar", ".cab", ".deb", ".rpm",
    ".cpio", ".ar", ".iso", ".dmg", ".apk", ".xpi", ".squashfs", ".sqfs",
)  # fmt: skip
_ARCHIVE_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PK\x07\x08", "zip"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"\x1f\x9d", "compress (.Z)"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"LZIP\x01", "lzip"),
    (b"MSCF\x00\x00\x00\x00", "cab"),
    (b"!<arch>\n", "ar (.deb)"),
    (b"xar!\x00\x1c", "xar"),
)
_BZIP2_MAGIC = re.compile(rb"BZh[1-9]1AY&SY")
_TAR_MAGIC_OFFSET = 257
MAGIC_BYTES = _TAR_MAGIC_OFFSET + 8
"""How many leading bytes of each file :func:`nested_archive_problems` needs."""

_HOST = "the host-provided module"
_NODE_BASES = frozenset({"nodepacks.sdk.Node", "nodepacks.sdk.node.Node"})


@functools.cache
def shadowed_modules() -> Mapping[str, str]:
    """Top-level module names a pack must not ship, each with what it would shadow (for the message)."""
    shadowed = {name: "the standard library module" for name in sys.stdlib_module_names}
    shadowed |= {name: "the start-up hook" for name in _STARTUP_MODULES}
    host = _HOST_IMPORT_NAMES | RESERVED_MODULES | _installed_host_modules()
    shadowed |= {name: _HOST for name in host if name not in shadowed}
    return shadowed


def _installed_host_modules() -> frozenset[str]:
    """Import names of the installed host-provided distributions and, recursively, what they require.

    The pack host's layer holds exactly these (``workers/runtime/packhost/envs.py``), behind the pack's
    sources on ``sys.path``.
    """
    provides: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        if module.isidentifier():
            for dist in dists:
                provides.setdefault(canonicalize_name(dist), set()).add(module)
    seen: set[str] = set()
    stack = [canonicalize_name(name) for name in HOST_PROVIDED]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                stack.append(canonicalize_name(requirement.name))
    # A distribution that installs a top-level ``tests`` package would otherwise refuse every scaffolded pack.
    return frozenset(m for d in seen for m in provides.get(d, ()) if m not in ("tests", "test", "docs"))


def _module_name(file_name: str) -> str | None:
    """The module a top-level file defines (``json.py`` -> ``json``), or None if it is not importable."""
    for suffix in _MODULE_SUFFIXES:
        if file_name.endswith(suffix):
            stem = file_name[: -len(suffix)]
            return stem if stem.isidentifier() else None
    return None


def shadow_problems(paths: Iterable[str]) -> list[Problem]:
    """Refuse top-level modules and packages of the pack that take the name of a standard or host module.

    The pack's root is what the host puts first on ``sys.path``. A folder counts as a package when it holds
    any importable file (with or without ``__init__.py``); a folder of data only (``html/index.html``) does not.
    """
    shadowed = shadowed_modules()
    problems: list[Problem] = []
    folders_reported: set[str] = set()
    for path in sorted(paths):
        top, _, rest = path.partition("/")
        if not rest:
            module = _module_name(top)
            kind = "module"
        else:
            module = top if top.isidentifier() and _module_name(path.rsplit("/", 1)[-1]) else None
            kind = "package"
            if module in folders_reported:
                continue
        if module is None or module not in shadowed:
            continue
        code = "shadows-host-module" if shadowed[module] == _HOST else "shadows-stdlib"
        problems.append(
            Problem(
                code=code,
                message=(
                    f"{path!r}: the top-level {kind} {module!r} would shadow {shadowed[module]} {module!r} for the "
                    f"whole host (the pack's root is first on sys.path); move it inside your package or rename it"
                ),
                file=path,
            )
        )
        if kind == "package":
            folders_reported.add(module)
    return problems


def nested_archive_problems(path: str, head: bytes) -> list[Problem]:
    """Refuse an archive inside the pack, named as one or recognised by its first bytes (any name)."""
    name = path.rsplit("/", 1)[-1].lower()
    kind = next((label for magic, label in _ARCHIVE_MAGIC if head.startswith(magic)), None)
    if kind is None and head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar":
        kind = "tar"
    if kind is None and _BZIP2_MAGIC.match(head):
        kind = "bzip2"
    if kind is None and not name.endswith(ARCHIVE_SUFFIXES):
        return []
    what = f"a {kind} archive" if kind else "an archive by its name"
    return [
        Problem(
            code="nested-archive",
            message=(
                f"{path!r} is {what}: its contents would escape validation and review; ship its files "
                f"directly (arrays as .npy or .safetensors, models on ModelScope)"
            ),
            file=path,
        )
    ]


def node_prefix_problems(pack_name: str, sources: Mapping[str, bytes]) -> list[Problem]:
    """Refuse node classes whose literal ``id`` does not start with ``<pack name>.``.

    A node class derives from ``nodepacks.sdk.Node`` (however imported) or from another class of the pack
    that does. Ids computed at run time are left to the import check.
    """
    classes: list[tuple[str, ast.ClassDef, list[str]]] = []
    for path, data in sorted(sources.items()):
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(data.decode("utf-8"), filename=path)
        except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
            continue  # the scan reports it as unparseable
        aliases = _import_aliases(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes.append((path, node, [_qualname(base, aliases) for base in node.bases]))
    node_classes: set[str] = set()
    changed = True
    while changed:  # a pack's own base classes: class Base(sdk.Node), class Blur(Base)
        changed = False
        for _, cls, bases in classes:
            if cls.name not in node_classes and any(
                base in _NODE_BASES or base.rsplit(".", 1)[-1] in node_classes for base in bases
            ):
                node_classes.add(cls.name)
                changed = True
    prefix = f"{pack_name}."
    problems: list[Problem] = []
    for path, cls, bases in classes:
        if not any(base in _NODE_BASES or base.rsplit(".", 1)[-1] in node_classes for base in bases):
            continue
        for line, node_id in _literal_ids(cls):
            if not node_id.startswith(prefix) or len(node_id) == len(prefix):
                problems.append(
                    Problem(
                        code="node-prefix",
                        message=(
                            f"node class {cls.name} declares id {node_id!r}, which must start with "
                            f"{prefix!r} (e.g. {prefix}{cls.name}) so that it cannot replace a core node "
                            f"or another pack's"
                        ),
                        file=path,
                        line=line,
                        node=node_id,
                    )
                )
    return problems


def _literal_ids(cls: ast.ClassDef) -> list[tuple[int, str]]:
    found = []
    for statement in cls.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        if (
            any(isinstance(target, ast.Name) and target.id == "id" for target in targets)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            found.append((statement.lineno, value.value))
    return found


def _import_aliases(tree: ast.Module) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _qualname(node: ast.expr, aliases: Mapping[str, str]) -> str:
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return f"{_qualname(node.value, aliases)}.{node.attr}"
    return ""


def refusal_problems(files: Mapping[str, bytes], pack_name: str | None) -> list[Problem]:
    """Every refusal for a pack's files (path -> content; at least the first :data:`MAGIC_BYTES` of each
    file, all of each ``.py``), ``pack_name`` from its manifest (None when the manifest is invalid)."""
    problems = shadow_problems(files)
    for path, data in sorted(files.items()):
        problems.extend(nested_archive_problems(path, data))
    if pack_name:
        problems.extend(node_prefix_problems(pack_name, files))
    return problems
