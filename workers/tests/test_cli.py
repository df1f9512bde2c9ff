"""The flowyard command on the example graphs: real runs, real files, checked pixels and text."""

import io
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
from PIL import Image

from nodepacks import sdk
from workers.cli import main, write_outputs

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


def test_saved_videos_and_animated_webp_are_written_as_files(tmp_path, capsys):
    graph = {
        "nodes": {
            "1": {
                "type": "EmptyImage",
                "inputs": {"width": 32, "height": 32, "batch_size": 4, "color": 0xFF8000},
            },
            "2": {"type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 8.0}},
            "3": {"type": "SaveVideo", "inputs": {"video": ["2", 0], "filename_prefix": "video/clip"}},
            "4": {"type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0], "filename_prefix": "anim"}},
        }
    }
    path = tmp_path / "video.json"
    path.write_text(json.dumps(graph))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    video, webp = out / "video" / "clip_3_000.mp4", out / "anim_4_000.webp"
    assert sorted(report["files"]) == sorted([str(video), str(webp)])
    with av.open(str(video)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (32, 32, 3)
    assert np.abs(frames[0][16, 16].astype(int) - [255, 128, 0]).max() < 12  # orange after yuv420
    with Image.open(webp) as image:
        assert image.format == "WEBP"  # identical frames may merge into one longer frame
        assert image.convert("RGB").getpixel((5, 5)) == (255, 128, 0)  # lossless


def test_files_are_numbered_per_extension_and_stay_inside_the_output_folder(tmp_path):
    ui = sdk.UI(
        images=[np.zeros((1, 4, 4, 3), np.float32)],
        files=[
            sdk.MediaFile(b"one", "wav", "audio"),
            sdk.MediaFile(b"two", "WAV", "audio"),
            sdk.MediaFile(b"three", "../../evil", "file"),
        ],
        saved=True,
        filename_prefix="../../sound",
    )
    out = tmp_path / "out"
    written = write_outputs({"7": ui}, out, io.StringIO())
    assert [p.relative_to(out).as_posix() for p in written] == [
        "sound_7_000.png",
        "sound_7_000.wav",
        "sound_7_001.wav",
        "sound_7_000.evil",
    ]
    assert [p.read_bytes() for p in written[1:]] == [b"one", b"two", b"three"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_txt2img_example_runs_on_a_model_library(tmp_path, capsys):
    from nodepacks.diffusion.testing import make_tiny_checkpoint

    library = tmp_path / "models"
    make_tiny_checkpoint("sd1", library / "checkpoints" / "v1-5-pruned-emaonly-fp16.safetensors")
    args = ["run", str(EXAMPLES / "txt2img.json"), "--models", str(library), "--out", str(tmp_path / "out")]
    args += ["--set", "5.width=64", "--set", "5.height=64", "--set", "3.steps=2", "--quiet"]
    assert main(args) == 0
    image = read_png(tmp_path / "out" / "txt2img_9_000.png")
    assert image.shape == (64, 64, 3) and image.std() > 1.0
    missing = [
        "run",
        str(EXAMPLES / "txt2img.json"),
        "--models",
        str(tmp_path / "empty"),
        "--out",
        str(tmp_path),
    ]
    capsys.readouterr()
    assert main(missing) != 0
    assert (
        "v1-5-pruned-emaonly-fp16.safetensors" in capsys.readouterr().err
    )  # the failed loader names the file


def test_an_unknown_node_type_whose_pack_sits_next_to_the_graph_suggests_pack(capsys):
    assert main(["validate", str(EXAMPLES / "vignette.json")]) == 2
    out = capsys.readouterr().out
    folder = EXAMPLES / "packs" / "vignette"
    assert f"hint: vignette.Vignette may come from the pack in {folder}: add --pack {folder}" in out
    assert main(["validate", str(EXAMPLES / "vignette.json"), "--pack", str(folder)]) == 0


def test_no_pack_hint_when_no_such_folder_exists(tmp_path, capsys):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"nodes": {"1": {"type": "nowhere.Thing", "inputs": {}}}}))
    assert main(["validate", str(graph)]) == 2
    assert "hint:" not in capsys.readouterr().out
