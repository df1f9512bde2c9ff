from pathlib import Path

import pytest

from workers.packs.scaffold import create_pack


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A freshly scaffolded pack named demo."""
    return create_pack("demo", tmp_path / "src")
