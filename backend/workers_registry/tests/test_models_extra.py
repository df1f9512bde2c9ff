"""A worker says whether the models extra (torch, diffusers, transformers) is installed, so the UI can tell."""

from __future__ import annotations

import importlib.util

import pytest

from backend.workers_registry import heartbeat
from backend.workers_registry.heartbeat import describe_capabilities
from backend.workers_registry.models import Worker


def test_capabilities_say_the_models_extra_is_installed_when_its_modules_are():
    expected = [
        name for name in ("torch", "diffusers", "transformers") if importlib.util.find_spec(name) is None
    ]
    assert describe_capabilities(packs={})["models_extra"] == {"installed": not expected, "missing": expected}


def test_capabilities_name_the_missing_modules_of_the_models_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        heartbeat.importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    status = heartbeat.models_extra_status()
    assert status["installed"] is False
    assert status["missing"][0] == "torch"


@pytest.mark.django_db
def test_members_see_whether_a_worker_has_the_models_extra(as_role):
    missing = {"installed": False, "missing": ["torch", "diffusers", "transformers"]}
    Worker.objects.create(name="w1@host:42", capabilities={"cpu_count": 2, "models_extra": missing})
    member = as_role("runner").get("/api/workers").json()
    assert member[0]["capabilities"]["models_extra"] == missing
