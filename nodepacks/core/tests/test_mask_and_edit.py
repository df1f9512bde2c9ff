import numpy as np
import pytest

from nodepacks.core.image_edit import (
    ImageAdjustColor,
    ImageDrawText,
    ImageGrayscale,
    ImagePadColor,
    ImageRotateAngle,
    SolidColorImage,
)
from nodepacks.core.mask import (
    CropMask,
    FeatherMask,
    GrowMask,
    ImageColorToMask,
    ImageToMask,
    InvertMask,
    MaskComposite,
    MaskFillColor,
    MaskToImage,
    SolidMask,
    ThresholdMask,
)
from nodepacks.core.tests.helpers import gradient, solid
from nodepacks.sdk.testing import NodeInputError, run_node


def test_image_to_mask_takes_one_channel_and_has_no_alpha():
    image = gradient(2, 3)
    np.testing.assert_array_equal(run_node(ImageToMask, image=image, channel="green")["mask"], image[..., 1])
    with pytest.raises(NodeInputError, match="not one of the options"):
        run_node(ImageToMask, image=image, channel="alpha")


def test_mask_to_image_and_back():
    mask = np.array([[[0.0, 0.25], [0.5, 1.0]]], dtype=np.float32)
    image = run_node(MaskToImage, mask=mask)["image"]
    assert image.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(image[..., 2], mask)


def test_image_color_to_mask_matches_the_exact_colour():
    image = solid(2, 2, (0, 0, 0))
    image[0, 1, 0] = (1.0, 128 / 255, 0.0)
    mask = run_node(ImageColorToMask, image=image, color=0xFF8000)["mask"]
    np.testing.assert_array_equal(mask, [[[0, 0], [1, 0]]])


def test_solid_invert_threshold():
    mask = run_node(SolidMask, value=0.3, width=3, height=2)["mask"]
    assert mask.shape == (1, 2, 3) and np.allclose(mask, 0.3)
    np.testing.assert_allclose(run_node(InvertMask, mask=mask)["mask"], 0.7)
    ramp = np.array([[[0.2, 0.5, 0.7]]], dtype=np.float32)
    np.testing.assert_array_equal(run_node(ThresholdMask, mask=ramp, value=0.5)["mask"], [[[0, 0, 1]]])


def test_crop_mask():
    mask = np.arange(20, dtype=np.float32).reshape(1, 4, 5)
    np.testing.assert_array_equal(
        run_node(CropMask, mask=mask, x=3, y=1, width=4, height=2)["mask"], mask[:, 1:3, 3:]
    )


@pytest.mark.parametrize(
    ("operation", "expected"),
    # and/or/xor round first, and 0.5 rounds to 0 (half to even, like torch.round)
    [("multiply", 0.3), ("add", 1.0), ("subtract", 0.1), ("and", 0.0), ("or", 1.0), ("xor", 1.0)],
)
def test_mask_composite_only_touches_the_overlap(operation, expected):
    destination = np.full((1, 3, 3), 0.6, dtype=np.float32)
    source = np.full((1, 2, 2), 0.5, dtype=np.float32)
    out = run_node(MaskComposite, destination=destination, source=source, x=2, y=1, operation=operation)[
        "mask"
    ]
    assert out[0, 1, 2] == pytest.approx(expected) and out[0, 2, 2] == pytest.approx(expected)
    assert out[0, 0].tolist() == pytest.approx([0.6] * 3) and out[0, :, :2].max() == pytest.approx(0.6)


def test_feather_mask_fades_edges_like_comfyui():
    out = run_node(FeatherMask, mask=np.ones((1, 4, 4), dtype=np.float32), left=2, bottom=4)["mask"][0]
    np.testing.assert_allclose(out[0], [0.5, 1.0, 1.0, 1.0])  # top row: only the left fade
    np.testing.assert_allclose(out[:, 3], [1.0, 0.75, 0.5, 0.25])  # bottom fade: (k + 1) / 4 from the edge
    assert out[3, 0] == pytest.approx(0.125)  # corner gets both


def test_grow_and_shrink_mask():
    dot = np.zeros((1, 5, 5), dtype=np.float32)
    dot[0, 2, 2] = 1.0
    grown = run_node(GrowMask, mask=dot, expand=1)["mask"][0]
    assert grown.sum() == 5 and grown[1, 2] == 1 and grown[1, 1] == 0  # tapered: a plus sign
    square = run_node(GrowMask, mask=dot, expand=1, tapered_corners=False)["mask"][0]
    assert square.sum() == 9
    shrunk = run_node(GrowMask, mask=square[None], expand=-1, tapered_corners=False)["mask"][0]
    np.testing.assert_array_equal(shrunk, dot[0])


def test_fill_masked_area_paints_where_the_mask_is_one():
    image = solid(2, 2, (0, 0, 0))
    mask = np.array([[[1.0, 0.0], [0.5, 0.0]]], dtype=np.float32)
    out = run_node(MaskFillColor, image=image, mask=mask, color="#ff0000")["image"]
    np.testing.assert_allclose(out[0, :, :, 0], [[1.0, 0.0], [0.5, 0.0]])
    assert out[..., 1:].max() == 0.0
    inverted = run_node(MaskFillColor, image=image, mask=mask, color="#ff0000", invert_mask=True)["image"]
    np.testing.assert_allclose(inverted[0, :, :, 0], [[0.0, 1.0], [0.5, 1.0]])


def test_fill_masked_area_resizes_a_small_mask():
    out = run_node(
        MaskFillColor, image=solid(4, 6, (0, 0, 0)), mask=np.ones((1, 64, 64), np.float32), color="#ffffff"
    )
    np.testing.assert_allclose(out["image"], 1.0)


def test_solid_color_image_from_picker():
    image = run_node(SolidColorImage, width=3, height=2, batch_size=2, color="#ff8000")["image"]
    assert image.shape == (2, 2, 3, 3)
    np.testing.assert_allclose(image[1, 1, 2], [1.0, 128 / 255, 0.0], atol=1e-6)


def test_pad_adds_coloured_borders_and_marks_them():
    outcome = run_node(
        ImagePadColor, image=solid(2, 2, (1, 1, 1)), left=1, top=0, right=2, bottom=1, color="#0000ff"
    )
    image, mask = outcome["image"], outcome["mask"]
    assert image.shape == (1, 3, 5, 3)
    np.testing.assert_array_equal(image[0, 0, 0], [0, 0, 1])
    np.testing.assert_array_equal(image[0, 0:2, 1:3], np.ones((2, 2, 3)))
    assert mask[0].sum() == 15 - 4 and mask[0, 0, 1] == 0


def test_rotate_by_angle():
    image = gradient(4, 6)
    same = run_node(ImageRotateAngle, image=image, angle=0.0, expand=False)["image"]
    np.testing.assert_allclose(same, image, atol=1e-6)
    turned = run_node(ImageRotateAngle, image=image, angle=90.0, expand=True, resample="nearest")["image"]
    assert turned.shape == (1, 6, 4, 3)
    np.testing.assert_allclose(turned, np.rot90(image, k=1, axes=(2, 1)), atol=1e-6)  # clockwise
    tilted = run_node(ImageRotateAngle, image=solid(10, 10, (1, 1, 1)), angle=45.0, fill_color="#00ff00")[
        "image"
    ]
    assert tilted.shape[1] > 10
    np.testing.assert_allclose(tilted[0, 0, 0], [0, 1, 0])  # an uncovered corner takes the fill colour


def test_grayscale_uses_luma_weights():
    out = run_node(ImageGrayscale, image=solid(1, 1, (1.0, 0.0, 0.0)))["image"]
    np.testing.assert_allclose(out[0, 0, 0], [0.299] * 3, atol=1e-6)


def test_adjust_color():
    image = solid(1, 2, (0.2, 0.4, 0.6))
    np.testing.assert_allclose(run_node(ImageAdjustColor, image=image)["image"], image, atol=1e-6)
    brighter = run_node(ImageAdjustColor, image=image, brightness=0.1)["image"]
    np.testing.assert_allclose(brighter[0, 0, 0], [0.3, 0.5, 0.7], atol=1e-6)
    flat = run_node(ImageAdjustColor, image=image, contrast=0.0)["image"]
    np.testing.assert_allclose(flat, 0.5, atol=1e-6)
    grey = run_node(ImageAdjustColor, image=image, saturation=0.0)["image"]
    np.testing.assert_allclose(grey[0, 0, 0], [0.2 * 0.299 + 0.4 * 0.587 + 0.6 * 0.114] * 3, atol=1e-6)


def test_draw_text_paints_only_near_the_position():
    image = solid(40, 80, (0, 0, 0), batch=2)
    out = run_node(ImageDrawText, image=image, text="Hi", x=40, y=10, size=16, color="#ff0000")["image"]
    painted = out[0, :, :, 0] > 0.5
    ys, xs = np.nonzero(painted)
    assert len(xs) > 10
    assert xs.min() >= 40 and ys.min() >= 10 and ys.max() < 10 + 20
    assert out[..., 1:].max() == 0.0  # pure red on black
    np.testing.assert_array_equal(out[0], out[1])
