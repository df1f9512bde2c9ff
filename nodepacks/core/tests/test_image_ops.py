import threading

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.core.image_ops import (
    GetImageSize,
    ImageBlend,
    ImageBlur,
    ImageCompositeMasked,
    ImageCrop,
    ImageFlip,
    ImageInvert,
    ImagePadForOutpaint,
    ImageRotate,
    ImageScale,
    ImageScaleBy,
    ImageScaleToTotalPixels,
    ImageSharpen,
)
from nodepacks.core.tests.helpers import gradient, solid
from nodepacks.sdk.testing import run_node


def _comfy_blur(image, radius, sigma):
    """ComfyUI's blur written out: its 2-D kernel, reflect padding, a direct convolution."""
    size = 2 * radius + 1
    x, y = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    kernel = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    padded = np.pad(image, ((0, 0), (radius, radius), (radius, radius), (0, 0)), "reflect")
    out = np.zeros_like(image, dtype=np.float64)
    height, width = image.shape[1:3]
    for dy in range(size):
        for dx in range(size):
            out += kernel[dy, dx] * padded[:, dy : dy + height, dx : dx + width]
    return out


def _dot(size=9, at=(4, 4)):
    image = np.zeros((1, size, size, 3), dtype=np.float32)
    image[0, at[0], at[1]] = 1.0
    return image


def test_invert_flips_every_channel():
    image = gradient(3, 4)
    out = run_node(ImageInvert, image=image)["image"]
    np.testing.assert_allclose(out, 1.0 - image)
    assert out.dtype == np.float32


def test_blur_spreads_a_dot_symmetrically_and_keeps_the_mean():
    image = _dot()
    out = run_node(ImageBlur, image=image, blur_radius=2, sigma=1.0)["image"][0, :, :, 0]
    assert out.mean() == pytest.approx(image[0, :, :, 0].mean(), abs=1e-6)
    np.testing.assert_allclose(out, out[::-1, :], atol=1e-7)
    np.testing.assert_allclose(out, out[:, ::-1], atol=1e-7)
    np.testing.assert_allclose(out, out.T, atol=1e-7)
    assert out[4, 4] == out.max() < 1.0
    assert out[4, 6] > 0 and out[4, 7] == 0  # radius 2: nothing beyond two pixels


def test_blur_matches_comfyui_kernel_and_reflect_padding_at_edges():
    image = gradient(6, 7)
    image[0, 0, 0] = 1.0  # a bright corner exercises the padding
    out = run_node(ImageBlur, image=image, blur_radius=3, sigma=0.7)["image"]
    np.testing.assert_allclose(out, _comfy_blur(image, 3, 0.7), atol=1e-5)


def test_sharpen_matches_comfyui_kernel():
    image = gradient(5, 6)
    image[0, 2, 3] = [1.0, 0.0, 1.0]
    out = run_node(ImageSharpen, image=image, sharpen_radius=1, sigma=1.0, alpha=0.3)["image"]
    # ComfyUI: kernel = G·-(10α), centre += 1 - sum, i.e. (1 + 10α)·image - 10α·blur
    expected = np.clip(4.0 * image - 3.0 * _comfy_blur(image, 1, 1.0), 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_sharpen_leaves_flat_areas_alone():
    image = solid(5, 5, (0.3, 0.5, 0.7))
    out = run_node(ImageSharpen, image=image, alpha=2.0)["image"]
    np.testing.assert_allclose(out, image, atol=1e-6)


def test_crop_picks_the_region_at_x_y():
    image = gradient(6, 8)
    out = run_node(ImageCrop, image=image, width=3, height=2, x=4, y=1)["image"]
    np.testing.assert_array_equal(out, image[:, 1:3, 4:7])


def test_crop_clamps_the_corner_inside_and_cuts_at_the_edge():
    image = gradient(6, 8)
    out = run_node(ImageCrop, image=image, width=5, height=5, x=100, y=4)["image"]
    assert out.shape == (1, 2, 1, 3)  # x clamped to 7, y kept at 4: only what is left
    np.testing.assert_array_equal(out, image[:, 4:6, 7:8])


def test_scale_to_explicit_size():
    out = run_node(ImageScale, image=gradient(4, 6), upscale_method="bilinear", width=12, height=2)["image"]
    assert out.shape == (1, 2, 12, 3)
    assert out.min() >= 0 and out.max() <= 1


def test_scale_with_zero_side_keeps_aspect():
    image = gradient(10, 20)
    assert run_node(ImageScale, image=image, width=0, height=5)["image"].shape == (1, 5, 10, 3)
    assert run_node(ImageScale, image=image, width=7, height=0)["image"].shape == (1, 4, 7, 3)  # round(3.5)=4
    assert run_node(ImageScale, image=image, width=0, height=0)["image"] is image


def test_scale_center_crop_keeps_the_middle():
    image = np.zeros((1, 4, 8, 3), dtype=np.float32)
    image[:, :, 2:6] = 1.0  # the middle half is white
    out = run_node(ImageScale, image=image, upscale_method="nearest-exact", width=4, height=4, crop="center")
    np.testing.assert_allclose(out["image"], 1.0)


def test_nearest_upscale_repeats_pixels():
    image = gradient(2, 2)
    out = run_node(ImageScaleBy, image=image, upscale_method="nearest-exact", scale_by=2.0)["image"]
    assert out.shape == (1, 4, 4, 3)
    np.testing.assert_allclose(out[0, :2, :2], np.broadcast_to(image[0, 0, 0], (2, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(out[0, 2:, 2:], np.broadcast_to(image[0, 1, 1], (2, 2, 3)), atol=1e-6)


@pytest.mark.parametrize("method", ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"])
def test_scale_by_rounds_sizes_and_keeps_flat_colour(method):
    image = solid(10, 15, (0.2, 0.4, 0.6), batch=2)
    out = run_node(ImageScaleBy, image=image, upscale_method=method, scale_by=0.5)["image"]
    assert out.shape == (2, 5, 8, 3)  # round(7.5) = 8
    np.testing.assert_allclose(out, 0.2 * np.array([1, 2, 3]) * np.ones_like(out), atol=1e-5)


def test_scale_to_total_pixels_keeps_aspect():
    out = run_node(ImageScaleToTotalPixels, image=gradient(4, 8), megapixels=0.01, resolution_steps=8)[
        "image"
    ]
    assert out.shape == (1, 72, 144, 3)  # scale sqrt(0.01·1024² / 32) ≈ 18.1; round(18.1·8 / 8)·8 = 144


def _composite(dest, src, **kw):
    return run_node(ImageCompositeMasked, destination=dest, source=src, **kw)["image"]


def test_composite_places_source_at_x_y():
    dest = solid(6, 6, (0, 0, 0))
    out = _composite(dest, solid(2, 3, (1, 1, 1)), x=1, y=2)
    assert out[0, 2:4, 1:4].min() == 1.0
    assert out.sum() == 2 * 3 * 3
    assert dest.max() == 0.0  # the input is not modified


def test_composite_clips_at_the_borders():
    out = _composite(solid(4, 4, (0, 0, 0)), gradient(3, 3), x=2, y=3)
    np.testing.assert_array_equal(out[0, 3, 2:], gradient(3, 3)[0, 0, :2])
    assert out[0, :3].max() == 0.0 and out[0, :, :2].max() == 0.0


def test_composite_past_the_edge_changes_nothing():
    dest = gradient(4, 4)
    np.testing.assert_array_equal(_composite(dest, solid(2, 2, (1, 1, 1)), x=4, y=0), dest)


def test_composite_respects_a_mask_resized_to_the_source():
    mask = np.array([[[1.0, 0.0], [0.5, 0.0]]], dtype=np.float32)
    out = _composite(solid(2, 2, (0, 0, 0)), solid(2, 2, (1, 1, 1)), x=0, y=0, mask=mask)
    np.testing.assert_allclose(out[0, :, :, 0], [[1.0, 0.0], [0.5, 0.0]], atol=1e-6)


def test_composite_resize_source_fills_the_destination():
    out = _composite(solid(4, 6, (0, 0, 0)), solid(1, 1, (1, 0, 0)), x=3, y=3, resize_source=True)
    # the resized source is as large as the destination, so from (3, 3) it covers the bottom-right only
    assert out[0, 3:, 3:, 0].min() == 1.0 and out[0, :3].max() == 0.0


def test_composite_cycles_a_single_source_over_the_batch():
    out = _composite(solid(2, 2, (0, 0, 0), batch=3), solid(1, 1, (0, 1, 0)), x=1, y=1)
    assert out.shape == (3, 2, 2, 3)
    assert (out[:, 1, 1, 1] == 1.0).all()


def test_flip_and_rotate_move_pixels_like_comfyui():
    image = gradient(2, 3)
    vertical = run_node(ImageFlip, image=image, flip_method="x-axis: vertically")["image"]
    np.testing.assert_array_equal(vertical, image[:, ::-1])
    horizontal = run_node(ImageFlip, image=image, flip_method="y-axis: horizontally")["image"]
    np.testing.assert_array_equal(horizontal, image[:, :, ::-1])
    turned = run_node(ImageRotate, image=image, rotation="90 degrees")["image"]
    assert turned.shape == (1, 3, 2, 3)
    # clockwise: the old bottom-left corner becomes the top-left
    np.testing.assert_array_equal(turned[0, 0, 0], image[0, 1, 0])
    np.testing.assert_array_equal(turned[0, 0, 1], image[0, 0, 0])
    half = run_node(ImageRotate, image=image, rotation="180 degrees")["image"]
    np.testing.assert_array_equal(half, image[:, ::-1, ::-1])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("normal", 0.8),
        ("multiply", 0.16),
        ("screen", 1 - 0.8 * 0.2),
        ("overlay", 2 * 0.2 * 0.8),
        ("difference", 0.0),  # 0.2 - 0.8 clamps to 0
    ],
)
def test_blend_modes_at_full_factor(mode, expected):
    out = run_node(
        ImageBlend,
        image1=solid(2, 2, (0.2,) * 3),
        image2=solid(2, 2, (0.8,) * 3),
        blend_factor=1.0,
        blend_mode=mode,
    )["image"]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_blend_factor_mixes_and_resizes_image2():
    out = run_node(
        ImageBlend, image1=solid(4, 4, (0, 0, 0)), image2=solid(2, 2, (1, 1, 1)), blend_factor=0.25
    )["image"]
    assert out.shape == (1, 4, 4, 3)
    np.testing.assert_allclose(out, 0.25, atol=1e-6)


def test_blend_rejects_mismatched_batches():
    with pytest.raises(sdk.NodeError, match="batches must match"):
        run_node(ImageBlend, image1=solid(2, 2, (0, 0, 0), batch=2), image2=solid(2, 2, (0, 0, 0), batch=3))


def test_pad_for_outpaint_adds_grey_borders_and_a_feathered_mask():
    outcome = run_node(
        ImagePadForOutpaint, image=solid(10, 10, (1, 1, 1)), left=4, top=0, right=0, bottom=2, feathering=3
    )
    image, mask = outcome["image"], outcome["mask"]
    assert image.shape == (1, 12, 14, 3) and mask.shape == (1, 12, 14)
    assert image[0, 0, 0, 0] == 0.5 and image[0, 0, 4, 0] == 1.0
    assert mask[0, 0, :4].min() == 1.0 and mask[0, 10:].min() == 1.0
    assert mask[0, 0, 4] == pytest.approx(1.0)  # on the padded left edge: ((3 - 0) / 3)²
    assert mask[0, 0, 5] == pytest.approx((2 / 3) ** 2)
    assert mask[0, 0, 7] == 0.0 and mask[0, 0, 13] == 0.0  # past the feather / unpadded right edge


def test_get_image_size():
    outcome = run_node(GetImageSize, image=gradient(3, 5, batch=2))
    assert (outcome["width"], outcome["height"], outcome["batch_size"]) == (5, 3, 2)


def test_blur_reports_progress_per_image_and_stops_when_cancelled():

    calls = []
    ctx = sdk.Context("blur", on_progress=lambda node, value, total, preview: calls.append((value, total)))
    run_node(ImageBlur, ctx=ctx, image=solid(3, 3, (0.5,) * 3, batch=3), blur_radius=1)
    assert calls == [(0.0, 3.0), (1.0, 3.0), (2.0, 3.0)]

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(sdk.Cancelled):
        run_node(ImageBlur, ctx=sdk.Context("blur", cancel_event=cancel), image=solid(3, 3, (0.5,) * 3))


def test_blur_handles_images_smaller_than_the_kernel():
    out = run_node(ImageBlur, image=solid(1, 2, (0.25, 0.5, 0.75)), blur_radius=5)["image"]
    np.testing.assert_allclose(out, solid(1, 2, (0.25, 0.5, 0.75)), atol=1e-6)
