"""A node pack: a named, versioned set of nodes that declares which SDK API range it supports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from nodepacks.sdk.node import Node

API_VERSION = "1.0"
"""The SDK API this release implements; packs declare the range they support, e.g. ``>=1.0,<2``."""

_PACK_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class PackError(ValueError):
    """A pack declaration that cannot be used."""


def is_semver(version: str) -> bool:
    """True when ``version`` is a semantic version (MAJOR.MINOR.PATCH[-pre][+build])."""
    return bool(_SEMVER.match(version))


@dataclass(frozen=True)
class Pack:
    """A node pack as its module declares it (``pack = Pack(...)`` in the entry module)."""

    name: str
    version: str
    nodes: Sequence[type[Node]]
    sdk_api: str = ">=1.0,<2"
    display_name: str = ""
    description: str = ""
    builtin: bool = field(default=False)

    def __post_init__(self) -> None:
        if not _PACK_NAME.match(self.name):
            raise PackError(f"pack name {self.name!r}: use 2-64 lowercase letters, digits, '-' or '_'")
        if not is_semver(self.version):
            raise PackError(
                f"pack {self.name}: version {self.version!r} is not a semantic version (e.g. 1.2.0)"
            )
        try:
            SpecifierSet(self.sdk_api)
        except InvalidSpecifier:
            raise PackError(f"pack {self.name}: sdk_api {self.sdk_api!r} is not a version range") from None
        seen: set[str] = set()
        for node in self.nodes:
            if not (isinstance(node, type) and issubclass(node, Node)) or not node.id:
                raise PackError(f"pack {self.name}: {node!r} is not a node class with an id")
            if node.id in seen:
                raise PackError(f"pack {self.name}: node id {node.id!r} is declared twice")
            seen.add(node.id)

    def supports_api(self, api_version: str = API_VERSION) -> bool:
        """True when this pack declares support for the given SDK API version."""
        return Version(api_version) in SpecifierSet(self.sdk_api)
