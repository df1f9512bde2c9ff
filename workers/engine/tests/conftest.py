from collections.abc import Iterator

import pytest

from workers.engine.tests import nodes


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    nodes.reset()
    yield
    nodes.reset()
