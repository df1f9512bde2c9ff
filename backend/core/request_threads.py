"""HTTP requests through Django at the cost of one thread hop each, on long-lived threads.

``SyncChainASGIHandler``: Django's ASGI handler builds its middleware chain for async, so every middleware written
the classic way (``MiddlewareMixin``: sessions, CSRF, auth, messages, security headers, CSP) runs its
``process_request`` and ``process_response`` through ``sync_to_async`` in turn, and a sync-only one (WhiteNoise)
flips the rest back with ``async_to_sync``: ~15 hops between the event loop and a thread per request (a fifth of
a small ``POST /comfy/prompt``'s CPU). This handler builds the chain for sync, as WSGI does, and runs the whole
chain and the view in one ``sync_to_async`` call. Its ``handle`` makes that the request's only hop: Django's
sends ``request_started`` (``Signal.asend``: a hop for its synchronous receivers) and closes the response (which
sends ``request_finished``) in hops of their own, and watches for a disconnect with a second task while the view
runs; here the signal, the chain, the view and, for a response that is not streamed, its close all run in the
one hop (a streamed one is closed after it was sent, as Django does). A disconnect while a synchronous view runs
cannot stop its thread in either handler: Django's only skipped sending the answer, which uvicorn drops for a
closed connection anyway.

``RequestThreads``: Django's ASGI handler runs each request's synchronous code (middleware, views, the ORM) on a thread of its own,
started for the request and joined at its end (asgiref's ``ThreadSensitiveContext``), so every request paid a
thread start, a join, and a new database connection (connections belong to threads). On two busy cores the
start alone held the event loop for ~1 ms per request while the new thread got a CPU. ``RequestThreads`` lends
each request one of a set of started single-thread executors instead (asgiref >= 3.9 takes a caller-owned
executor; the handler's own context then defers to this outer one): the same one-thread-per-request guarantee,
threads and their connections reused. Eight are started with the process, more (up to 32) as requests overlap,
each kept once started; past that a request gets Django's usual fresh thread, so a slow request never makes
another wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import set_script_prefix

from backend.gc_tuning import collections_deferred, large_body

Scope = dict[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


class RequestThreads:
    """ASGI middleware: run each HTTP request's synchronous code on a free one of ``size`` long-lived threads."""

    def __init__(self, inner: App, size: int = 32, started: int = 8) -> None:
        self.inner = inner
        self.size = size
        self.idle: list[ThreadPoolExecutor] = []
        self.made = 0
        # Started now, while the process starts: a thread started later is started on the event loop, which
        # waits for it to run (Thread.start), 10-50 ms on a loaded machine with every request and socket held
        # (py-spy: ~1 s of loop time over one upload benchmark pass). Later ones are kept, so each is started once.
        for _ in range(started):
            executor = self._new()
            executor.submit(int).result()
            self.idle.append(executor)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        executor = self._take()
        if executor is None:
            await self.inner(scope, receive, send)  # Django's own thread for this request
            return
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.inner(scope, receive, send)
        finally:
            self.idle.append(executor)  # the event loop's thread only: no lock needed

    def _take(self) -> ThreadPoolExecutor | None:
        if self.idle:
            return self.idle.pop()
        if self.made < self.size:
            return self._new()
        return None

    def _new(self) -> ThreadPoolExecutor:
        self.made += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"flowyard-request-{self.made}")


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain built for sync and entered once per request; its requests
    take a form that ``StreamedUploads`` parsed while the body streamed in."""

    def __init__(self) -> None:
        from backend.core.streamed_uploads import StreamedFormRequest  # needs the apps loaded

        self.request_class = StreamedFormRequest
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def handle(self, scope: Scope, receive: Any, send: Any) -> None:
        """One request: its body, then one hop for the signal, the middleware chain, the view and (unless
        streamed) the response's close, then the answer (see the module docstring)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                assert error_response is not None  # Django's create_request returns one of the two
                await self.send_response(error_response, send)
                await sync_to_async(error_response.close)()
                return
            response = await self._respond(scope, request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]  # as run_get_response sets
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    async def _respond(self, scope: Scope, request: HttpRequest) -> HttpResponseBase:
        # A large JSON body: no garbage collection walks its objects while the view works, and they are let go
        # before the answer is sent (backend/gc_tuning.py). The body is read whole by then, so a slow client
        # cannot hold collections off.
        large = large_body(request)
        with collections_deferred(large):
            return await sync_to_async(self._respond_sync, thread_sensitive=True)(scope, request, large)

    def _respond_sync(self, scope: Scope, request: HttpRequest, large: bool) -> HttpResponseBase:
        signals.request_started.send(sender=self.__class__, scope=scope)
        response = self.get_response(request)
        if large:
            let_go(response)
        if not response.streaming:
            response.close()  # sends request_finished; the content is already rendered
        return response


def let_go(response: HttpResponseBase) -> None:
    """Drop what a rendered DRF response still refers to: its data, its view and the parsed request.

    Django's ``ASGIHandler.handle`` keeps the request and the response in a frame that a reference cycle holds
    (its disconnect listener's exception and traceback), and DRF's view and request each refer to themselves
    (``head = get``, the parser context): without this, a 20,000-node submit's ~120,000 containers wait for a
    full collection (150-300 ms holding the GIL) instead of being freed by reference counting.
    """
    context = getattr(response, "renderer_context", None)
    if not getattr(response, "is_rendered", True) or not isinstance(context, dict):
        return
    view, request = context.get("view"), context.get("request")
    if request is not None:
        request.parser_context = None
    if view is not None:
        view.request = view.response = None
    response.renderer_context = None  # type: ignore[attr-defined]
    response.data = None  # type: ignore[attr-defined]


def get_asgi_application() -> SyncChainASGIHandler:
    """Django's ``get_asgi_application`` with ``SyncChainASGIHandler``."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
