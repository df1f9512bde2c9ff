"""The author's loop: create -> run -> validate -> build (reproducibly) -> the archive validates."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workers.cli import main
from workers.packs.build import build_pack
from workers.packs.files import HASHES_FILE
from workers.packs.validate import validate_archive_in_subprocess


def test_create_validate_build_twice_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["pack", "create", "demo"]) == 0
    assert (tmp_path / "demo" / "flowyard.toml").is_file()

    assert main(["pack", "validate", "demo"]) == 0
    out = capsys.readouterr().out
    assert "nodes (1): demo.Example" in out and out.strip().endswith("valid")

    assert main(["pack", "build", "demo", "--out", "one"]) == 0
    assert main(["pack", "build", "demo", "--out", "two"]) == 0
    first = (tmp_path / "one" / "demo-0.1.0.flowyard.zip").read_bytes()
    assert first == (tmp_path / "two" / "demo-0.1.0.flowyard.zip").read_bytes()

    report = validate_archive_in_subprocess(tmp_path / "one" / "demo-0.1.0.flowyard.zip")
    assert report.ok and not report.flagged, report.errors
    assert [node["type"] for node in report.nodes] == ["demo.Example"]
    assert report.manifest is not None and report.manifest["name"] == "demo"

    capsys.readouterr()
    assert (
        main(["pack", "run", "demo", "--node", "demo.Example", "--set", "text=hi", "--set", "times=3"]) == 0
    )
    assert 'text (STRING): "hi hi hi"' in capsys.readouterr().out

    assert main(["pack", "run", "demo", "--graph", "demo/examples/example.json", "--quiet"]) == 0
    assert "2: hello hello hello" in capsys.readouterr().out


def test_run_reports_a_bad_input_by_name(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", "run", str(demo), "--node", "demo.Example", "--set", "times=11"]) == 2
    assert "input 'times'" in capsys.readouterr().err


def test_the_scaffolded_tests_pass(demo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=demo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_archive_is_sorted_normalised_and_free_of_junk(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (demo / "demo" / "__pycache__").mkdir()
    (demo / "demo" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (demo / ".git").mkdir()
    (demo / ".git" / "config").write_text("[core]")
    (demo / ".env").write_text("AWS_SECRET_ACCESS_KEY=oops")
    (demo / "dist").mkdir()
    archive = build_pack(demo, tmp_path / "out")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert HASHES_FILE in names and "flowyard.toml" in names
        assert not [n for n in names if "__pycache__" in n or n.startswith((".git/", "dist/")) or n == ".env"]
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    stamped = build_pack(demo, tmp_path / "stamped")
    with zipfile.ZipFile(stamped) as zf:
        assert zf.infolist()[0].date_time[:3] == (2023, 11, 14)
    assert stamped.read_bytes() == build_pack(demo, tmp_path / "again").read_bytes()


def test_build_refuses_a_symlink_and_a_missing_entry(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo / "link.py").symlink_to("/etc/passwd")
    assert main(["pack", "build", str(demo), "--out", str(tmp_path / "o")]) == 2
    assert "link.py: symlinks cannot be packed" in capsys.readouterr().err
    (demo / "link.py").unlink()
    (demo / "demo" / "__init__.py").rename(demo / "demo" / "nodes.py")
    assert main(["pack", "build", str(demo), "--out", str(tmp_path / "o")]) == 2
    assert "entry: module 'demo' not found" in capsys.readouterr().err
