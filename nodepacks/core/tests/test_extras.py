from typing import Any

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.core import extras
from nodepacks.sdk.testing import run_node


def grouped(values: dict[str, Any]) -> dict[str, Any]:
    """ComfyUI's grouped inputs (``values.a``) are not Python names: pass them as a typed dict."""
    return values


def test_string_format_uses_connected_values_and_format_specs():
    out = run_node(
        extras.StringFormat,
        f_string="{a}:{b:.2f} {c}",
        **grouped({"values.a": "x", "values.b": 1.5, "values.c": 3}),
    )
    assert out["STRING"] == "x:1.50 3"


def test_string_format_names_a_missing_value():
    with pytest.raises(sdk.NodeError, match=r"\{b\}"):
        run_node(extras.StringFormat, f_string="{a} {b}", **grouped({"values.a": 1}))


def test_json_extract_string_reads_the_first_object_inside_prose():
    text = 'Sure!\n```json\n{"positive_prompt": "a cat", "n": 2, "tags": ["x"]}\n```'
    assert run_node(extras.JsonExtractString, json_string=text, key="positive_prompt")["STRING"] == "a cat"
    assert run_node(extras.JsonExtractString, json_string=text, key="n")["STRING"] == "2"
    assert run_node(extras.JsonExtractString, json_string=text, key="tags")["STRING"] == '["x"]'
    assert run_node(extras.JsonExtractString, json_string="no json {", key="n")["STRING"] == ""


def test_number_convert_parses_text_and_truncates_the_int():
    out = run_node(extras.ComfyNumberConvert, value=" -2.75 ")
    assert (out["FLOAT"], out["INT"]) == (-2.75, -2)
    assert run_node(extras.ComfyNumberConvert, value=True)["INT"] == 1
    with pytest.raises(sdk.NodeError):
        run_node(extras.ComfyNumberConvert, value="abc")


def test_color_to_rgb_int():
    assert run_node(extras.ColorToRGBInt, color="#0a9299")["rgb_int"] == 0x0A9299


def test_create_list_and_get_item_round_trip():
    items = run_node(extras.CreateList, **grouped({"inputs.input0": "a", "inputs.input2": ["b", "c"]}))[
        "list"
    ]
    assert items == ["a", "b", "c"]
    assert run_node(extras.GetItemFromList, list=items, index=-1)["item"] == "c"
    with pytest.raises(sdk.NodeError):
        run_node(extras.GetItemFromList, list=items, index=3)


def test_custom_combo_passes_choice_and_index():
    out = run_node(extras.CustomCombo, choice="16:9", index=2)
    assert (out["STRING"], out["INDEX"]) == ("16:9", 2)


def test_resize_and_pad_fits_inside_and_centres():
    image = np.full((1, 10, 20, 3), 0.5, np.float32)
    out = run_node(
        extras.ResizeAndPadImage,
        image=image,
        target_width=16,
        target_height=16,
        padding_color="black",
        interpolation="bilinear",
    )["IMAGE"]
    assert out.shape == (1, 16, 16, 3)
    assert np.allclose(out[0, 8], 0.5) and np.allclose(out[0, 0], 0.0) and np.allclose(out[0, -1], 0.0)
    assert np.allclose(out[0, 4:12], 0.5)


def test_image_batch_scales_the_second_to_the_first():
    out = run_node(
        extras.ImageBatch,
        image1=np.zeros((2, 8, 8, 3), np.float32),
        image2=np.ones((1, 16, 16, 3), np.float32),
    )["IMAGE"]
    assert out.shape == (3, 8, 8, 3) and np.allclose(out[2], 1.0)


def test_repeat_and_rebatch():
    image = np.random.rand(2, 4, 4, 3).astype(np.float32)
    out = run_node(extras.RepeatImageBatch, image=image, amount=3)["IMAGE"]
    assert out.shape[0] == 6 and np.array_equal(out[4], image[0])
    assert run_node(extras.RebatchImages, images=image, batch_size=4096)["IMAGE"] is image
    with pytest.raises(sdk.NodeError, match="batch_size"):
        run_node(extras.RebatchImages, images=image, batch_size=1)


def test_image_crop_v2_takes_a_region_object_or_json_text():
    image = np.random.rand(1, 20, 30, 3).astype(np.float32)
    out = run_node(extras.ImageCropV2, image=image, crop_region={"x": 5, "y": 2, "width": 10, "height": 50})[
        "IMAGE"
    ]
    assert out.shape == (1, 18, 10, 3) and np.array_equal(out[0, 0, 0], image[0, 2, 5])
    text = '{"x": 0, "y": 0, "width": 4, "height": 3}'
    assert run_node(extras.ImageCropV2, image=image, crop_region=text)["IMAGE"].shape == (1, 3, 4, 3)


def test_resize_by_longer_edge_keeps_aspect():
    out = run_node(
        extras.ResizeImagesByLongerEdge, images=np.zeros((1, 10, 20, 3), np.float32), longer_edge=40
    )
    assert out["images"].shape == (1, 20, 40, 3)


def test_batch_masks_resizes_to_the_first():
    out = run_node(
        extras.BatchMasksNode,
        **grouped(
            {"masks.mask0": np.zeros((1, 8, 8), np.float32), "masks.mask1": np.ones((2, 4, 4), np.float32)}
        ),
    )["MASK"]
    assert out.shape == (3, 8, 8) and np.allclose(out[1:], 1.0)


def test_split_image_with_alpha_and_remove_alpha():
    rgba = np.random.rand(1, 4, 4, 4).astype(np.float32)
    out = run_node(extras.SplitImageWithAlpha, image=rgba)
    assert np.allclose(out["MASK"], 1.0 - rgba[..., 3]) and out["IMAGE"].shape[-1] == 3
    assert np.allclose(run_node(extras.SplitImageWithAlpha, image=rgba[..., :3])["MASK"], 0.0)
    assert run_node(extras.ImageRemoveAlpha, image=rgba)["IMAGE"].shape == (1, 4, 4, 3)


def _video(frames: int = 10, fps: float = 5.0) -> sdk.Video:
    images = np.stack([np.full((4, 4, 3), i / 10, np.float32) for i in range(frames)])
    audio = sdk.Audio(samples=np.arange(2 * 1000, dtype=np.float32).reshape(2, 1000), sample_rate=500)
    return sdk.Video(frames=images, fps=fps, audio=audio)


def test_video_slice_cuts_frames_and_audio():
    assert extras.VideoSlice.schema().id == "Video Slice"
    out = run_node(extras.VideoSlice, video=_video(), start_time=0.4, duration=1.0)["VIDEO"]
    assert out.frames.shape[0] == 5 and np.allclose(out.frames[0], 0.2)
    assert out.audio.samples.shape == (2, 500) and out.audio.samples[0, 0] == 200
    tail = run_node(extras.VideoSlice, video=_video(), start_time=-0.4)["VIDEO"]
    assert tail.frames.shape[0] == 2
    with pytest.raises(sdk.NodeError):
        run_node(extras.VideoSlice, video=_video(), start_time=1.0, duration=5.0, strict_duration=True)
