import numpy as np

from nodepacks.sdk.testing import run_node

from . import Vignette


def test_centre_is_kept_and_corners_darken() -> None:
    white = np.ones((1, 33, 33, 3), np.float32)
    outcome = run_node(Vignette, image=white, strength=1.0, radius=0.5)
    image = outcome["image"]
    assert image[0, 16, 16].tolist() == [1.0, 1.0, 1.0]
    assert image[0, 0, 0].max() < 0.1
    assert np.allclose(outcome["mask"][0], image[0, :, :, 0])


def test_zero_strength_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    image = rng.random((2, 8, 8, 3), dtype=np.float32)
    assert np.allclose(run_node(Vignette, image=image, strength=0.0)["image"], image)
