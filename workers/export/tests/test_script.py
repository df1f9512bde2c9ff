"""Exported scripts rebuild the very graph they came from, and run with `flowyard run` and plain `python`."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workers.cli import main
from workers.engine.graph import parse_graph
from workers.export import GraphBuilder, graph_to_script

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
REPO = EXAMPLES.parent


def example_graph(name: str) -> dict[str, Any]:
    data = json.loads((EXAMPLES / name).read_text())
    return parse_graph(data.get("graph", data)).to_json()


def built_graph(source: str, tmp_path: Path) -> dict[str, Any]:
    script = tmp_path / "exported.py"
    script.write_text(source)
    graph: dict[str, Any] = runpy.run_path(str(script), run_name="not_main")["graph"]
    return graph


@pytest.mark.parametrize(
    "name", ["text-pipeline.json", "image-pipeline.json", "branching.json", "txt2img.json", "vignette.json"]
)
def test_the_script_of_each_example_builds_the_same_graph(name: str, tmp_path: Path) -> None:
    graph = example_graph(name)
    assert built_graph(graph_to_script(graph, name=name), tmp_path) == graph


def test_awkward_inputs_survive_the_round_trip(tmp_path: Path) -> None:
    graph = {
        "nodes": {
            # Read before it is defined, ids that are not Python names, inputs named like keywords or with spaces,
            # a constant that looks like a link, nested JSON, unicode and quotes in strings.
            "later user": {
                "type": "PreviewAny",
                "inputs": {"source": ["2", 1], "from": "x", "odd name": 1.5},
            },
            "2": {
                "type": "TextSplit",
                "inputs": {"string": 'a "quoted"\nline, ünïcode \\ """', "delimiter": ","},
            },
            "class": {
                "type": "PreviewAny",
                "inputs": {"source": {"__value__": ["2", 0]}, "nested": {"a": [1, None, True]}},
            },
        },
        "outputs": ["later user"],
    }
    expected = parse_graph(graph).to_json()
    source = graph_to_script(graph, {"nodes": {"2": {"x": 0, "y": 0, "title": "Split the names"}}})
    assert "# Split the names" in source and "split_the_names[1]" in source
    assert built_graph(source, tmp_path) == expected


def test_a_graph_built_by_hand_is_the_json_the_engine_reads() -> None:
    g = GraphBuilder()
    text = g.node("PrimitiveString", value="hi")
    g.node("PreviewAny", "show", source=text)
    assert g.build() == {
        "nodes": {
            "1": {"type": "PrimitiveString", "inputs": {"value": "hi"}},
            "show": {"type": "PreviewAny", "inputs": {"source": ["1", 0]}},
        }
    }
    with pytest.raises(ValueError, match="used twice"):
        g.node("PreviewAny", "show")


def test_flowyard_run_runs_an_exported_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "text_pipeline.py"
    script.write_text(graph_to_script(example_graph("text-pipeline.json"), filename=script.name))
    assert main(["run", str(script), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "show: 3 pioneers: Ada Lovelace & Alan Turing & Grace Hopper." in capsys.readouterr().out


def test_plain_python_runs_an_exported_script_with_flowyard_run_options(tmp_path: Path) -> None:
    script = tmp_path / "branching.py"
    script.write_text(graph_to_script(example_graph("branching.json"), filename=script.name))
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "out"), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert "show_area: 65536" in done.stdout
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["branching_save_000.png"]


def test_a_script_that_fails_or_builds_nothing_is_reported_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no model here')\n")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["validate", str(broken)]) == 2
    assert main(["validate", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "the script failed: RuntimeError: no model here" in err
    assert "defines no 'graph'" in err
