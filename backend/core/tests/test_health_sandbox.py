"""/api/health and the worker registry say how uploaded packs run here (docs/security.md); what health checks of
the channel layer."""

from __future__ import annotations

import pytest

from backend.workers_registry.heartbeat import describe_capabilities
from workers.runtime.packhost import sandbox


def test_health_reports_a_working_sandbox(client, db):
    if not sandbox.status()["secure"]:
        pytest.skip("bubblewrap does not work here")
    body = client.get("/api/health").json()
    assert body["checks"]["pack_sandbox"] == "ok"
    assert body["pack_sandbox"]["mode"] == "bwrap" and body["pack_sandbox"]["uploaded_packs"] == "sandboxed"


def test_health_and_workers_show_an_unsandboxed_setup(client, db, monkeypatch):
    monkeypatch.setenv("FLOWYARD_PACK_SANDBOX", "insecure-none")
    body = client.get("/api/health").json()
    assert body["status"] == "ok"  # the site serves; it says what it does with uploaded packs
    assert body["checks"]["pack_sandbox"].startswith("insecure-none: ")
    assert body["pack_sandbox"]["secure"] is False
    assert describe_capabilities(packs={})["pack_sandbox"]["uploaded_packs"] == "run unconfined"


def test_health_says_uploaded_packs_are_refused_without_bubblewrap(client, db, monkeypatch):
    monkeypatch.delenv("FLOWYARD_PACK_SANDBOX", raising=False)
    monkeypatch.setattr(sandbox, "bwrap_probe", lambda: (None, "bubblewrap is not installed"))
    body = client.get("/api/health").json()
    assert body["pack_sandbox"]["uploaded_packs"] == "refused"
    assert "bubblewrap is not installed" in body["checks"]["pack_sandbox"]


def test_an_in_process_channel_layer_is_reported_local_without_a_round_trip(client, db, monkeypatch):
    from backend.core import views
    from backend.core.live import LocalChannelLayer

    layer = LocalChannelLayer()
    monkeypatch.setattr("channels.layers.get_channel_layer", lambda *args: layer)
    assert views._check_channel_layer() == "local"
    assert layer.channels == {}  # no channel made, nothing sent
    body = client.get("/api/health").json()
    assert body["checks"]["channel_layer"] == "local" and body["status"] == "ok"
