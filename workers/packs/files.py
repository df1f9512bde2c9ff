"""Which files of a pack's source folder belong in its archive, and the embedded hash list."""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HASHES_FILE = "MANIFEST.sha256.json"
HASHES_FORMAT = 1

JUNK_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "dist",
        "build",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".idea",
        ".vscode",
        ".eggs",
    }
)
JUNK_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".swp", "~", ".orig", ".rej")
JUNK_FILES = frozenset({".DS_Store", "Thumbs.db", ".coverage", HASHES_FILE})
# Never packed even though they are not junk: they commonly hold the author's credentials.
SECRET_FILES = frozenset({".env", ".netrc", ".pypirc", "credentials.json", "id_rsa", "id_ed25519"})


class PackFilesError(ValueError):
    """A source folder that cannot be packed as it is (a symlink, a special file)."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a pack: its archive path, sha256 and size."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        """The entry as written in ``MANIFEST.sha256.json``."""
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def is_junk(name: str, is_dir: bool) -> bool:
    """True for build leftovers, caches, VCS folders and secret files that never go into an archive."""
    if is_dir:
        return name in JUNK_DIRS or name.endswith(".egg-info")
    return name in JUNK_FILES or name in SECRET_FILES or name.endswith(JUNK_SUFFIXES)


def collect_files(root: Path) -> list[str]:
    """Return the pack's files as sorted posix paths relative to ``root``; refuse symlinks and special files."""
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for child in sorted(folder.iterdir(), key=lambda p: p.name):
            rel = f"{prefix}{child.name}"
            mode = child.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise PackFilesError(f"{rel}: symlinks cannot be packed; copy the file instead")
            if stat.S_ISDIR(mode):
                if not is_junk(child.name, is_dir=True):
                    walk(child, f"{rel}/")
            elif stat.S_ISREG(mode):
                if not is_junk(child.name, is_dir=False):
                    found.append(rel)
            else:
                raise PackFilesError(f"{rel}: not a regular file (device, fifo or socket)")

    walk(root, "")
    return sorted(found)


def sha256_file(path: Path) -> tuple[str, int]:
    """Return the hex sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def hash_list_bytes(entries: list[FileEntry]) -> bytes:
    """Serialise the hash list deterministically (sorted paths, fixed separators, trailing newline)."""
    body = {
        "format": HASHES_FORMAT,
        "algorithm": "sha256",
        "files": [entry.to_json() for entry in sorted(entries, key=lambda e: e.path)],
    }
    return (json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
