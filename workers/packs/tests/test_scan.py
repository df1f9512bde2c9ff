"""Static scan rules: each finds its pattern, names the line, and leaves ordinary node code alone."""

from pathlib import Path

import pytest

from workers.packs.scan import is_flagged, scan_file, scan_python

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "packs"


@pytest.mark.parametrize(
    ("code", "rule", "severity"),
    [
        ("exec(source)", "exec-eval", "high"),
        ("import builtins\nbuiltins.eval('1')", "exec-eval", "high"),
        ("__import__(name)", "dynamic-import", "high"),
        ("import importlib\nimportlib.import_module(mod)", "dynamic-import", "high"),
        ("from subprocess import Popen as P\nP(['ls'])", "process-spawn", "high"),
        ("import os\nos.execv('/bin/sh', ['sh'])", "process-spawn", "high"),
        ("import os as o\no.popen('id')", "process-spawn", "high"),
        ("import pty\npty.spawn('/bin/bash')", "process-spawn", "high"),
        ("import socket\nsocket.socket()", "raw-socket", "high"),
        ("import ctypes\nctypes.CDLL('libc.so.6')", "native-code", "high"),
        ("import cffi", "native-code", "high"),
        ("from pip._internal import main", "runtime-install", "high"),
        ("cmd = [sys.executable, '-m', 'pip', 'install', 'x']", "runtime-install", "high"),
        ("import os\nos.getenv('HF_TOKEN')", "env-secret", "high"),
        ("from os import environ\ndump = {**environ}", "env-secret", "high"),
        ("import os\nos.environ.get('LANG')", "env-access", "medium"),
        ("path = '~/.ssh/id_rsa'", "credential-file", "high"),
        ("import codecs\ncodecs.decode(s, 'rot_13')", "obfuscation", "high"),
        ("import marshal\nmarshal.loads(b)", "obfuscation", "high"),
        ("import pickle\npickle.loads(b)", "unsafe-deserialization", "medium"),
        ("import requests\nrequests.post(url, data=x)", "network", "medium"),
        ("from urllib.request import urlopen", "network", "medium"),
        ("blob = '" + "QUJD" * 80 + "'", "encoded-blob", "medium"),
        ("blob = '" + "deadbeef" * 40 + "'", "encoded-blob", "medium"),
        ("getattr(__builtins__, 'ev' + 'al')", "dynamic-lookup", "medium"),
    ],
)
def test_each_rule_finds_its_pattern(code: str, rule: str, severity: str) -> None:
    findings = scan_python("pack/mod.py", code + "\n")
    hits = [f for f in findings if f.rule == rule]
    assert hits, findings
    assert hits[0].severity == severity and hits[0].file == "pack/mod.py" and hits[0].line
    assert hits[0].explanation and hits[0].snippet


def test_ordinary_node_code_has_no_findings() -> None:
    for path in EXAMPLES.rglob("*.py"):
        assert scan_file(str(path), path.read_bytes()) == []
    benign = (
        "import importlib, json, os.path\n"
        "importlib.import_module('json')\n"
        "DOC = '''A long docstring written in plain English prose, with spaces between the words, "
        "that explains what the node does and which inputs it takes.'''\n"
        "def execute(self, inputs, ctx) -> None:\n    return os.path.join('a', 'b')\n"
    )
    assert scan_python("p.py", benign) == []


def test_files_are_judged_by_name_and_magic_bytes() -> None:
    assert [f.rule for f in scan_file("p/mod.pyc", b"\x00")] == ["binary-code"]
    assert [f.rule for f in scan_file("p/evil.pth", b"import os")] == ["startup-hook"]
    assert [f.rule for f in scan_file("p/vendor.whl", b"PK")] == ["nested-archive"]
    assert [f.rule for f in scan_file("install.py", b"x = 1\n")] == ["script-file"]
    assert [f.rule for f in scan_file("p/broken.py", b"def (:\n")] == ["unparseable"]
    assert [f.rule for f in scan_file("p/latin.py", b"x = '\xff'\n")] == ["unparseable"]
    assert is_flagged(scan_file("p/mod.pyc", b"\x00"))
    assert not is_flagged(scan_file("p/net.py", b"import httpx\n"))
