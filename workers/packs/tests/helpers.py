"""Build hand-crafted archives: the attack corpus needs entries no honest build would write."""

import stat
import zipfile
from pathlib import Path

from workers.packs.build import build_pack
from workers.packs.files import HASHES_FILE, FileEntry, hash_list_bytes


def built_files(source: Path, out: Path) -> dict[str, bytes]:
    """The files of an honest build of ``source``, by archive path."""
    with zipfile.ZipFile(build_pack(source, out)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rehash(files: dict[str, bytes]) -> dict[str, bytes]:
    """Regenerate the hash list so that only the attack under test is wrong."""
    import hashlib

    entries = [
        FileEntry(p, hashlib.sha256(d).hexdigest(), len(d)) for p, d in files.items() if p != HASHES_FILE
    ]
    return {**files, HASHES_FILE: hash_list_bytes(entries)}


def write_zip(path: Path, files: dict[str, bytes], *, modes: dict[str, int] | None = None) -> Path:
    """Write ``files`` as a zip; ``modes`` sets an entry's unix mode (file type bits included)."""
    modes = modes or {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = modes.get(name, stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return path
