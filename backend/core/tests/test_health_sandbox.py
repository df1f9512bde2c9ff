"""/api/health and the worker registry say how uploaded packs run here (docs/security.md)."""

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
