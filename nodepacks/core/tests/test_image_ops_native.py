"""Pixel checks of the OpenCV / threaded-Pillow image operations against the code they replaced (issue 14).

The reference is ``reference_imaging``, the earlier numpy/Pillow implementation kept verbatim. Each test states
its tolerance as a max absolute difference on values in [0, 1]; all of them are far below one 8-bit step (1/255):

- resizing with nearest-exact, area, bicubic and lanczos, every shrinking bilinear, invert, and composite without a
  mask: identical (0), since they are the same Pillow computation or pick the same source pixels;
- bilinear enlargement (OpenCV): <= 1e-5, the same weights accumulated in float32 instead of float64;
- area shrink by whole factors (OpenCV): <= 1e-5, the same block means summed in another order;
- blur: <= 1e-5, the float32 separable filter against the float64 one;
- sharpen: <= 1e-5 · (1 + 10·alpha), the blur's difference scaled by the unsharp amount;
- composite through a mask: <= 1e-6, region + w·(source − region) against w·source + (1 − w)·region.
"""

import numpy as np
import pytest

from nodepacks.core import _imaging
from nodepacks.core.image_ops import ImageCompositeMasked, ImageInvert, ImageSharpen
from nodepacks.core.tests import reference_imaging as reference
from nodepacks.sdk.testing import run_node

METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
# (source height, width) -> (target height, width): odd sizes, whole and fractional factors, one side up and
# the other down, single pixels, and the benchmark's 2x
RESIZES = [
    ((1, 1), (3, 5)),
    ((5, 7), (1, 1)),
    ((5, 7), (10, 14)),
    ((5, 7), (15, 21)),
    ((17, 31), (23, 45)),
    ((17, 31), (51, 13)),
    ((48, 64), (16, 32)),
    ((48, 64), (35, 29)),
    ((99, 101), (198, 202)),
    ((64, 48), (64, 97)),
]
EXACT = 0.0
BILINEAR_ENLARGE = 1e-5
AREA_WHOLE_SHRINK = 1e-5
BLUR = 1e-5
COMPOSITE_MASKED = 1e-6


def _random(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _resize_tolerance(method, source, target):
    enlarging = target[0] >= source[0] and target[1] >= source[1]
    if method == "bilinear" and enlarging:
        return BILINEAR_ENLARGE
    if method == "area" and source[0] % target[0] == 0 and source[1] % target[1] == 0:
        return AREA_WHOLE_SHRINK
    return EXACT


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("source", "target"), RESIZES)
def test_resize_matches_the_reference_for_rgb_batches(method, source, target):
    """Tolerance: 0, or 1e-5 where OpenCV computes bilinear enlargement or whole-factor area shrinking."""
    images = _random((2, *source, 3))
    out = _imaging.resize(images, target[1], target[0], method)
    expected = reference.resize(images, target[1], target[0], method)
    assert out.dtype == np.float32 and out.shape == expected.shape == (2, *target, 3)
    np.testing.assert_allclose(out, expected, rtol=0, atol=_resize_tolerance(method, source, target))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("channels", [1, 4, 5])
def test_resize_matches_the_reference_for_alpha_and_wide_channels(method, channels):
    """RGBA, single-channel and 5-channel images (OpenCV takes at most 4 per call). Tolerance as above."""
    images = _random((3, 13, 9, channels), seed=channels)
    for target in [(26, 18), (39, 27), (7, 3), (13, 3)]:
        out = _imaging.resize(images, target[1], target[0], method)
        expected = reference.resize(images, target[1], target[0], method)
        tolerance = _resize_tolerance(method, (13, 9), target)
        np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance, err_msg=f"{method} to {target}")


@pytest.mark.parametrize("method", METHODS)
def test_resize_of_masks_keeps_their_shape_and_matches(method):
    """Masks are (B, H, W): the result has no channel axis. Tolerance as above."""
    masks = _random((2, 11, 6))
    for target in [(22, 12), (33, 17), (4, 5), (11, 3)]:
        out = _imaging.resize(masks, target[1], target[0], method)
        expected = reference.resize(masks, target[1], target[0], method)
        assert out.shape == (2, *target)
        tolerance = _resize_tolerance(method, (11, 6), target)
        np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance, err_msg=f"{method} to {target}")


@pytest.mark.parametrize("method", METHODS)
def test_resize_clamps_out_of_range_values_like_the_reference(method):
    """Values outside [0, 1] come back clamped on every path, as before. Tolerance as above."""
    images = _random((1, 9, 7, 3)) * 3.0 - 1.0
    for target in [(18, 14), (3, 7), (20, 5)]:
        out = _imaging.resize(images, target[1], target[0], method)
        assert out.min() >= 0.0 and out.max() <= 1.0
        expected = reference.resize(images, target[1], target[0], method)
        tolerance = _resize_tolerance(method, (9, 7), target)
        np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance, err_msg=f"{method} to {target}")


def test_center_crop_upscale_matches_the_reference():
    """common_upscale with crop=center: the crop is shared code, the resize is checked. Tolerance as above."""
    images = _random((2, 31, 47, 3))
    for method in METHODS:
        cropped = _imaging.center_crop_to_aspect(images, 64, 64)
        out = _imaging.common_upscale(images, 64, 64, method, "center")
        np.testing.assert_allclose(
            out,
            reference.resize(cropped, 64, 64, method),
            rtol=0,
            atol=_resize_tolerance(method, (31, 31), (64, 64)),
        )


@pytest.mark.parametrize(
    "shape", [(1, 1, 1, 3), (1, 2, 3, 3), (2, 5, 7, 4), (1, 17, 31, 3), (3, 33, 20, 1), (1, 12, 9, 5)]
)
@pytest.mark.parametrize(("radius", "sigma"), [(1, 1.0), (2, 0.1), (5, 1.0), (7, 10.0), (31, 3.3)])
def test_blur_matches_the_float64_reference_including_reflected_edges(shape, radius, sigma):
    """Tolerance 1e-5. Images smaller than the kernel reflect more than once at the edges, as numpy's pad does."""
    images = _random(shape, seed=radius)
    out = _imaging.gaussian_blur(images, radius, sigma)
    assert out.dtype == np.float32 and out.shape == shape
    np.testing.assert_allclose(out, reference.gaussian_blur(images, radius, sigma), rtol=0, atol=BLUR)


def test_blur_of_an_edge_step_mirrors_around_the_edge_pixel():
    """Tolerance 1e-5. A bright border two pixels wide: zero, edge-replicating or edge-including ("symmetric")
    padding would each give a different first column than numpy's "reflect" the reference uses."""
    images = np.zeros((1, 8, 8, 3), dtype=np.float32)
    images[:, :, :2] = 1.0
    out = _imaging.gaussian_blur(images, 3, 1.0)
    np.testing.assert_allclose(out, reference.gaussian_blur(images, 3, 1.0), rtol=0, atol=BLUR)
    kernel = reference.gaussian_kernel_1d(7, 1.0)
    # every row is alike, so column 0 is the horizontal pass: columns [3, 2, 1 | 0, 1, 2, 3] are bright at 1, 0, 1
    assert out[0, 4, 0, 0] == pytest.approx(kernel[2] + kernel[3] + kernel[4], abs=BLUR)


@pytest.mark.parametrize(
    ("radius", "sigma", "alpha"), [(1, 1.0, 1.0), (3, 0.5, 0.3), (7, 2.0, 5.0), (2, 1.0, 0.0)]
)
def test_sharpen_matches_the_reference(radius, sigma, alpha):
    """Tolerance 1e-5 · (1 + 10·alpha): the unsharp mask scales the blur's float32 difference."""
    images = _random((2, 19, 23, 3), seed=radius)
    out = run_node(ImageSharpen, image=images, sharpen_radius=radius, sigma=sigma, alpha=alpha)["image"]
    expected = reference.sharpen(images, radius, sigma, alpha)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=BLUR * (1 + 10 * alpha))


def test_invert_is_identical_and_float32():
    """Tolerance 0."""
    images = _random((2, 7, 5, 4))
    out = run_node(ImageInvert, image=images)["image"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, reference.invert(images))


@pytest.mark.parametrize(
    ("x", "y", "resize_source"), [(0, 0, False), (3, 5, False), (20, 1, False), (40, 40, False), (0, 0, True)]
)
@pytest.mark.parametrize("with_mask", [False, True])
def test_composite_matches_the_reference(x, y, resize_source, with_mask):
    """Batches cycle, the source is clipped at the borders, the mask is resized to the source. Tolerance: 0 without
    a mask, 1e-6 with one, 1e-5 when the source is stretched (bilinear enlargement)."""
    destination = _random((3, 25, 31, 3), seed=1)
    source = _random((1, 11, 17, 3), seed=2)
    mask = _random((2, 5, 9), seed=3) if with_mask else None
    out = run_node(
        ImageCompositeMasked,
        destination=destination,
        source=source,
        x=x,
        y=y,
        resize_source=resize_source,
        mask=mask,
    )["image"]
    expected = reference.composite(destination, source, x, y, mask, resize_source)
    assert out.dtype == np.float32 and out.shape == destination.shape
    tolerance = BILINEAR_ENLARGE if resize_source else COMPOSITE_MASKED if with_mask else EXACT
    np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance)
    assert not np.shares_memory(out, destination)
