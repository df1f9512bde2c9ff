"""Validate a pack archive (an upload) or a pack source folder, without extracting anything.

The registry runs ``validate_archive_in_subprocess``: a child ``python -m workers.packs.validate`` under
CPU, memory, file-size (0: it cannot write files) and wall-time limits that prints the JSON report.
Archive checks trust no header: names, types and declared sizes are checked first from the central
directory, then every entry is decompressed in chunks while counting bytes against the limits, and its
hash compared with the embedded hash list.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import stat
import struct
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nodepacks.sdk.manifest import MANIFEST_FILE, Manifest, ManifestError, load_manifest, parse_manifest
from workers.packs.build import check_sources
from workers.packs.files import HASHES_FILE, HASHES_FORMAT, PackFilesError, collect_files, sha256_file
from workers.packs.importcheck import PROJECT_ROOT, check_import
from workers.packs.limits import Limits
from workers.packs.refusals import MAGIC_BYTES, refusal_problems
from workers.packs.report import FileRecord, Problem, ValidationReport
from workers.packs.sandbox import clean_env, run_limited
from workers.packs.scan import scan_files

_ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_CHUNK = 1 << 16
_KEEP_SUFFIXES = (
    ".py",
    ".pyw",
    ".pyi",
    ".toml",
    ".json",
    ".txt",
    ".md",
    ".pth",
    ".sh",
    ".bat",
    ".ps1",
    ".cmd",
)


class _HashEntry(BaseModel):
    path: str
    sha256: str
    size: int


class _HashList(BaseModel):
    format: int
    algorithm: str
    files: list[_HashEntry]


def _name_problem(name: str, limits: Limits) -> Problem | None:
    """Why an entry name is unsafe (absolute, traversal, control characters...), or None."""

    def bad(code: str, reason: str) -> Problem:
        return Problem(code=code, message=f"{name!r}: {reason}", file=name)

    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in name):
        return bad("bad-name", "control or invisible characters in the name")
    if "\\" in name:
        return bad("bad-name", "backslashes are not allowed (use '/')")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return bad("absolute-path", "absolute paths are not allowed")
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return bad("path-traversal", "'..' would escape the pack folder")
    if any(part in ("", ".") for part in parts):
        return bad("bad-name", "empty or '.' path components")
    if len(name) > limits.max_path_length:
        return bad("bad-name", f"longer than {limits.max_path_length} characters")
    return None


def _entry_type_problem(info: zipfile.ZipInfo) -> Problem | None:
    """Zip entries must be regular files (or empty directories): no symlinks, devices or set-id bits."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    name = info.filename
    if kind == stat.S_IFLNK:
        return Problem(code="symlink", message=f"{name!r}: symlinks are not allowed", file=name)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return Problem(
            code="special-file",
            message=f"{name!r}: device, fifo or socket entries are not allowed",
            file=name,
        )
    if mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
        return Problem(
            code="special-file", message=f"{name!r}: set-uid/set-gid/sticky bits are not allowed", file=name
        )
    if info.flag_bits & 0x1:
        return Problem(code="encrypted", message=f"{name!r}: encrypted entries are not allowed", file=name)
    if info.compress_type not in _ALLOWED_METHODS:
        return Problem(
            code="compression-method",
            message=f"{name!r}: compression method {info.compress_type} (only stored or deflated)",
            file=name,
        )
    return None


def _layout_problems(path: Path, infos: list[zipfile.ZipInfo], start_dir: int) -> list[Problem]:
    """Entries must not overlap (the 'better zip bomb' reuses one compressed stream for many files)."""
    problems: list[Problem] = []
    with path.open("rb") as handle:
        spans = []
        for info in infos:
            handle.seek(info.header_offset)
            header = handle.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                problems.append(
                    Problem(
                        code="corrupt", message=f"{info.filename!r}: bad local header", file=info.filename
                    )
                )
                continue
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            end = info.header_offset + 30 + name_len + extra_len + info.compress_size
            spans.append((info.header_offset, end, info.filename))
    spans.sort()
    for (_, end, name), (start, _, following) in zip(spans, spans[1:], strict=False):
        if start < end:
            problems.append(
                Problem(
                    code="overlapping-entries",
                    message=f"{following!r} overlaps the data of {name!r}",
                    file=following,
                )
            )
    if spans and spans[-1][1] > start_dir:
        problems.append(
            Problem(code="overlapping-entries", message="entry data runs into the central directory")
        )
    return problems


def _structure(
    path: Path, archive: zipfile.ZipFile, limits: Limits
) -> tuple[list[Problem], list[zipfile.ZipInfo]]:
    """Check every entry from the central directory, before reading any content."""
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        return [
            Problem(
                code="too-many-files",
                message=f"{len(infos)} entries, more than the limit of {limits.max_files}",
            )
        ], []
    problems: list[Problem] = []
    files: list[zipfile.ZipInfo] = []
    seen: dict[str, str] = {}
    declared_total = 0
    for info in infos:
        raw_name = info.orig_filename
        if not info.flag_bits & 0x800 and not raw_name.isascii():
            problems.append(
                Problem(code="bad-name", message=f"{raw_name!r}: name is not UTF-8", file=raw_name)
            )
            continue
        problem = _name_problem(raw_name, limits) or _entry_type_problem(info)
        if problem:
            problems.append(problem)
            continue
        key = unicodedata.normalize("NFC", raw_name.rstrip("/")).casefold()
        if key in seen:
            problems.append(
                Problem(
                    code="duplicate-entry", message=f"{raw_name!r} duplicates {seen[key]!r}", file=raw_name
                )
            )
            continue
        seen[key] = raw_name
        if info.is_dir():
            if info.file_size:
                problems.append(
                    Problem(code="corrupt", message=f"{raw_name!r}: a directory with data", file=raw_name)
                )
            continue
        name = raw_name
        declared_total += info.file_size
        if info.file_size > limits.max_file_bytes:
            problems.append(
                Problem(
                    code="file-too-large",
                    message=f"{name!r}: {info.file_size} bytes, more than the per-file limit of {limits.max_file_bytes}",
                    file=name,
                )
            )
        elif info.file_size >= limits.ratio_min_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            problems.append(
                Problem(
                    code="compression-ratio",
                    message=f"{name!r}: compresses {ratio:.0f}:1, more than the limit of {limits.max_ratio:g}:1 (zip bomb?)",
                    file=name,
                )
            )
        files.append(info)
    if declared_total > limits.max_total_bytes:
        problems.append(
            Problem(
                code="total-too-large",
                message=f"entries declare {declared_total} bytes in total, more than the limit of {limits.max_total_bytes}",
            )
        )
    problems.extend(_layout_problems(path, infos, archive.start_dir))
    return problems, files


def _read_entries(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: Limits
) -> tuple[list[Problem], list[FileRecord], dict[str, bytes]]:
    """Decompress each entry in chunks, counting real bytes (headers can lie); hash it; keep text files."""
    problems: list[Problem] = []
    records: list[FileRecord] = []
    kept: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = info.filename
        digest = hashlib.sha256()
        size = 0
        keep = name.endswith(_KEEP_SUFFIXES) or name == MANIFEST_FILE
        chunks: list[bytes] = []
        head = b""
        try:
            with archive.open(info) as handle:
                while chunk := handle.read(_CHUNK):
                    size += len(chunk)
                    total += len(chunk)
                    if size > info.file_size:
                        raise _Oversize(
                            f"{name!r}: decompresses to more than the {info.file_size} bytes its header declares"
                        )
                    if size > limits.max_file_bytes or total > limits.max_total_bytes:
                        raise _Oversize(f"{name!r}: decompressed data exceeds the size limits")
                    digest.update(chunk)
                    if keep:
                        chunks.append(chunk)
                    elif len(head) < MAGIC_BYTES:
                        head += chunk[: MAGIC_BYTES - len(head)]
        except _Oversize as exc:
            problems.append(Problem(code="size-mismatch", message=str(exc), file=name))
            return problems, records, kept
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            problems.append(
                Problem(
                    code="corrupt", message=f"{name!r}: data does not match its header ({exc})", file=name
                )
            )
            continue
        if size != info.file_size:
            problems.append(
                Problem(
                    code="size-mismatch",
                    message=f"{name!r}: header declares {info.file_size} bytes, the data has {size}",
                    file=name,
                )
            )
        records.append(FileRecord(path=name, sha256=digest.hexdigest(), size=size))
        kept[name] = b"".join(chunks) if keep else head
    return problems, records, kept


class _Oversize(Exception):
    pass


def _hash_list_problems(records: list[FileRecord], data: bytes | None) -> list[Problem]:
    """Every file must be listed in MANIFEST.sha256.json with its size and hash, and nothing else."""
    if data is None:
        return [
            Problem(
                code="hashes-missing", message=f"{HASHES_FILE} is missing; build with `flowyard pack build`"
            )
        ]
    try:
        listed = _HashList.model_validate_json(data)
    except ValidationError as exc:
        return [
            Problem(
                code="hashes-invalid",
                message=f"{HASHES_FILE} is not a valid hash list ({exc.error_count()} errors)",
                file=HASHES_FILE,
            )
        ]
    if listed.format != HASHES_FORMAT or listed.algorithm != "sha256":
        return [
            Problem(
                code="hashes-invalid",
                message=f"{HASHES_FILE}: unsupported format or algorithm",
                file=HASHES_FILE,
            )
        ]
    problems: list[Problem] = []
    expected = {entry.path: entry for entry in listed.files}
    actual = {record.path: record for record in records if record.path != HASHES_FILE}
    for path in sorted(actual.keys() - expected.keys()):
        problems.append(Problem(code="unlisted-file", message=f"{path!r} is not in {HASHES_FILE}", file=path))
    for path in sorted(expected.keys() - actual.keys()):
        problems.append(
            Problem(code="missing-file", message=f"{path!r} is listed in {HASHES_FILE} but absent", file=path)
        )
    for path in sorted(expected.keys() & actual.keys()):
        if (expected[path].sha256, expected[path].size) != (actual[path].sha256, actual[path].size):
            problems.append(
                Problem(
                    code="hash-mismatch",
                    message=f"{path!r}: content does not match its hash in {HASHES_FILE}",
                    file=path,
                )
            )
    return problems


def _manifest_problems(data: bytes | None) -> tuple[Manifest | None, list[Problem]]:
    if data is None:
        return None, [
            Problem(code="manifest-missing", message=f"{MANIFEST_FILE} is missing at the top of the archive")
        ]
    try:
        return parse_manifest(data), []
    except ManifestError as exc:
        return None, [
            Problem(code="manifest", message=str(error), file=MANIFEST_FILE, field=error.path or None)
            for error in exc.errors
        ]


def _sha256(path: Path) -> str:
    return sha256_file(path)[0]


def validate_archive(
    path: Path | str, limits: Limits | None = None, workdir: Path | None = None
) -> ValidationReport:
    """Validate an uploaded pack archive in this process (the registry calls the subprocess variant).

    Nothing is extracted; the import check imports straight from the zip with ``workdir`` (an empty
    temporary folder by default) as its current directory.
    """
    path = Path(path)
    limits = limits or Limits()
    report = ValidationReport(source=path.name)
    size = path.stat().st_size
    report.size = size
    if size > limits.max_archive_bytes:
        report.errors.append(
            Problem(
                code="archive-too-large",
                message=f"{size} bytes, more than the limit of {limits.max_archive_bytes}",
            )
        )
        return report.finish()
    report.sha256 = _sha256(path)
    if not zipfile.is_zipfile(path):
        kind = (
            "a tar archive: only .flowyard.zip archives are accepted"
            if tarfile.is_tarfile(path)
            else "not a zip archive"
        )
        report.errors.append(
            Problem(code="not-a-zip", message=f"{path.name} is {kind}; build it with `flowyard pack build`")
        )
        return report.finish()
    try:
        with zipfile.ZipFile(path) as archive:
            problems, infos = _structure(path, archive, limits)
            report.errors.extend(problems)
            if problems:
                return report.finish()
            problems, records, kept = _read_entries(archive, infos, limits)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        report.errors.append(Problem(code="corrupt", message=f"cannot read the archive ({exc})"))
        return report.finish()
    report.errors.extend(problems)
    report.files = records
    if problems:
        return report.finish()
    manifest, problems = _manifest_problems(kept.get(MANIFEST_FILE))
    report.errors.extend(problems)
    report.errors.extend(_hash_list_problems(records, kept.get(HASHES_FILE)))
    names = {record.path for record in records}
    if manifest is not None:
        report.manifest = manifest.summary()
        report.errors.extend(_reference_problems(manifest, names))
    report.errors.extend(
        refusal_problems(
            {name: data for name, data in kept.items() if name != HASHES_FILE},
            manifest.name if manifest else None,
        )
    )
    report.findings = scan_files(
        ((name, data) for name, data in sorted(kept.items()) if name != HASHES_FILE), limits.max_py_file_bytes
    )
    if manifest is not None and limits.import_check and not report.errors:
        if workdir is not None:
            problems, report.nodes = check_import(path, manifest, limits, workdir)
        else:
            with tempfile.TemporaryDirectory(prefix="flowyard-import-") as cwd:
                problems, report.nodes = check_import(path, manifest, limits, Path(cwd))
        report.errors.extend(problems)
        report.import_checked = True
    return report.finish()


def _reference_problems(manifest: Manifest, names: set[str]) -> list[Problem]:
    problems = []
    if not any(candidate in names for candidate in manifest.entry_files):
        problems.append(
            Problem(
                code="entry-missing",
                message=f"entry module {manifest.entry!r} not found ({' or '.join(manifest.entry_files)})",
                field="entry",
            )
        )
    for field, ref in manifest.referenced_files().items():
        if ref not in names:
            problems.append(
                Problem(
                    code="referenced-file-missing",
                    message=f"{field}: {ref!r} is not in the pack",
                    field=field,
                    file=ref,
                )
            )
    return problems


def validate_source(source_dir: Path | str, limits: Limits | None = None) -> ValidationReport:
    """Validate a pack's source folder the way an upload is validated: manifest, files, scan, import."""
    root = Path(source_dir).resolve()
    limits = limits or Limits()
    report = ValidationReport(source=str(root))
    try:
        manifest = load_manifest(root)
    except ManifestError as exc:
        report.errors.extend(
            Problem(code="manifest", message=str(error), file=MANIFEST_FILE, field=error.path or None)
            for error in exc.errors
        )
        return report.finish()
    report.manifest = manifest.summary()
    try:
        files = collect_files(root)
    except PackFilesError as exc:
        report.errors.append(Problem(code="special-file", message=str(exc)))
        return report.finish()
    report.errors.extend(
        Problem(code="pack-files", message=problem)
        for problem in check_sources(root, manifest, files, limits)
    )
    report.files = [
        FileRecord(path=path, sha256=digest, size=size)
        for path in files
        for digest, size in [sha256_file(root / path)]
    ]
    contents = {path: _read_for_checks(root / path) for path in files}
    report.errors.extend(refusal_problems(contents, manifest.name))
    report.findings = scan_files(contents.items(), limits.max_py_file_bytes)
    if limits.import_check and not report.errors:
        problems, report.nodes = check_import(root, manifest, limits, root)
        report.errors.extend(problems)
        report.import_checked = True
    return report.finish()


def _read_for_checks(path: Path) -> bytes:
    """What the checks need of a source file: all of a text file, the first bytes of anything else."""
    if path.name.endswith(_KEEP_SUFFIXES):
        return path.read_bytes()
    with path.open("rb") as handle:
        return handle.read(MAGIC_BYTES)


def validate_archive_in_subprocess(
    path: Path | str, limits: Limits | None = None, timeout: float | None = None
) -> ValidationReport:
    """Validate ``path`` in a resource-limited child process; a child killed by a limit is a clear error."""
    path = Path(path).resolve()
    limits = limits or Limits()
    wall = timeout or limits.wall_seconds
    with tempfile.TemporaryDirectory(prefix="flowyard-validate-") as cwd:
        result = run_limited(
            [
                sys.executable,
                "-s",
                "-B",
                "-m",
                "workers.packs.validate",
                str(path),
                "--limits",
                limits.model_dump_json(),
            ],
            cpu_seconds=limits.cpu_seconds,
            memory_bytes=limits.memory_bytes,
            wall_seconds=wall,
            cwd=Path(cwd),
            env=clean_env(PYTHONPATH=str(PROJECT_ROOT)),
        )
    death = result.death(limits.cpu_seconds, limits.memory_bytes, wall)
    if death is None:
        try:
            return ValidationReport.model_validate_json(result.stdout)
        except ValidationError:
            death = f"exited with code {result.returncode} without a report: {result.stderr.decode('utf-8', 'replace')[-800:]}"
    report = ValidationReport(source=path.name)
    report.errors.append(
        Problem(code="validator-killed", message=f"validating {path.name}: the validator {death}")
    )
    return report.finish()


def main(argv: list[str] | None = None) -> int:
    """``python -m workers.packs.validate ARCHIVE [--limits JSON]``: print the JSON report; exit 0 if ok."""
    parser = argparse.ArgumentParser(prog="python -m workers.packs.validate")
    parser.add_argument("archive")
    parser.add_argument("--limits", default="{}", help="Limits as JSON")
    args = parser.parse_args(argv)
    limits = Limits.model_validate_json(args.limits)
    # The parent made the current directory empty and private; no temporary files can be created here.
    report = validate_archive(args.archive, limits, workdir=Path.cwd())
    payload: dict[str, Any] = report.model_dump(mode="json")
    sys.stdout.write(json.dumps(payload))
    sys.stdout.flush()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
