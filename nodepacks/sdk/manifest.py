"""The pack manifest: ``flowyard.toml`` in a pack's source folder, parsed once into a typed ``Manifest``.

Every problem is reported at once, each naming its field: ``dependencies[2]: 'requests' must be pinned
with ==``. The host-provided policy lives here too, so the CLI, the build and the upload validator agree
on what a pack may declare.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from nodepacks.sdk.pack import _PACK_NAME, API_VERSION, is_semver

MANIFEST_FILE = "flowyard.toml"
MAX_MANIFEST_BYTES = 64 * 1024

RELEASED_API_VERSIONS: tuple[str, ...] = (API_VERSION,)
"""SDK API versions a Flowyard release has implemented; ``sdk_api`` must include at least one."""

HOST_PROVIDED: dict[str, str] = {
    "numpy": ">=1.26,<3",
    "pillow": ">=10.4,<14",
    "pydantic": ">=2.8,<3",
    "pydantic-core": ">=2.20,<3",
    "packaging": ">=24",
    "typing-extensions": ">=4.12",
    "torch": ">=2.3,<3",
    "torchvision": ">=0.18,<1",
    "torchaudio": ">=2.3,<3",
    "safetensors": ">=0.4,<1",
    "modelscope": ">=1.18,<2",
}
"""Packages the host runtime provides, with the versions it guarantees.

A pack never installs these: its environment always uses the host's copy, so no pack can replace torch.
A pack may pin one (to record what it was tested with) only to a version inside the host's range.
"""

FORBIDDEN_DEPENDENCIES = frozenset({"pip", "uv", "setuptools", "virtualenv", "pipx", "ensurepip", "flowyard"})
"""Distributions a pack may not depend on: installers (no runtime installs) and Flowyard itself."""

RESERVED_MODULES = frozenset({"nodepacks", "workers", "backend", "flowyard", "PIL", "numpy", "torch"})

_PUBLISHER = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}$")
_LICENSE_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9 /_-]{0,39}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ManifestError(ValueError):
    """A manifest that cannot be used; ``errors`` holds every (field path, reason) pair."""

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {error}" for error in errors)
        super().__init__(f"{source}: {len(errors)} problem(s)\n{lines}")


@dataclass(frozen=True)
class FieldError:
    """One problem in a manifest: the field's path (``dependencies[2]``) and the reason."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def default_entry(name: str) -> str:
    """The module a pack's nodes live in when ``entry`` is not given: the name with '-' as '_'."""
    return name.replace("-", "_")


def _check_name(value: str) -> str:
    if not _PACK_NAME.match(value):
        raise ValueError(f"{value!r}: use 2-64 lowercase letters, digits, '-' or '_', starting with a letter")
    return value


def _check_version(value: str) -> str:
    if not is_semver(value):
        raise ValueError(f"{value!r} is not a semantic version (e.g. 1.2.0)")
    return value


def _check_publisher(value: str) -> str:
    if not _PUBLISHER.match(value):
        raise ValueError(f"{value!r}: use 2-39 lowercase letters, digits or '-'")
    return value


def _check_license(value: str) -> str:
    """Accept an SPDX-style expression: identifiers joined by AND/OR/WITH, with parentheses."""
    tokens = value.replace("(", " ( ").replace(")", " ) ").split()
    depth, expect_id = 0, True
    for token in tokens:
        if token == "(" and expect_id:
            depth += 1
        elif token == ")" and not expect_id and depth > 0:
            depth -= 1
        elif token in ("AND", "OR", "WITH") and not expect_id:
            expect_id = True
        elif expect_id and _LICENSE_TOKEN.match(token) and token not in ("AND", "OR", "WITH"):
            expect_id = False
        else:
            raise ValueError(f"{value!r} is not an SPDX license expression (e.g. MIT, Apache-2.0 OR MIT)")
    if expect_id or depth:
        raise ValueError(f"{value!r} is not an SPDX license expression (e.g. MIT, Apache-2.0 OR MIT)")
    return value


def _check_sdk_api(value: str) -> str:
    try:
        spec = SpecifierSet(value)
    except InvalidSpecifier:
        raise ValueError(f"{value!r} is not a version range (e.g. >=1.0,<2)") from None
    if not any(s.operator in ("<", "<=", "==", "~=", "===") for s in spec):
        raise ValueError(f"{value!r} needs an upper bound (e.g. <2) so a future SDK major does not load it")
    if not any(Version(v) in spec for v in RELEASED_API_VERSIONS):
        released = ", ".join(RELEASED_API_VERSIONS)
        raise ValueError(f"{value!r} includes no released SDK API (released: {released})")
    return value


def _check_dependency(value: str) -> str:
    """One PEP 508 requirement, pinned with ==, from an index (no URL), allowed by the host policy."""
    try:
        req = Requirement(value)
    except InvalidRequirement as exc:
        raise ValueError(f"{value!r} is not a PEP 508 requirement ({exc})") from None
    name = canonicalize_name(req.name)
    if req.url:
        raise ValueError(f"{req.name!r}: URL and direct references are not allowed; pin a release from PyPI")
    if name in FORBIDDEN_DEPENDENCIES:
        raise ValueError(f"{req.name!r} may not be a dependency: packs never install packages at run time")
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        raise ValueError(f"{req.name!r} must be pinned with == to one exact version (e.g. {req.name}==1.2.3)")
    if name in HOST_PROVIDED:
        host = HOST_PROVIDED[name]
        try:
            pinned = Version(specs[0].version)
        except InvalidVersion:
            raise ValueError(f"{req.name!r}: {specs[0].version!r} is not a version") from None
        if pinned not in SpecifierSet(host):
            raise ValueError(
                f"{req.name!r} is provided by the host ({name} {host}); "
                f"a pack cannot pin it to {pinned}, which would replace the host's copy"
            )
    return str(req)


def _check_relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if not value or "\\" in value or path.is_absolute() or ".." in path.parts or value.startswith("./"):
        raise ValueError(f"{value!r} must be a relative path inside the pack, with '/' separators")
    return value


def _check_entry(value: str) -> str:
    if not value:
        return value  # no entry and no valid name to derive it from: the name's error says why
    parts = value.split(".")
    if not all(_IDENTIFIER.match(part) for part in parts):
        raise ValueError(f"{value!r} is not a module path (e.g. my_pack or my_pack.nodes)")
    top = parts[0]
    if top in sys.stdlib_module_names or top in RESERVED_MODULES:
        raise ValueError(f"{value!r}: the top-level module {top!r} would shadow a standard or host module")
    return value


def _check_model_id(value: str) -> str:
    if not _MODEL_ID.match(value):
        raise ValueError(f"{value!r} is not a ModelScope model id (e.g. damo/cv_unet_image-matting)")
    return value


def _check_revision(value: str) -> str:
    if not _REVISION.match(value):
        raise ValueError(f"{value!r}: pin a tag or commit (e.g. v1.0.2); letters, digits, '.', '_', '-'")
    return value


def _check_category(value: str) -> str:
    if not _CATEGORY.match(value):
        raise ValueError(f"{value!r}: use up to 40 lowercase letters, digits, spaces, '/', '-' or '_'")
    return value


def _check_homepage(value: str) -> str:
    if not re.match(r"^https://[^\s/$.?#][^\s]*$", value) or len(value) > 300:
        raise ValueError(f"{value!r} must be an https:// URL")
    return value


class ModelRef(BaseModel):
    """A ModelScope model the pack uses, pinned to a revision so runs are reproducible."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, AfterValidator(_check_model_id)]
    revision: Annotated[str, AfterValidator(_check_revision)]


class Manifest(BaseModel):
    """``flowyard.toml``: what a pack is, who publishes it, and what it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, AfterValidator(_check_name)]
    version: Annotated[str, AfterValidator(_check_version)]
    display_name: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=500)
    publisher: Annotated[str, AfterValidator(_check_publisher)]
    license: Annotated[str, Field(max_length=200), AfterValidator(_check_license)]
    sdk_api: Annotated[str, AfterValidator(_check_sdk_api)]
    dependencies: list[Annotated[str, AfterValidator(_check_dependency)]] = Field(
        default_factory=list, max_length=50
    )
    models: list[ModelRef] = Field(default_factory=list, max_length=50)
    entry: Annotated[str, AfterValidator(_check_entry)] = ""
    icon: Annotated[str, AfterValidator(_check_relative_path)] | None = None
    readme: Annotated[str, AfterValidator(_check_relative_path)] = "README.md"
    changelog: Annotated[str, AfterValidator(_check_relative_path)] | None = None
    categories: list[Annotated[str, AfterValidator(_check_category)]] = Field(
        default_factory=list, max_length=8
    )
    homepage: Annotated[str, AfterValidator(_check_homepage)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_entry(cls, data: Any) -> Any:
        name = data.get("name") if isinstance(data, dict) else None
        if (
            isinstance(data, dict)
            and not data.get("entry")
            and isinstance(name, str)
            and _PACK_NAME.match(name)
        ):
            return {**data, "entry": default_entry(name)}
        return data

    @model_validator(mode="after")
    def _no_duplicate_dependencies(self) -> Manifest:
        seen: set[str] = set()
        for index, requirement in enumerate(self.requirements):
            name = canonicalize_name(requirement.name)
            if name in seen:
                raise ValueError(f"dependencies[{index}]: {requirement.name!r} is listed twice")
            seen.add(name)
        return self

    @property
    def requirements(self) -> list[Requirement]:
        """The dependencies as parsed requirements."""
        return [Requirement(text) for text in self.dependencies]

    @property
    def installable_requirements(self) -> list[Requirement]:
        """The dependencies a pack environment installs: host-provided packages are never installed."""
        return [r for r in self.requirements if canonicalize_name(r.name) not in HOST_PROVIDED]

    @property
    def entry_files(self) -> tuple[str, str]:
        """The two places the entry module can live: ``pkg/mod/__init__.py`` or ``pkg/mod.py``."""
        base = self.entry.replace(".", "/")
        return f"{base}/__init__.py", f"{base}.py"

    def referenced_files(self) -> dict[str, str]:
        """Files the manifest names, by field: each must exist in the pack."""
        named = {"readme": self.readme, "icon": self.icon, "changelog": self.changelog}
        return {field: path for field, path in named.items() if path}

    def summary(self) -> dict[str, Any]:
        """The manifest as JSON, for reports and the registry."""
        return self.model_dump(mode="json")


def _path_of(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith("function-after"):
            path += f".{part}" if path else str(part)
    return path


def _reason(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling)"
    return message.removeprefix("Value error, ")


def parse_manifest(data: bytes | str | dict[str, Any], source: str = MANIFEST_FILE) -> Manifest:
    """Parse manifest TOML text (or an already-loaded table); raise ``ManifestError`` listing every problem."""
    if isinstance(data, bytes):
        if len(data) > MAX_MANIFEST_BYTES:
            raise ManifestError(source, [FieldError("", f"larger than {MAX_MANIFEST_BYTES} bytes")])
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestError(source, [FieldError("", "not UTF-8 text")]) from None
    if isinstance(data, str):
        try:
            data = tomllib.loads(data)
        except tomllib.TOMLDecodeError as exc:
            raise ManifestError(source, [FieldError("", f"not valid TOML ({exc})")]) from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            reason = _reason(error)
            path = _path_of(tuple(error["loc"]))
            # Model-level checks put the field path in the message: "dependencies[3]: ... listed twice".
            if not path and re.match(r"^[a-z_]+(\[\d+\])?: ", reason):
                path, reason = reason.split(": ", 1)
            errors.append(FieldError(path, reason))
        raise ManifestError(source, errors) from None


def load_manifest(path: Path | str) -> Manifest:
    """Read ``flowyard.toml`` (or the one in directory ``path``); raise ``ManifestError`` on any problem."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            str(path), [FieldError("", "no such file; create one with `flowyard pack create`")]
        ) from None
    return parse_manifest(data, source=str(path))
