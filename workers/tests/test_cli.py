"""The flowyard command on the example graphs: real runs, real files, checked pixels and text."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from workers.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_image_pipeline_writes_the_composited_image(tmp_path, capsys):
    code = main(["run", str(EXAMPLES / "image-pipeline.json"), "--out", str(tmp_path), "--quiet"])
    assert code == 0
    saved = read_png(tmp_path / "pipeline_save_000.png")
    assert saved.shape == (256, 320, 3)
    assert saved[0, 0].tolist() == [32, 32, 32]  # the canvas colour 0x202020 outside the pasted region
    pasted = saved[64:192, 96:224]
    assert np.abs(pasted.astype(int) - 32).max() > 50  # the inverted crop really landed there
    preview = read_png(tmp_path / "preview_preview_000.png")
    assert preview.shape == (192, 256, 3)  # the blurred, scaled image the preview node showed


def test_text_pipeline_prints_the_formatted_sentence(tmp_path, capsys):
    assert main(["run", str(EXAMPLES / "text-pipeline.json"), "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    sentence = "3 pioneers: Ada Lovelace & Alan Turing & Grace Hopper."
    assert f"show: {sentence}" in out
    assert f"show_length: {len(sentence)}" in out


def test_branching_graph_joins_both_branches(tmp_path, capsys):
    assert main(["run", str(EXAMPLES / "branching.json"), "--out", str(tmp_path), "--quiet"]) == 0
    assert "show_area: 65536" in capsys.readouterr().out
    image = read_png(tmp_path / "branching_save_000.png")
    assert image.shape == (256, 256, 3)
    # 65% of a blurred blue-ish base plus 35% of its inverted flip: neither input colour survives unchanged
    base = np.array([0x33, 0x99, 0xFF])
    assert np.abs(image[5, 5].astype(int) - base).max() > 40


def test_set_overrides_a_constant_input(tmp_path, capsys):
    args = ["run", str(EXAMPLES / "text-pipeline.json"), "--out", str(tmp_path), "--quiet"]
    assert main([*args, "--set", "names.value=x, y"]) == 0
    assert "show: 2 pioneers: X & Y." in capsys.readouterr().out


def test_validate_prints_every_error_naming_node_and_input(tmp_path, capsys):
    broken = {
        "nodes": {
            "1": {"type": "EmptyImage", "inputs": {"width": 0, "height": 64}},
            "2": {"type": "ImageBlur", "inputs": {"image": ["9", 0], "blur_radius": 3}},
            "3": {"type": "NoSuchNode", "inputs": {}},
            "4": {"type": "SaveImage", "inputs": {"images": ["2", 0]}},
            "5": {"type": "PreviewImage", "inputs": {"images": ["1", 0]}},
        }
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "node 1 (EmptyImage), input 'width'" in out
    assert "node 2 (ImageBlur), input 'image'" in out
    assert "node 3 (NoSuchNode)" in out
    assert main(["run", str(path), "--out", str(tmp_path)]) == 2


def test_a_failing_node_gives_a_non_zero_exit(tmp_path, capsys):
    graph = {
        "nodes": {
            "1": {"type": "JSONParse", "inputs": {"text": "{not json"}},
            "2": {"type": "PreviewAny", "inputs": {"source": ["1", 0]}},
        }
    }
    path = tmp_path / "fails.json"
    path.write_text(json.dumps(graph))
    assert main(["run", str(path), "--out", str(tmp_path)]) == 1
    assert "FAIL 1 JSONParse" in capsys.readouterr().err


def test_local_pack_runs_from_a_directory(tmp_path, capsys):
    pack = str(EXAMPLES / "packs" / "vignette")
    assert (
        main(["run", str(EXAMPLES / "vignette.json"), "--pack", pack, "--out", str(tmp_path), "--quiet"]) == 0
    )
    image = read_png(tmp_path / "vignette_3_000.png")
    assert image[128, 128].tolist() == [255, 192, 192]  # the centre keeps EmptyImage's 0xFFC0C0
    assert image[0, 0].max() < 100  # the corners are darkened


def test_nodes_lists_the_catalog(capsys):
    assert main(["nodes", "--json"]) == 0
    catalog = json.loads(capsys.readouterr().out)
    types = {node["type"] for node in catalog["nodes"]}
    assert {"EmptyImage", "ImageBlur", "SaveImage", "PreviewAny"} <= types


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "flowyard"
    done = subprocess.run([str(script), "nodes"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "ImageBlur" in done.stdout
