import io

import numpy as np
import pytest
from PIL import Image as PILImage

from nodepacks import sdk
from nodepacks.core.image_io import EmptyImage, LoadImage, PreviewImage, SaveImage
from nodepacks.core.tests.helpers import MemoryFiles, gradient
from nodepacks.sdk.testing import run_node


def _png(image: PILImage.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_empty_image_decodes_the_colour_integer():
    image = run_node(EmptyImage, width=4, height=3, batch_size=2, color=0xFF8000)["image"]
    assert image.shape == (2, 3, 4, 3)
    assert image.dtype == np.float32
    np.testing.assert_allclose(image[1, 2, 3], [1.0, 128 / 255, 0.0], atol=1e-6)


def test_empty_image_defaults_to_black_512():
    image = run_node(EmptyImage)["image"]
    assert image.shape == (1, 512, 512, 3)
    assert image.max() == 0.0


def test_load_image_turns_alpha_into_an_inverted_mask():
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[0, 0, 3] = 255  # opaque
    rgba[1, 2, 3] = 51  # 20 % opaque
    files = MemoryFiles({"cat.png": _png(PILImage.fromarray(rgba, "RGBA"))})

    outcome = run_node(LoadImage, files=files, image="cat.png")

    assert outcome["image"].shape == (1, 2, 3, 3)
    np.testing.assert_allclose(outcome["image"][0, :, :, 0], 1.0)
    mask = outcome["mask"]
    assert mask.shape == (1, 2, 3)
    assert mask[0, 0, 0] == pytest.approx(0.0)
    assert mask[0, 1, 2] == pytest.approx(0.8)
    assert mask[0, 0, 1] == pytest.approx(1.0)  # fully transparent


def test_load_image_without_alpha_gives_a_64px_empty_mask():
    files = MemoryFiles({"rgb.png": _png(PILImage.new("RGB", (5, 7), (0, 255, 0)))})
    outcome = run_node(LoadImage, files=files, image="rgb.png")
    np.testing.assert_allclose(outcome["image"][0, 6, 4], [0.0, 1.0, 0.0])
    assert outcome["mask"].shape == (1, 64, 64)
    assert outcome["mask"].max() == 0.0


def test_load_image_applies_exif_orientation():
    image = PILImage.new("RGB", (4, 2), (255, 0, 0))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90° turn
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    outcome = run_node(LoadImage, files=MemoryFiles({"p.jpg": buffer.getvalue()}), image="p.jpg")
    assert outcome["image"].shape == (1, 4, 2, 3)


def test_load_image_names_a_missing_or_broken_file():
    files = MemoryFiles({"junk.png": b"not an image"})
    with pytest.raises(sdk.NodeError, match="'gone.png' is not available"):
        run_node(LoadImage, files=files, image="gone.png")
    with pytest.raises(sdk.NodeError, match="'junk.png' could not be decoded"):
        run_node(LoadImage, files=files, image="junk.png")


def test_load_image_fingerprint_is_the_file_hash():
    files = MemoryFiles({"a.png": b"abc"})
    assert LoadImage.schema().has_fingerprint
    assert LoadImage.fingerprint({"image": "a.png"}, files) == files.sha256("a.png")


def test_save_image_hands_images_to_the_runtime():
    images = gradient(2, 3, batch=2)
    outcome = run_node(SaveImage, images=images, filename_prefix="run/out")
    assert outcome.ui.saved is True
    assert outcome.ui.filename_prefix == "run/out"
    assert outcome.ui.images[0] is images
    assert outcome["images"] is images
    assert SaveImage.schema().output_node
    prefix = SaveImage.schema().input("filename_prefix")
    assert prefix is not None and prefix.default == "ComfyUI"


def test_preview_image_is_not_saved():
    images = gradient(2, 2)
    outcome = run_node(PreviewImage, images=images)
    assert outcome.ui.saved is False
    assert outcome.ui.images[0] is images
    assert PreviewImage.schema().output_node
