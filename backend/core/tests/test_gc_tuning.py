"""Holding the cyclic garbage collector off around large requests and runs (``backend/gc_tuning.py``), and
letting go of what a large request's DRF objects hold (``backend/core/request_threads.py``)."""

from __future__ import annotations

import gc
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from backend.core.request_threads import let_go
from backend.gc_tuning import DEFER_FOR_BODY_BYTES, collections_deferred, large_body


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_overlapping_holders_turn_collections_back_on_when_the_last_one_ends() -> None:
    first = collections_deferred()
    second = collections_deferred()
    first.__enter__()
    assert not gc.isenabled()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_holder_with_a_time_limit_lets_collections_resume_when_it_is_reached() -> None:
    resumed = threading.Event()
    with collections_deferred(at_most=0.05):
        assert not gc.isenabled()
        for _ in range(200):
            if gc.isenabled():
                resumed.set()
                break
            threading.Event().wait(0.01)
    assert resumed.is_set()
    assert gc.isenabled()


def test_nothing_is_held_when_not_asked_or_when_the_collector_was_off_already() -> None:
    with collections_deferred(False):
        assert gc.isenabled()
    gc.disable()
    with collections_deferred():
        pass
    assert not gc.isenabled()  # it was off before: left off


def test_only_a_large_declared_body_counts_as_large() -> None:
    assert large_body(SimpleNamespace(META={"CONTENT_LENGTH": str(DEFER_FOR_BODY_BYTES)}))
    assert not large_body(SimpleNamespace(META={"CONTENT_LENGTH": "100"}))
    assert not large_body(SimpleNamespace(META={"CONTENT_LENGTH": "abc"}))
    assert not large_body(SimpleNamespace(META={}))


def test_a_rendered_response_lets_go_of_its_view_its_request_and_its_data() -> None:
    view = SimpleNamespace(request=None, response=None)
    request = SimpleNamespace(parser_context={"view": view})
    view.request = request
    response: Any = SimpleNamespace(is_rendered=True)
    view.response = response
    response.renderer_context = {"view": view, "request": request, "response": response}
    response.data = {"graph": {"nodes": {}}}
    let_go(response)
    assert view.request is None and view.response is None
    assert request.parser_context is None
    assert response.renderer_context is None and response.data is None
