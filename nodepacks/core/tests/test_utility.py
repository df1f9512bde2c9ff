import struct
import zlib
from typing import Any

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.core.tests.helpers import gradient, solid
from nodepacks.core.utility import (
    BatchImagesNode,
    Canny,
    ComfyMathExpression,
    ComfySwitchNode,
    ImageCompare,
    ImageFromBatch,
    ImageScaleToMaxDimension,
    ImageStitch,
    JoinImageWithAlpha,
    MaskPreview,
    ResizeImageMaskNode,
    ResolutionSelector,
    SaveImageAdvanced,
    SaveText,
    evaluate_expression,
)
from nodepacks.sdk.testing import run_node


def grouped(values: dict[str, Any]) -> dict[str, Any]:
    """ComfyUI's grouped inputs (``images.image0``) are not Python names: pass them as a typed dict."""
    return values


def test_switch_picks_by_the_boolean_and_falls_back_to_the_only_input():
    assert run_node(ComfySwitchNode, switch=True, on_false=1, on_true=2)["output"] == 2
    assert run_node(ComfySwitchNode, switch=False, on_false=1, on_true=2)["output"] == 1
    assert run_node(ComfySwitchNode, switch=True, on_false="only")["output"] == "only"
    with pytest.raises(sdk.NodeError, match="on_true"):
        run_node(ComfySwitchNode, switch=True, on_false=1, on_true=None)


def test_batch_images_pads_channels_and_matches_the_first_size():
    first = solid(4, 6, (1, 0, 0))
    rgba = np.concatenate([solid(8, 12, (0, 1, 0), batch=2), np.full((2, 8, 12, 1), 0.5, np.float32)], -1)
    out = run_node(BatchImagesNode, **grouped({"images.image0": first, "images.image2": rgba}))["image"]
    assert out.shape == (3, 4, 6, 4)
    np.testing.assert_allclose(out[0, ..., 3], 1.0)  # RGB gained an opaque alpha
    np.testing.assert_allclose(out[1, ..., :3], [[(0, 1, 0)] * 6] * 4, atol=1e-6)
    with pytest.raises(sdk.NodeError, match="at least one"):
        run_node(BatchImagesNode)


def test_resolution_selector_rounds_to_multiples_of_eight():
    assert run_node(ResolutionSelector, aspect_ratio="1:1 (Square)", megapixels=1.0).outputs.model_dump() == {
        "width": 1024,
        "height": 1024,
    }
    out = run_node(ResolutionSelector, aspect_ratio="16:9 (Widescreen)", megapixels=0.4)
    assert (out["width"], out["height"]) == (864, 488)


def test_save_text_keeps_a_file_and_checks_json():
    outcome = run_node(SaveText, text='{"a": 1}', filename_prefix="notes/x", format="json")
    (file,) = outcome.ui.files
    assert (file.format, file.kind, outcome.ui.saved) == ("json", "file", True)
    assert file.data.decode() == '{\n  "a": 1\n}'
    assert outcome["text"] == '{"a": 1}'
    with pytest.raises(sdk.NodeError, match="not valid JSON"):
        run_node(SaveText, text="{", format="json")


def test_image_compare_and_mask_preview_only_show():
    a, b = solid(2, 2, (1, 1, 1)), solid(2, 2, (0, 0, 0), batch=2)
    ui = run_node(ImageCompare, image_a=a, image_b=b).ui
    assert [len(images) for images in ui.images] == [1, 2]
    assert ui.data == {"compare": {"a_images": 1, "b_images": 2}}
    assert not ui.saved
    preview = run_node(MaskPreview, mask=np.ones((3, 3), np.float32)).ui
    assert preview.images[0].shape == (1, 3, 3)


def _png_header(data: bytes) -> tuple[int, int, int, int]:
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, color


def test_save_image_advanced_writes_real_16_bit_pngs():
    image = gradient(3, 5, batch=2)
    outcome = run_node(SaveImageAdvanced, images=image, **grouped({"format.bit_depth": "16-bit"}))
    assert [f.format for f in outcome.ui.files] == ["png", "png"]
    data = outcome.ui.files[1].data
    assert _png_header(data) == (5, 3, 16, 2)
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    rows = zlib.decompress(idat)
    first_row = np.frombuffer(rows[1 : 1 + 5 * 6], dtype=">u2").reshape(5, 3)
    np.testing.assert_allclose(first_row / 65535.0, image[1, 0], atol=1 / 65535)
    eight = run_node(SaveImageAdvanced, images=image)
    assert eight.ui.images[0] is image and not eight.ui.files


def test_resize_image_mask_modes():
    image, mask = gradient(20, 40), np.ones((1, 20, 40), np.float32)

    def resized(array, resize_type, **options):
        values = {f"resize_type.{k}": v for k, v in options.items()}
        return run_node(ResizeImageMaskNode, input=array, resize_type=resize_type, **values)["resized"]

    assert resized(image, "scale dimensions", width=10, height=0).shape == (1, 5, 10, 3)
    assert resized(image, "scale dimensions", width=10, height=10, crop="center").shape == (1, 10, 10, 3)
    assert resized(mask, "scale by multiplier", multiplier=0.5).shape == (1, 10, 20)
    assert resized(image, "scale longer dimension", longer_size=8).shape == (1, 4, 8, 3)
    assert resized(image, "scale shorter dimension", shorter_size=8).shape == (1, 8, 16, 3)
    assert resized(image, "scale height", height=10).shape == (1, 10, 20, 3)
    total = resized(image, "scale total pixels", megapixels=0.01)
    assert total.shape[1:3] == (72, 145)  # 0.01 MP = 10485 pixels at 1:2
    assert resized(image, "match size", match=np.zeros((1, 6, 6))).shape == (1, 6, 6, 3)
    assert resized(gradient(21, 43), "scale to multiple", multiple=8).shape == (1, 16, 40, 3)
    with pytest.raises(sdk.NodeError, match="resize_type.match"):
        resized(image, "match size")


def test_math_expression_evaluates_safely():
    out = run_node(ComfyMathExpression, expression="max(5, round(a * 24)) % 17", **grouped({"values.a": 1.5}))
    assert (out["FLOAT"], out["INT"], out["BOOL"]) == (2.0, 2, True)
    assert run_node(ComfyMathExpression, expression="a & -8", **grouped({"values.a": 1023}))["INT"] == 1016
    assert evaluate_expression("a // b + -c ** 2 if a > b else 0", {"a": 7, "b": 2, "c": 3}) == -6
    assert evaluate_expression("sqrt(16) + floor(2.7) + ceil(0.2) + abs(-1)", {}) == 8
    assert evaluate_expression("1 < a <= 3 and not b", {"a": 3, "b": False}) is True
    assert evaluate_expression("sum(values)", {"values": [1, 2, 3]}) == 6


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os')", "not allowed"),
        ("a.__class__", "not allowed"),
        ("(lambda: 1)()", "not allowed"),
        ("2 ** 100000", "larger than"),
        ("c + 1", "unknown name 'c'"),
        ("1 / 0", "division by zero"),
        ("1 +", "syntax error"),
        ("'text'", "not allowed"),
    ],
)
def test_math_expression_refuses_what_it_does_not_allow(expression, reason):
    with pytest.raises(sdk.NodeError, match=reason):
        run_node(ComfyMathExpression, expression=expression, **grouped({"values.a": 1, "values.b": 2}))


def test_image_stitch_directions_spacing_and_matching():
    red, blue = solid(4, 4, (1, 0, 0)), solid(2, 3, (0, 0, 1))
    right = run_node(ImageStitch, image1=red, image2=blue)["image"]
    assert right.shape == (1, 4, 10, 3)  # blue scaled to height 4 keeps its 3:2 aspect -> width 6
    up = run_node(
        ImageStitch, image1=red, image2=blue, direction="up", match_image_size=False, spacing_width=1
    )
    image = up["image"]
    assert image.shape == (1, 2 + 2 + 4, 4, 3)  # spacing rounded up to even
    np.testing.assert_allclose(image[0, 2:4], 1.0)  # white spacing
    np.testing.assert_allclose(image[0, 0, 0], (0, 0, 1))
    np.testing.assert_allclose(image[0, 0, 3], 1.0)  # blue padded with white to width 4
    np.testing.assert_allclose(image[0, 4:, :], red[0])
    assert run_node(ImageStitch, image1=red)["image"] is red


def test_image_from_batch_clamps_and_counts_from_the_end():
    batch = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) * np.ones((5, 1, 1, 3), np.float32)
    assert run_node(ImageFromBatch, image=batch, batch_index=-2, length=5)["image"][:, 0, 0, 0].tolist() == [
        3,
        4,
    ]
    assert run_node(ImageFromBatch, image=batch, batch_index=99)["image"][:, 0, 0, 0].tolist() == [4]


def test_canny_finds_the_outline_of_a_square_and_nothing_on_a_flat_image():
    image = np.zeros((1, 24, 24, 3), np.float32)
    image[0, 6:18, 6:18] = 1.0
    edges = run_node(Canny, image=image, low_threshold=0.2, high_threshold=0.5)["image"]
    assert edges.shape == (1, 24, 24, 3)
    plane = edges[0, ..., 0]
    assert set(np.unique(plane)) <= {0.0, 1.0}
    assert plane[12, 3:9].any() and plane[3:9, 12].any()  # left and top sides found
    assert not plane[10:14, 10:14].any() and not plane[0:2, 0:2].any()  # not inside, not far outside
    assert plane[12, 3:9].sum() <= 2  # thin after non-maximum suppression
    assert not run_node(Canny, image=solid(8, 8, (0.5, 0.5, 0.5)))["image"].any()


def test_join_image_with_alpha_inverts_and_resizes_the_mask():
    image = solid(4, 4, (0.2, 0.4, 0.6), batch=2)
    mask = np.zeros((1, 2, 2), np.float32)
    mask[0, 0, 0] = 1.0
    out = run_node(JoinImageWithAlpha, image=image, alpha=mask)["image"]
    assert out.shape == (1, 4, 4, 4)
    assert out[0, 3, 3, 3] == pytest.approx(1.0) and out[0, 0, 0, 3] == pytest.approx(0.0)
    np.testing.assert_allclose(out[0, ..., :3], image[0])


def test_scale_to_max_dimension_keeps_the_aspect():
    out = run_node(ImageScaleToMaxDimension, image=gradient(10, 40), largest_size=20)["image"]
    assert out.shape == (1, 5, 20, 3)
    assert run_node(ImageScaleToMaxDimension, image=gradient(9, 9), largest_size=4)["image"].shape == (
        1,
        4,
        4,
        3,
    )
