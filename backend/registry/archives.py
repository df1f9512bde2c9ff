"""Bounded reads of an uploaded pack archive, and the README rendered to safe HTML.

The full validation runs in a resource-limited child (``workers.packs.validate``). The web process only reads
the manifest (one entry of at most 64 KiB, its bytes counted as they decompress) so it can refuse a duplicate
or older version, or a publisher the caller may not use, before anything is queued.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import nh3
from markdown_it import MarkdownIt

from nodepacks.sdk.manifest import MANIFEST_FILE, MAX_MANIFEST_BYTES, Manifest, ManifestError, parse_manifest

MAX_README_BYTES = 512 * 1024
_CHUNK = 1 << 16


class ArchiveError(ValueError):
    """The upload cannot be read as a pack archive (the message says why)."""


def _read_entry(path: Path, name: str, max_bytes: int) -> bytes | None:
    """The bytes of entry ``name`` (None when absent); ArchiveError past ``max_bytes`` or when unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(name)
            except KeyError:
                return None
            if info.file_size > max_bytes:
                raise ArchiveError(f"{name} is {info.file_size} bytes, more than {max_bytes}")
            data = bytearray()
            with archive.open(info) as handle:
                while chunk := handle.read(_CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        raise ArchiveError(f"{name} decompresses to more than {max_bytes} bytes")
            return bytes(data)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        if isinstance(exc, ArchiveError):
            raise
        raise ArchiveError(f"not a readable .flowyard.zip archive ({exc})") from None


def read_manifest(path: Path) -> Manifest:
    """The archive's ``flowyard.toml``, parsed; ArchiveError naming every problem otherwise."""
    if not zipfile.is_zipfile(path):
        raise ArchiveError("not a zip archive: build the pack with `flowyard pack build`")
    data = _read_entry(path, MANIFEST_FILE, MAX_MANIFEST_BYTES)
    if data is None:
        raise ArchiveError(f"{MANIFEST_FILE} is missing at the top of the archive")
    try:
        return parse_manifest(data)
    except ManifestError as exc:
        raise ArchiveError(str(exc)) from None


def read_text_file(path: Path, name: str, sha256: str | None, max_bytes: int = MAX_README_BYTES) -> str:
    """A text file of the archive whose hash the validator recorded; empty when absent, too big or altered."""
    try:
        data = _read_entry(path, name, max_bytes)
    except ArchiveError:
        return ""
    if data is None or (sha256 is not None and hashlib.sha256(data).hexdigest() != sha256):
        return ""
    return data.decode("utf-8", "replace")


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_readme(text: str) -> str:
    """Markdown to HTML with raw HTML disabled, then sanitised (no scripts, handlers, styles or js: links)."""
    html = _markdown.render(text)
    return nh3.clean(
        html,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
