"""The node catalog endpoint and its ETag."""

from __future__ import annotations

import pytest

from workers.engine.registry import default_registry

pytestmark = pytest.mark.django_db


def test_catalog_is_served_with_an_etag(alice, client_for):
    response = client_for(alice).get("/api/nodes")
    assert response.status_code == 200
    assert response["ETag"] == f'"{default_registry().etag}"'
    body = response.json()
    assert set(body) == {"api_version", "packs", "nodes"}
    assert body == default_registry().catalog()
    assert all("pack" in node for node in body["nodes"])


def test_matching_if_none_match_answers_304(alice, client_for):
    client = client_for(alice)
    etag = client.get("/api/nodes")["ETag"]
    response = client.get("/api/nodes", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag and not response.content
    assert client.get("/api/nodes", HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304


def test_stale_etag_gets_the_full_catalog(alice, client_for):
    assert client_for(alice).get("/api/nodes", HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_catalog_needs_authentication(anon, alice, client_for):
    assert anon.get("/api/nodes").status_code == 401
    assert client_for(alice, token=True).get("/api/nodes").status_code == 200
