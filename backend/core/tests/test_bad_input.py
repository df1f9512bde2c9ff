"""Every write endpoint, native and ``/comfy/``, answers bad input with 4xx JSON naming the problem, never a 500.

The endpoints are collected from the URL resolver, so a new route is covered the day it is added.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from backend.accounts.actions import do_create_token

WRITE_METHODS = ("post", "put", "patch")
DEEP = 10_000

BAD_BODIES = {
    "malformed": b'{"workspace": 1, "graph": {',
    "deep_arrays": b"[" * DEEP + b"]" * DEEP,
    "deep_objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "nan": b'{"workspace": NaN, "number": NaN, "graph": {"nodes": {}}}',
    "infinity": b'{"workspace": Infinity, "priority": -Infinity}',
    "huge_float": b'{"workspace": 1e999, "number": 1e999}',
    "huge_int": b'{"workspace": 1' + b"0" * 400 + b', "number": 1' + b"0" * 400 + b"}",
    "wrong_types": b'{"workspace": "abc", "number": "abc", "name": [], "graph": "abc", "prompt": "abc", '
    b'"priority": "abc", "front": "abc", "overrides": 5, "outputs": 7}',
    "not_an_object": b'"just a string"',
}
# What each case must be refused for: the strict parser names the body; the rest name a field.
PARSER_CASES = {"malformed", "deep_arrays", "deep_objects", "nan", "infinity", "huge_float", "huge_int"}
# Endpoints that never read a body (it is ignored, whatever it holds), and those that read only fields the
# "wrong_types" body does not have (unknown fields are ignored): both may answer 2xx, never 5xx.
IGNORE_BODY = {"/api/auth/logout", "/comfy/free", "/comfy/api/free"}
OTHER_FIELDS = {"/comfy/history", "/comfy/api/history", "/comfy/queue", "/comfy/api/queue", "/comfy/interrupt",
                "/comfy/api/interrupt"}  # fmt: skip


def _routes(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _concrete(route: str) -> str:
    """A path for a route pattern: converters get values that name nothing (a 404 is a fine answer)."""
    route = route.lstrip("^").rstrip("$")
    route = re.sub(r"<int:[^>]+>", "999999", route)
    route = re.sub(r"<uuid:[^>]+>", str(uuid.UUID(int=1)), route)
    route = re.sub(r"<(?:str|slug|path):([^>]+)>", lambda m: "tok" if m.group(1) == "token" else "x", route)
    route = re.sub(r"<[^>]+>", "x", route)
    return "/" + route


def _writes(callback) -> list[str]:
    cls = getattr(callback, "cls", None)
    actions = getattr(callback, "actions", None)
    if actions:
        return [method for method in WRITE_METHODS if method in actions]
    if cls is not None:
        return [method for method in WRITE_METHODS if hasattr(cls, method)]
    return []  # plain Django views outside the ComfyUI layer (health, the app) take no writes


def write_endpoints() -> list[tuple[str, str]]:
    found = []
    for route, callback in _routes(get_resolver().url_patterns):
        path = _concrete(route)
        if not path.startswith(("/api/", "/comfy/")) or path.startswith(("/api/schema", "/api/docs")):
            continue
        if path.startswith("/comfy/t/"):
            continue  # the same views as /comfy/ with the token in the path
        methods = ["post"] if path.startswith("/comfy/") else _writes(callback)  # a 405 answer is JSON too
        found += [(method, path) for method in methods]
    return sorted(set(found))


ENDPOINTS = write_endpoints()


def test_the_resolver_lists_the_write_endpoints():
    paths = {path for _, path in ENDPOINTS}
    assert {"/api/runs", "/api/uploads", "/api/workflows", "/comfy/prompt", "/comfy/upload/image"} <= paths


@pytest.fixture
def token_client(alice) -> Client:
    _, raw = do_create_token(alice, "bad input")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", enforce_csrf_checks=True)


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_bad_json_answers_4xx_json(token_client, method, path, case):
    response = getattr(token_client, method)(path, data=BAD_BODIES[case], content_type="application/json")
    if path in IGNORE_BODY or (case == "wrong_types" and path in OTHER_FIELDS):
        assert response.status_code < 500, (response.status_code, response.content[:300])
        if response.status_code < 400:
            return
    else:
        assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    message = body.get("detail") or body.get("error") or body
    assert message, body
    if case in PARSER_CASES and response.status_code == 400 and path in ("/api/runs", "/comfy/prompt"):
        assert "body" in str(body), body


def test_deep_nesting_names_the_limit(token_client):
    response = token_client.post("/api/runs", data=BAD_BODIES["deep_arrays"], content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "body", "message": response.json()["errors"][0]["message"]}
    ]
    assert "64" in response.json()["detail"]


def test_comfy_prompt_refuses_a_number_that_is_not_one(token_client):
    body = {"prompt": {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 1}}}, "number": "abc"}
    response = token_client.post("/comfy/prompt", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "number", "message": "must be a number"}]


def test_graph_over_the_node_limit_answers_413_naming_it(token_client, alice, settings):
    settings.FLOWYARD_MAX_GRAPH_NODES = 50
    nodes = {str(i): {"type": "PrimitiveInt", "inputs": {"value": i}} for i in range(51)}
    workspace = alice.personal_workspace.pk
    response = token_client.post(
        "/api/runs", data={"workspace": workspace, "graph": {"nodes": nodes}}, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "graph.nodes"
    assert "FLOWYARD_MAX_GRAPH_NODES" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("filename=../../etc/passwd&type=input", "filename"),
        ("filename=a.png&subfolder=../../etc&type=output", "subfolder"),
        ("filename=a.png&type=../../secret", "type"),
        ("filename=a.png&subfolder=%2Fetc&type=input", "subfolder"),
    ],
)
def test_comfy_view_refuses_traversal_names(token_client, query, field):
    response = token_client.get(f"/comfy/view?{query}")
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()["error"]
