"""The ModelScope nodes on a tiny pixel-transform model the tests write, loaded by the real model manager."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.core.tests.helpers import gradient
from nodepacks.modelscope import convert, nodes
from nodepacks.sdk.testing import run_node
from workers.runtime.models import ModelManager, register_local_model

torch = pytest.importorskip("torch")

from nodepacks.modelscope.architectures import (  # noqa: E402  (after the torch check)
    PixelTransform,
    pixel_transform_net,
    save_pixel_transform,
)

MODEL_ID = "flowyard/pixel-transform-tiny"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a network connection was attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def net() -> Any:
    """The network the tiny model holds: weights chosen so that the output stays inside [0, 1] mostly."""
    torch.manual_seed(7)
    network = pixel_transform_net(hidden=6)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.mul_(0.5)
    return network


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, net: Any) -> ModelManager:
    cache = tmp_path / "modelscope"
    monkeypatch.setenv("MODELSCOPE_CACHE", str(cache))
    save_pixel_transform(tmp_path / "src", net)
    register_local_model(tmp_path / "src", MODEL_ID, cache_dir=cache)
    return ModelManager(cache, memory_budget_bytes=1 << 20)


def expected(net: Any, image: np.ndarray) -> np.ndarray:
    """What the model must compute, straight from torch."""
    with torch.no_grad():
        out = net(torch.from_numpy(image).permute(0, 3, 1, 2)).clamp(0, 1)
    pixels: np.ndarray = out.permute(0, 2, 3, 1).numpy()
    return pixels


def test_color_enhance_computes_what_the_network_computes(manager: ModelManager, net: Any) -> None:
    image = gradient(5, 7, batch=2)

    outcome = run_node(nodes.ColorEnhance, image=image, model_id=MODEL_ID, revision="master", models=manager)

    result = outcome["image"]
    assert result.shape == (2, 5, 7, 3) and result.dtype == np.float32
    np.testing.assert_allclose(result, expected(net, image), atol=1e-6)
    assert len(np.unique(result.reshape(-1, 3), axis=0)) > 10  # the model did per-pixel work
    (warm,) = manager.warm_models()
    assert warm.model_id == MODEL_ID and warm.size_bytes == sum(p.numel() * 4 for p in net.parameters())
    assert isinstance(manager.get(MODEL_ID), PixelTransform)


def test_the_pipeline_node_runs_the_models_modelscope_pipeline(manager: ModelManager, net: Any) -> None:
    pytest.importorskip("datasets")  # modelscope.pipelines imports it
    image = gradient(4, 6, batch=2)

    outcome = run_node(
        nodes.ModelScopePipeline,
        task="image-color-enhancement",
        model_id=MODEL_ID,
        image=image,
        device="cpu",
        models=manager,
    )

    # The pipeline works on 8-bit pixels in and out, so agreement is to within two 8-bit steps.
    np.testing.assert_allclose(outcome["image"], expected(net, image), atol=2 / 255)
    assert outcome["result"] == [{"output_img": {"images": "see the image output"}}] * 2
    assert outcome.ui.data["result"] == outcome["result"]
    assert [m.task for m in manager.warm_models()] == ["image-color-enhancement"]


def test_the_pipeline_node_passes_other_values_as_they_are(manager: ModelManager, net: Any) -> None:
    pytest.importorskip("datasets")
    pixels = (gradient(3, 3)[0] * 255).round().astype(np.uint8)

    outcome = run_node(
        nodes.ModelScopePipeline,
        task="image-color-enhancement",
        model_id=MODEL_ID,
        value=pixels,
        models=manager,
    )

    assert outcome["image"].shape == (1, 3, 3, 3)
    assert outcome["result"] == {"output_img": {"images": "see the image output"}}


def test_a_missing_model_fails_the_node_with_a_message_for_the_user(manager: ModelManager) -> None:
    with pytest.raises(
        sdk.NodeError, match="'flowyard/absent' at revision 'master' is not in the local model cache"
    ):
        run_node(nodes.ColorEnhance, image=gradient(2, 2), model_id="flowyard/absent", models=manager)


def test_the_pipeline_node_needs_a_model_and_an_input(manager: ModelManager) -> None:
    with pytest.raises(sdk.NodeError, match="choose a ModelScope model id"):
        run_node(nodes.ModelScopePipeline, text="hello", models=manager)
    with pytest.raises(sdk.NodeError, match="link an image or a value"):
        run_node(nodes.ModelScopePipeline, model_id=MODEL_ID, models=manager)


class RecordingModels:
    """A ModelProvider that records what nodes ask for and hands out a fixed model."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []

    def get(self, model_id: str, revision: str | None = None, **options: Any) -> Any:
        self.requests.append((model_id, revision, options))
        return self.model

    def file(self, kind: str, name: str) -> Path:
        raise AssertionError("the modelscope nodes use no model library files")

    def sha256(self, kind: str, name: str) -> str:
        raise AssertionError("the modelscope nodes use no model library files")

    def cached(self, key: str, load: Callable[[], Any], *, size_bytes: int | None = None) -> Any:
        return load()


def test_nodes_ask_the_model_provider_for_their_models() -> None:
    def fake_pipeline(value: Any) -> dict[str, Any]:
        return {"scores": np.array([0.25, 0.75], np.float32), "labels": ["cat", "dog"]}

    provider = RecordingModels(fake_pipeline)
    outcome = run_node(
        nodes.ModelScopePipeline,
        task="text-classification",
        model_id="damo/some-text-model",
        revision="v1.0.1",
        text="a sentence",
        models=provider,
    )

    assert provider.requests == [("damo/some-text-model", "v1.0.1", {"task": "text-classification"})]
    assert outcome["result"] == {"scores": [0.25, 0.75], "labels": ["cat", "dog"]}
    assert outcome["image"] is None


def test_every_listed_task_is_a_modelscope_task() -> None:
    from modelscope.utils.constant import Tasks

    known = {value for value in (getattr(Tasks, name) for name in dir(Tasks)) if isinstance(value, str)}
    assert set(nodes.TASKS) <= known


def test_pipeline_images_are_read_as_bgr_and_pil_as_rgb() -> None:
    from PIL import Image

    bgr = np.zeros((1, 2, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's channel order
    assert convert.images_in({"output_img": bgr})[0][0, 0, 0].tolist() == [0.0, 0.0, 1.0]
    red = Image.new("RGB", (2, 1), (255, 0, 0))
    assert convert.to_image(red, bgr=True)[0, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert convert.to_json({"big": np.zeros((100, 100))}) == {
        "big": {"array": {"shape": [100, 100], "dtype": "float64"}}
    }


def test_the_pack_imports_without_torch_or_modelscope() -> None:
    code = (
        "import sys, nodepacks.modelscope as m; "
        "assert m.pack.name == 'modelscope' and m.pack.builtin; "
        "print(sorted(x for x in ('torch', 'modelscope', 'datasets') if x in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_node_runs_inside_an_engine_with_the_model_manager(manager: ModelManager, net: Any) -> None:
    engine_module = pytest.importorskip("workers.engine")
    from nodepacks import core, modelscope
    from workers.engine.tests.helpers import graph

    registry = engine_module.NodeRegistry([core.pack, modelscope.pack])
    engine = engine_module.Engine(registry, models=manager)
    run_graph = graph(
        {
            "image": ("EmptyImage", {"width": 4, "height": 3, "batch_size": 1, "color": 0xFF8000}),
            "enhance": ("modelscope.ColorEnhance", {"image": ["image", 0], "model_id": MODEL_ID}),
        },
        outputs=["enhance"],
    )

    result = engine.run(run_graph)

    assert result.status == "succeeded", result.errors
    orange = np.empty((1, 3, 4, 3), np.float32)
    orange[...] = (1.0, 128 / 255, 0.0)
    np.testing.assert_allclose(result.outputs["enhance"][0], expected(net, orange), atol=1e-6)
    again = engine.run(run_graph)
    assert (again.status, again.cached, again.executed) == (
        "succeeded",
        ["enhance"],
        [],
    )  # served from the cache
