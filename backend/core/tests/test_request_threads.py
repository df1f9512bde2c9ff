"""Django requests through ``SyncChainASGIHandler`` and ``RequestThreads`` (``backend/core/request_threads.py``):
the request signals, the view and the response's close in the request's one thread, a streamed answer closed
only after its last part was sent, and the answer Django would give."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

from backend.core.request_threads import RequestThreads, SyncChainASGIHandler

seen: list[tuple[str, int]] = []  # (what happened, in which thread)


def _plain(request: Any) -> HttpResponse:
    seen.append(("view", threading.get_ident()))
    response = HttpResponse(b"plain answer", content_type="text/plain")
    response["X-Seen"] = "yes"
    return response


def _streamed(request: Any) -> StreamingHttpResponse:
    seen.append(("view", threading.get_ident()))

    return StreamingHttpResponse(_Parts(), content_type="text/plain")


class _Parts:
    """Streamed content that notes when Django closes it (``HttpResponseBase.close`` calls its ``close``)."""

    def __iter__(self):
        for part in (b"one,", b"two,", b"three"):
            seen.append(("part", threading.get_ident()))
            yield part

    def close(self) -> None:
        seen.append(("closed", threading.get_ident()))


def _broken(request: Any) -> HttpResponse:
    raise RuntimeError("the view failed")


urlpatterns = [path("plain/", _plain), path("streamed/", _streamed), path("broken/", _broken)]


def _started(**kwargs: Any) -> None:
    seen.append(("started", threading.get_ident()))


def _finished(**kwargs: Any) -> None:
    seen.append(("finished", threading.get_ident()))


@pytest.fixture
def app(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    seen.clear()
    signals.request_started.connect(_started)
    signals.request_finished.connect(_finished)
    try:
        yield RequestThreads(SyncChainASGIHandler(), size=2, started=1)
    finally:
        signals.request_started.disconnect(_started)
        signals.request_finished.disconnect(_finished)


def serve(app: Any, url: str, *, host: bytes = b"testserver") -> list[dict[str, Any]]:
    """The ASGI messages ``app`` sends for one request; what was sent is also noted in ``seen``."""
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        seen.append((message["type"], threading.get_ident()))
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host)],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    async_to_sync(app)(scope, receive, send)
    return sent


def events(kind: str) -> list[int]:
    return [thread for what, thread in seen if what == kind]


@pytest.mark.django_db
def test_a_plain_answer_with_signals_view_and_close_in_the_one_request_thread(app):
    sent = serve(app, "/plain/")
    assert sent[0]["status"] == 200
    assert (b"X-Seen", b"yes") in sent[0]["headers"]
    assert b"".join(message.get("body", b"") for message in sent[1:]) == b"plain answer"
    assert [what for what, _ in seen if what in ("started", "view", "finished")] == [
        "started",
        "view",
        "finished",
    ]
    (thread,) = set(events("started") + events("view") + events("finished"))
    assert thread != threading.get_ident()  # the request's thread, not the caller's (nor the event loop's)


@pytest.mark.django_db
def test_requests_reuse_the_started_threads(app):
    serve(app, "/plain/")
    serve(app, "/plain/")
    assert len(set(events("view"))) == 1  # one request at a time: the same kept thread


@pytest.mark.django_db
def test_a_streamed_answer_is_closed_after_its_last_part_was_sent(app):
    sent = serve(app, "/streamed/")
    assert sent[0]["status"] == 200
    assert b"".join(message.get("body", b"") for message in sent[1:]) == b"one,two,three"
    order = [what for what, _ in seen]
    assert order.count("finished") == 1 and order.count("closed") == 1
    last_body = max(index for index, what in enumerate(order) if what == "http.response.body")
    assert order.index("closed") > last_body
    assert order.index("finished") > last_body
    assert set(events("closed")) == set(events("view"))  # closed in the request's thread


@pytest.mark.django_db
def test_a_failing_view_answers_500_and_still_finishes_the_request(app):
    sent = serve(app, "/broken/")
    assert sent[0]["status"] == 500
    assert len(events("started")) == 1 and len(events("finished")) == 1


@pytest.mark.django_db
def test_a_request_for_another_host_is_refused_before_the_view(app):
    sent = serve(app, "/plain/", host=b"elsewhere.example")
    assert sent[0]["status"] == 400
    assert events("view") == []
    assert len(events("started")) == 1 and len(events("finished")) == 1
