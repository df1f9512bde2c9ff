"""The validator and the import check are killed by their CPU, memory and wall-time limits, with a clear error."""

from pathlib import Path

from workers.packs.limits import MIB, Limits
from workers.packs.validate import validate_archive_in_subprocess, validate_source

from .helpers import built_files, rehash, write_zip


def _poison(demo: Path, code: str) -> None:
    init = demo / "demo" / "__init__.py"
    init.write_text(init.read_text() + "\n" + code + "\n")


def test_an_import_that_loops_forever_is_killed_by_the_cpu_limit(demo: Path) -> None:
    _poison(demo, "while True:\n    pass")
    report = validate_source(demo, Limits(import_cpu_seconds=1, import_wall_seconds=30))
    assert [e.code for e in report.errors] == ["import-timeout"]
    assert "CPU limit" in report.errors[0].message and report.errors[0].file == "demo/__init__.py"


def test_an_import_that_sleeps_forever_is_killed_by_the_wall_time_limit(demo: Path) -> None:
    _poison(demo, "import time\ntime.sleep(600)")
    report = validate_source(demo, Limits(import_wall_seconds=2))
    assert [e.code for e in report.errors] == ["import-timeout"]
    assert "wall-time limit" in report.errors[0].message


def test_an_import_that_allocates_too_much_hits_the_memory_limit(demo: Path) -> None:
    _poison(demo, "hog = bytearray(8 * 1024 ** 3)")
    report = validate_source(demo, Limits(import_memory_bytes=1024 * MIB))
    assert [e.code for e in report.errors] == ["import-failed"]
    assert "out of memory" in report.errors[0].message


def test_an_import_that_fails_names_the_exception(demo: Path) -> None:
    _poison(demo, "raise RuntimeError('boom')")
    report = validate_source(demo)
    assert report.errors[0].code == "import-failed"
    assert "RuntimeError: boom" in report.errors[0].message


def test_the_subprocess_validator_is_killed_by_its_limits(demo: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "pack.zip", rehash(built_files(demo, tmp_path / "b")))
    slow = validate_archive_in_subprocess(archive, Limits(), timeout=0.05)
    assert [e.code for e in slow.errors] == ["validator-killed"]
    assert "wall-time limit" in slow.errors[0].message
    starved = validate_archive_in_subprocess(archive, Limits(memory_bytes=30 * MIB))
    assert [e.code for e in starved.errors] == ["validator-killed"]
    assert not starved.ok


def test_the_import_check_sees_only_the_sdk(demo: Path) -> None:
    _poison(demo, "import workers.engine")
    report = validate_source(demo)
    assert "No module named 'workers'" in report.errors[0].message


def test_node_ids_must_carry_the_pack_prefix_and_match_the_manifest(demo: Path) -> None:
    # A computed id: the static check (test_attacks) cannot read it, the import check still refuses it.
    init = demo / "demo" / "__init__.py"
    init.write_text(
        init.read_text()
        .replace('id = "demo.Example"', 'id = "Exam" + "ple"')
        .replace('version="0.1.0"', 'version="0.2.0"')
    )
    report = validate_source(demo)
    messages = {e.code: e.message for e in report.errors}
    assert "node Example: node id must start with 'demo.'" in messages["node-prefix"]
    assert "differs from flowyard.toml" in messages["pack-mismatch"]
