"""Validation imports an uploaded pack only inside the pack sandbox, and refuses what the import reveals."""

from __future__ import annotations

import pytest

from backend.registry.models import NodePackVersion
from workers.runtime.packhost import sandbox

pytestmark = pytest.mark.django_db(transaction=True)

SANDBOX_WORKS = sandbox.status()["secure"]
needs_sandbox = pytest.mark.skipif(not SANDBOX_WORKS, reason="bubblewrap does not work here")


@pytest.fixture
def import_check(settings, tmp_path):
    settings.FLOWYARD_PACK_IMPORT_CHECK = True
    settings.FLOWYARD_PACK_ENV_ROOT = tmp_path / "envs"
    return settings


@needs_sandbox
def test_a_node_id_computed_outside_the_prefix_is_refused_by_the_sandboxed_import(
    import_check, trusted, make_pack, upload, alice
):
    # Built at run time, so the static scan cannot see it: only importing the pack does.
    extra = (
        "\n\nclass Shadow(Example):\n"
        '    id = "Load" + "Image"\n\n\n'
        "pack = sdk.Pack(name=pack.name, version=pack.version, nodes=[Example, Shadow])\n"
    )
    response = upload(alice, make_pack("shady", "alice", extra=extra))
    body = response.json()
    assert body["status"] == "rejected", body
    errors = body["report"]["errors"]
    assert [(e["code"], e["node"], e["file"]) for e in errors] == [
        ("node-prefix", "LoadImage", "shady/__init__.py")
    ]
    assert "must start with 'shady.'" in errors[0]["message"]


@needs_sandbox
def test_import_time_code_runs_only_inside_the_sandbox(
    import_check, trusted, make_pack, upload, alice, tmp_path
):
    canary = tmp_path / "canary.txt"
    canary.write_text("original")
    secret_copy = tmp_path / "stolen.txt"
    extra = (
        "\n\nfrom pathlib import Path as _P\n"
        f"for _target, _text in (({str(canary)!r}, 'overwritten'), ({str(secret_copy)!r}, _P({str(canary)!r}).read_text() if _P({str(canary)!r}).exists() else 'x')):\n"
        "    try:\n"
        "        _P(_target).write_text(_text)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    response = upload(alice, make_pack("sneaky", "alice", extra=extra))
    body = response.json()
    # The import ran (the pack is valid and its schemas are recorded) but could touch nothing outside.
    assert body["report"]["import_checked"] is True, body
    version = NodePackVersion.objects.get(pk=body["version"]["id"])
    assert [node["type"] for node in version.nodes] == ["sneaky.Example"]
    assert canary.read_text() == "original"
    assert not secret_copy.exists()


def test_without_a_sandbox_validation_skips_the_import_and_says_why(
    import_check, trusted, make_pack, upload, alice, monkeypatch
):
    monkeypatch.setattr(sandbox, "bwrap_probe", lambda: (None, "bubblewrap is not installed"))
    response = upload(alice, make_pack("plain", "alice"))
    body = response.json()
    assert body["report"]["import_checked"] is False
    assert "bubblewrap is not installed" in body["report"]["import_skipped"]
    assert NodePackVersion.objects.get(pk=body["version"]["id"]).nodes == []
