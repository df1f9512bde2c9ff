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
        ("import os\nos.system('id')", "import-time-code", "medium"),
        ("for _ in range(3):\n    warm_up()", "import-time-code", "medium"),
        ("MODEL = load_everything()", "import-time-code", "medium"),
        ("import sys\nsys.path.insert(0, here)", "import-path", "medium"),
        ("def f():\n    open('/etc/cron.d/job', 'w')", "write-outside", "medium"),
        ("def f(x):\n    open(f'{x}/../../.bashrc', mode='a')", "write-outside", "medium"),
        (
            "from pathlib import Path\ndef f():\n    Path('/usr/lib/x.py').write_text('')",
            "write-outside",
            "medium",
        ),
        (
            "import pathlib\ndef f():\n    (pathlib.Path('~') / '.profile').open('w')",
            "write-outside",
            "medium",
        ),
        ("def f():\n    while True:\n        step()", "endless-loop", "low"),
        ("def f():\n    while 1:\n        for x in y:\n            break", "endless-loop", "low"),
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
        "import importlib, json, logging, os.path\n"
        "from pathlib import Path\n"
        "from nodepacks import sdk\n"
        "try:\n    import cv2\nexcept ImportError:\n    cv2 = None\n"
        "log = logging.getLogger(__name__)\n"
        "HERE = Path(__file__).parent\n"
        "SIZES = [64, 128]\n"
        "DOC = '''A long docstring written in plain English prose, with spaces between the words, "
        "that explains what the node does and which inputs it takes.'''\n"
        "def execute(self, inputs, ctx) -> None:\n"
        "    importlib.import_module('json')\n"
        "    open('result.txt', 'w').write('x')\n"
        "    open('/etc/hosts').read()\n"
        "    while True:\n        if ctx.done():\n            break\n"
        "    while True:\n        for x in SIZES:\n            return os.path.join('a', 'b')\n"
        "pack = sdk.Pack(name='p', version='1.0.0', nodes=[])\n"
        "if __name__ == '__main__':\n    execute(None, None, None)\n"
    )
    assert scan_python("p.py", benign) == []


def test_files_are_judged_by_name_and_magic_bytes() -> None:
    assert [f.rule for f in scan_file("p/mod.pyc", b"\x00")] == ["binary-code"]
    assert [f.rule for f in scan_file("p/evil.pth", b"import os")] == ["startup-hook"]
    assert [f.rule for f in scan_file("install.py", b"x = 1\n")] == ["script-file"]
    assert [f.rule for f in scan_file("p/broken.py", b"def (:\n")] == ["unparseable"]
    assert [f.rule for f in scan_file("p/latin.py", b"x = '\xff'\n")] == ["unparseable"]
    assert is_flagged(scan_file("p/mod.pyc", b"\x00"))
    assert not is_flagged(scan_file("p/net.py", b"import httpx\n"))
