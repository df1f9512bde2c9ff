"""Build a pack's source folder into a reproducible ``<name>-<version>.flowyard.zip``.

Zip rather than tar: the central directory lists every entry up front, so the validator can check
names, sizes and types and then read one entry at a time without extracting anything; zip has no
device or hard-link entries to smuggle in; Python imports straight from a zip (zipimport), which the
import check uses; wheels set the precedent. Reproducible: entries sorted, every timestamp fixed
(1980-01-01, or ``SOURCE_DATE_EPOCH``), permissions normalised to 0644, fixed compression level, so
building the same sources twice with the same Python/zlib gives byte-identical archives.
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

from nodepacks.sdk.manifest import MANIFEST_FILE, Manifest, load_manifest
from workers.packs.files import (
    HASHES_FILE,
    FileEntry,
    PackFilesError,
    collect_files,
    hash_list_bytes,
    sha256_file,
)
from workers.packs.limits import Limits

ARCHIVE_SUFFIX = ".flowyard.zip"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644


class BuildError(ValueError):
    """A pack that cannot be built; the message names the file or field."""


def archive_name(manifest: Manifest) -> str:
    """The archive's file name: ``<name>-<version>.flowyard.zip``."""
    return f"{manifest.name}-{manifest.version}{ARCHIVE_SUFFIX}"


def _timestamp() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return ZIP_EPOCH
    try:
        moment = time.gmtime(max(int(epoch), 315532800))  # zip cannot store dates before 1980
    except ValueError:
        raise BuildError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec & ~1)


def _entry_info(name: str, stamp: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so external_attr is read as a mode everywhere
    info.external_attr = FILE_MODE << 16
    return info


def check_sources(root: Path, manifest: Manifest, files: list[str], limits: Limits) -> list[str]:
    """Return every reason the collected files cannot be published (missing entry, over a limit)."""
    problems: list[str] = []
    present = set(files)
    if not any(path in present for path in manifest.entry_files):
        problems.append(f"entry: module {manifest.entry!r} not found ({' or '.join(manifest.entry_files)})")
    for field, path in manifest.referenced_files().items():
        if path not in present:
            problems.append(f"{field}: {path!r} is not in the pack")
    if len(files) + 1 > limits.max_files:
        problems.append(f"{len(files)} files: more than the limit of {limits.max_files}")
    total = 0
    for path in files:
        size = (root / path).stat().st_size
        total += size
        if size > limits.max_file_bytes:
            problems.append(f"{path}: {size} bytes, more than the per-file limit of {limits.max_file_bytes}")
    if total > limits.max_total_bytes:
        problems.append(f"files total {total} bytes, more than the limit of {limits.max_total_bytes}")
    return problems


def build_pack(source_dir: Path | str, out_dir: Path | str, limits: Limits | None = None) -> Path:
    """Build the pack in ``source_dir`` into ``out_dir``; return the archive's path."""
    root = Path(source_dir).resolve()
    manifest = load_manifest(root)
    limits = limits or Limits()
    try:
        files = collect_files(root)
    except PackFilesError as exc:
        raise BuildError(str(exc)) from None
    if MANIFEST_FILE not in files:
        raise BuildError(f"{MANIFEST_FILE} is missing")
    problems = check_sources(root, manifest, files, limits)
    if problems:
        raise BuildError("cannot build:\n" + "\n".join(f"  {problem}" for problem in problems))
    entries = [FileEntry(path, *sha256_file(root / path)) for path in files]
    stamp = _timestamp()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / archive_name(manifest)
    partial = target.with_name(target.name + ".partial")
    contents = {entry.path: (root / entry.path).read_bytes() for entry in entries}
    contents[HASHES_FILE] = hash_list_bytes(entries)
    with zipfile.ZipFile(partial, "w", compresslevel=9) as archive:
        for name in sorted(contents):
            archive.writestr(_entry_info(name, stamp), contents[name])
    partial.replace(target)
    if target.stat().st_size > limits.max_archive_bytes:
        target.unlink()
        raise BuildError(f"the archive is larger than the upload limit of {limits.max_archive_bytes} bytes")
    return target
