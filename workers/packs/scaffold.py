"""``flowyard pack create NAME``: a working pack to start from (manifest, node, tests, example graph)."""

from __future__ import annotations

import json
from pathlib import Path

from nodepacks.sdk import API_VERSION
from nodepacks.sdk.manifest import MANIFEST_FILE, ManifestError, default_entry, parse_manifest

_MANIFEST = """\
# The pack manifest: see docs/node-packs.md for every field.
name = "{name}"
version = "0.1.0"
display_name = "{display}"
description = "Describe what your nodes do in one sentence."
publisher = "your-publisher-id"
license = "MIT"
sdk_api = ">={api},<{next_major}"
# Pinned with ==; host-provided packages (numpy, pillow, torch...) need no entry.
dependencies = []
categories = ["utils"]
readme = "README.md"
changelog = "CHANGELOG.md"

# Models come from ModelScope, pinned to a revision; nodes load them with ctx.models.get(id, revision=...).
# [[models]]
# id = "damo/cv_unet_image-matting"
# revision = "v1.0.0"
"""

_MODULE = '''\
"""{display}: a Flowyard node pack."""

from __future__ import annotations

from nodepacks import sdk


class Example(sdk.Node):
    """Repeat a text a number of times."""

    id = "{name}.Example"
    display_name = "Example"
    category = "{name}"

    class Inputs(sdk.Inputs):
        text: str = sdk.text("hello", tooltip="The text to repeat")
        times: int = sdk.number(2, min=1, max=10, tooltip="How many times")
        separator: str = " "

    class Outputs(sdk.Outputs):
        text: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(text=inputs.separator.join([inputs.text] * inputs.times))


pack = sdk.Pack(
    name="{name}",
    version="0.1.0",
    sdk_api=">={api},<{next_major}",
    display_name="{display}",
    description="Describe what your nodes do in one sentence.",
    nodes=[Example],
)
'''

_TEST = """\
import pytest

from nodepacks.sdk.testing import NodeInputError, run_node
from {module} import Example


def test_example_repeats_the_text():
    assert run_node(Example, text="ab", times=3)["text"] == "ab ab ab"


def test_example_refuses_too_many_repeats():
    with pytest.raises(NodeInputError):
        run_node(Example, text="ab", times=11)
"""

_CONFTEST = '''\
"""Lets pytest import the pack from this folder (its directory goes on sys.path)."""
'''

_README = """\
# {display}

Nodes for Flowyard.

## Nodes

- **{name}.Example**: repeat a text a number of times.

## Develop

```bash
flowyard pack run . --node {name}.Example --set text=hi --set times=3
flowyard pack run . --graph examples/example.json
pytest tests
flowyard pack validate .
flowyard pack build .
```
"""

_CHANGELOG = """\
# Changelog

## 0.1.0

- First version: {name}.Example.
"""


def _example_graph(name: str) -> str:
    graph = {
        "nodes": {
            "1": {"type": f"{name}.Example", "inputs": {"text": "hello", "times": 3}},
            "2": {"type": "PreviewAny", "inputs": {"source": ["1", 0]}},
        }
    }
    return json.dumps(graph, indent=2) + "\n"


class ScaffoldError(ValueError):
    """A pack that cannot be created (bad name, folder exists)."""


def create_pack(name: str, parent: Path) -> Path:
    """Create a working pack named ``name`` in ``parent/name``; return its folder."""
    target = parent / name
    if target.exists():
        raise ScaffoldError(f"{target} already exists")
    module = default_entry(name)
    major = int(API_VERSION.split(".")[0])
    values = {
        "name": name,
        "module": module,
        "display": name.replace("-", " ").replace("_", " ").title(),
        "api": API_VERSION,
        "next_major": major + 1,
    }
    manifest = _MANIFEST.format(**values)
    try:
        parse_manifest(manifest)
    except ManifestError as exc:
        raise ScaffoldError("; ".join(str(error) for error in exc.errors)) from None
    files = {
        MANIFEST_FILE: manifest,
        f"{module}/__init__.py": _MODULE.format(**values),
        "tests/test_nodes.py": _TEST.format(**values),
        "conftest.py": _CONFTEST,
        "README.md": _README.format(**values),
        "CHANGELOG.md": _CHANGELOG.format(**values),
        "examples/example.json": _example_graph(name),
        ".gitignore": "__pycache__/\ndist/\n.venv/\n",
    }
    for path, text in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(text)
    return target
