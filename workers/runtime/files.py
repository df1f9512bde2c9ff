"""File providers for upload references: the local one the CLI uses."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO


class LocalFiles:
    """Resolves references as paths under a few root directories, never outside them."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [root.resolve() for root in roots]
        self._hashes: dict[tuple[Path, int, int], str] = {}

    def resolve(self, ref: str) -> Path:
        """Return the file ``ref`` names; raise FileNotFoundError when it is missing or outside the roots."""
        for root in self.roots:
            candidate = (root / ref).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        raise FileNotFoundError(f"no file {ref!r} under {', '.join(map(str, self.roots))}")

    def open(self, ref: str) -> BinaryIO:
        """Open ``ref`` for reading."""
        return self.resolve(ref).open("rb")

    def sha256(self, ref: str) -> str:
        """Return the sha256 of ``ref``'s content (memoised per path, size and modification time)."""
        path = self.resolve(ref)
        stat = path.stat()
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            self._hashes[key] = digest.hexdigest()
        return self._hashes[key]
