"""Who sees and changes what: owner / team member / outsider on every pack endpoint; installs and pins."""

from __future__ import annotations

import pytest

from backend.accounts.roles import Role
from backend.registry import actions
from backend.registry.installs import installed_pack_versions, missing_packs, workspace_catalog
from backend.registry.models import NodePack, Publisher
from nodepacks.sdk.manifest import parse_manifest

pytestmark = pytest.mark.django_db

NODE = {
    "type": "{name}.Thing",
    "display_name": "Thing",
    "inputs": [{"name": "x"}],
    "outputs": [{"name": "y"}],
}


def publish(publisher, user, name, version="1.0.0", visibility="public", status="active", nodes=True):
    """A validated version made through the actions (no archive, no child process)."""
    manifest = parse_manifest(
        {
            "name": name,
            "version": version,
            "display_name": name.title(),
            "description": f"The {name} pack",
            "publisher": publisher.slug,
            "license": "MIT",
            "sdk_api": ">=1.0,<2",
            "categories": ["image/matting"],
        }
    )
    sha = f"{abs(hash((name, version))):064x}"[-64:]
    row = actions.do_upload_version(user, publisher, manifest, sha, 10, visibility)
    report = {
        "ok": True,
        "flagged": status == "flagged",
        "errors": [],
        "findings": [],
        "manifest": manifest.summary(),
    }
    recorded = actions.do_record_validation(row.pk, report)
    assert recorded is not None
    row = recorded
    if nodes:
        actions.do_record_node_schemas(row, [{**NODE, "type": f"{name}.Thing"}])
    if status == "active" and row.status != "active":
        row = actions.do_approve_version(row, user, "ok")
    return row


@pytest.fixture
def team_publisher(team):
    return Publisher.objects.create(slug="studio", display_name="Studio", workspace=team, trusted=True)


@pytest.fixture
def catalog(team_publisher, alice, members):
    """public "pubpack", team-only "teampack", private "privpack" (all active), "draft" (flagged) of Studio."""
    return {
        "public": publish(team_publisher, alice, "pubpack"),
        "team": publish(team_publisher, alice, "teampack", visibility="team"),
        "private": publish(team_publisher, alice, "privpack", visibility="private"),
        "flagged": publish(team_publisher, alice, "draft", status="flagged"),
    }


@pytest.mark.parametrize(
    "role, seen",
    [
        ("owner", {"pubpack", "teampack", "privpack", "draft"}),
        ("admin", {"pubpack", "teampack", "privpack", "draft"}),
        ("editor", {"pubpack", "teampack"}),
        ("viewer", {"pubpack", "teampack"}),
        ("outsider", {"pubpack"}),
    ],
)
def test_each_role_sees_only_the_packs_it_may(catalog, as_role, role, seen):
    client = as_role(role)
    assert {pack["name"] for pack in client.get("/api/packs").json()} == seen
    for name in ["pubpack", "teampack", "privpack", "draft"]:
        assert client.get(f"/api/packs/{name}").status_code == (200 if name in seen else 404)
        version = "1.0.0"
        expected = 200 if name in seen else 404
        assert client.get(f"/api/packs/{name}/versions/{version}").status_code == expected
    publisher = client.get("/api/publishers/studio").json()
    assert {pack["name"] for pack in publisher["packs"]} == seen
    assert publisher["can_manage"] == (role in ("owner", "admin"))


def test_outsider_cannot_see_unreviewed_versions_or_download_them(catalog, as_role, oscar, client_for):
    flagged = catalog["flagged"]
    outsider = as_role("outsider")
    assert outsider.get(f"/api/packs/versions/{flagged.pk}").status_code == 404
    assert outsider.get("/api/packs/draft/versions/1.0.0/download").status_code == 404
    assert outsider.post(f"/api/packs/versions/{flagged.pk}/yank").status_code == 404
    assert outsider.get(f"/api/packs/versions/{catalog['team'].pk}").status_code == 404
    # The public one: visible without the report, not manageable.
    public = outsider.get(f"/api/packs/versions/{catalog['public'].pk}").json()
    assert public["status"] == "active" and "report" not in public
    assert outsider.post(f"/api/packs/versions/{catalog['public'].pk}/yank").status_code == 403
    assert outsider.patch("/api/packs/pubpack", {"visibility": "private"}, format="json").status_code == 403


def test_search_filters_by_text_category_node_type_and_publisher(catalog, as_role):
    client = as_role("editor")
    assert [p["name"] for p in client.get("/api/packs?q=teamp").json()] == ["teampack"]
    assert [p["name"] for p in client.get("/api/packs?q=the pubpack").json()] == ["pubpack"]
    assert {p["name"] for p in client.get("/api/packs?category=image/matting").json()} == {
        "pubpack",
        "teampack",
    }
    assert client.get("/api/packs?category=audio").json() == []
    assert [p["name"] for p in client.get("/api/packs?node_type=pubpack.Thing").json()] == ["pubpack"]
    assert client.get("/api/packs?node_type=pubpack.Other").json() == []
    assert len(client.get("/api/packs?publisher=studio").json()) == 2
    detail = client.get("/api/packs/pubpack").json()
    assert detail["nodes"][0]["inputs"] == [{"name": "x"}] and detail["latest_version"] == "1.0.0"
    assert detail["publisher"] == {"slug": "studio", "display_name": "Studio", "trusted": True}


def test_download_counts_and_serves_the_archive_blob(catalog, as_role, settings):
    from backend.storage.blobs import get_blob_store

    sha = get_blob_store().put(b"PK fake archive")
    pub = catalog["public"]
    from backend.registry.models import NodePackVersion

    models_sha = NodePackVersion.objects.filter(pk=pub.pk)
    models_sha.delete()  # replace with a row whose blob exists
    team_publisher = Publisher.objects.get(slug="studio")
    manifest = parse_manifest(
        {
            "name": "pubpack",
            "version": "2.0.0",
            "display_name": "P",
            "description": "d",
            "publisher": "studio",
            "license": "MIT",
            "sdk_api": ">=1.0,<2",
        }
    )
    assert team_publisher.workspace is not None
    row = actions.do_upload_version(
        team_publisher.workspace.owner_membership().user, team_publisher, manifest, sha, 15
    )
    actions.do_record_validation(row.pk, {"ok": True, "errors": [], "findings": []})
    response = as_role("outsider").get("/api/packs/pubpack/versions/2.0.0/download")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"PK fake archive"
    assert 'filename="pubpack-2.0.0.flowyard.zip"' in response["Content-Disposition"]
    assert NodePack.objects.get(name="pubpack").downloads == 1


def test_team_admins_install_pin_upgrade_and_remove(catalog, team, team_publisher, alice, as_role, oscar):
    url = f"/api/workspaces/{team.pk}/packs"
    for role in ("editor", "runner", "viewer"):
        assert as_role(role).post(url, {"pack": "pubpack"}, format="json").status_code == 403
    assert as_role("outsider").post(url, {"pack": "pubpack"}, format="json").status_code == 404
    admin = as_role("admin")
    assert admin.post(url, {"pack": "pubpack"}, format="json").status_code == 201
    publish(team_publisher, alice, "pubpack", "1.1.0")
    listed = as_role("viewer").get(url).json()
    assert (
        listed[0]["version"] == "1.0.0"
        and listed[0]["update_available"]
        and listed[0]["latest_version"] == "1.1.0"
    )
    assert admin.post(url, {"pack": "pubpack", "version": "1.1.0"}, format="json").status_code == 200
    assert installed_pack_versions(team)[0][:2] == ("pubpack", "1.1.0")
    # Pin back to the older version (allowed), then remove.
    assert (
        admin.post(url, {"pack": "pubpack", "version": "1.0.0"}, format="json").json()["version"] == "1.0.0"
    )
    assert NodePack.objects.get(name="pubpack").installs == 1
    assert as_role("editor").delete(f"{url}/pubpack").status_code == 403
    assert admin.delete(f"{url}/pubpack").status_code == 204
    assert admin.delete(f"{url}/pubpack").status_code == 404
    assert installed_pack_versions(team) == []


def test_yanked_versions_cannot_be_installed_but_existing_pins_keep_them(
    catalog, team, as_role, oscar, client_for
):
    url = f"/api/workspaces/{team.pk}/packs"
    admin = as_role("admin")
    admin.post(url, {"pack": "pubpack"}, format="json")
    yanked = admin.post(
        f"/api/packs/versions/{catalog['public'].pk}/yank", {"reason": "data loss bug"}, format="json"
    )
    assert yanked.json()["yanked"] and yanked.json()["yank_reason"] == "data loss bug"
    personal = oscar.personal_workspace.pk
    refused = client_for(oscar).post(
        f"/api/workspaces/{personal}/packs", {"pack": "pubpack", "version": "1.0.0"}, format="json"
    )
    assert (
        refused.status_code == 409
        and "pubpack 1.0.0 is yanked and cannot be installed" in refused.json()["detail"]
    )
    assert (
        client_for(oscar)
        .post(f"/api/workspaces/{personal}/packs", {"pack": "pubpack"}, format="json")
        .status_code
        == 409
    )
    pinned = admin.get(url).json()[0]
    assert pinned["version"] == "1.0.0" and pinned["yanked"] and pinned["yank_reason"] == "data loss bug"
    admin.post(f"/api/packs/versions/{catalog['public'].pk}/unyank")
    assert (
        client_for(oscar)
        .post(f"/api/workspaces/{personal}/packs", {"pack": "pubpack"}, format="json")
        .status_code
        == 201
    )
    deprecated = admin.post(
        f"/api/packs/versions/{catalog['public'].pk}/deprecate", {"message": "use v2"}, format="json"
    )
    assert deprecated.json()["deprecated"] == "use v2"


def test_team_only_packs_install_only_in_the_publishers_team(catalog, team, members, client_for, make_user):
    admin = members[Role.ADMIN]
    own = client_for(admin).post(f"/api/workspaces/{team.pk}/packs", {"pack": "teampack"}, format="json")
    assert own.status_code == 201
    elsewhere = client_for(admin).post(
        f"/api/workspaces/{admin.personal_workspace.pk}/packs", {"pack": "teampack"}, format="json"
    )
    assert elsewhere.status_code == 403 and "publisher's own workspace" in elsewhere.json()["detail"]


def test_catalog_of_a_workspace_adds_installed_nodes_and_its_etag_follows_installs(
    catalog, team, as_role, oscar
):
    client = as_role("viewer")
    base = client.get(f"/api/nodes?workspace={team.pk}")
    assert base["ETag"] == client.get("/api/nodes")["ETag"]
    as_role("admin").post(f"/api/workspaces/{team.pk}/packs", {"pack": "pubpack"}, format="json")
    installed = client.get(f"/api/nodes?workspace={team.pk}")
    assert "pubpack.Thing" in {node["type"] for node in installed.json()["nodes"]}
    assert installed["ETag"] != base["ETag"]
    pack = next(p for p in installed.json()["packs"] if p["name"] == "pubpack")
    assert pack == {
        "name": "pubpack", "version": "1.0.0", "display_name": "Pubpack", "builtin": False,
        "installed": True, "nodes_known": True, "yanked": False, "deprecated": None,
    }  # fmt: skip
    assert as_role("outsider").get(f"/api/nodes?workspace={team.pk}").status_code == 404


def test_node_schemas_recorded_later_by_the_pack_host_change_the_catalog(team_publisher, alice, team):
    version = publish(team_publisher, alice, "late", nodes=False)
    actions.do_install_pack(team, version.pack, None, alice)
    catalog, etag = workspace_catalog(team)
    assert next(p for p in catalog["packs"] if p["name"] == "late")["nodes_known"] is False
    actions.do_record_node_schemas(version, [{**NODE, "type": "late.Thing"}])
    catalog, changed = workspace_catalog(team)
    assert "late.Thing" in {node["type"] for node in catalog["nodes"]} and changed != etag


def test_missing_packs_names_what_a_workflow_needs(catalog, team, alice):
    actions.do_install_pack(team, catalog["public"].pack, None, alice)
    graph = {"nodes": {"1": {"type": "teampack.Thing", "inputs": {}}, "2": {"type": "pubpack.Thing"}}}
    problems = missing_packs(team, {"pubpack": "0.9.0", "core": "1.0.0"}, graph)
    assert problems == [
        {
            "pack": "pubpack", "version": "0.9.0", "installed_version": "1.0.0", "status": "other_version",
            "message": "This workflow uses pack pubpack 0.9.0; the workspace has 1.0.0 installed.",
            "install": {"pack": "pubpack", "version": "0.9.0"},
        },
        {
            "pack": "teampack", "version": None, "installed_version": None, "status": "missing",
            "message": "This workflow uses pack teampack; the workspace does not have it installed.",
            "install": {"pack": "teampack", "version": None},
        },
    ]  # fmt: skip
    assert missing_packs(team, {"pubpack": "1.0.0"}, graph={"nodes": {"2": {"type": "pubpack.Thing"}}}) == []


def test_site_admin_trusts_a_publisher_and_only_site_admins_may(team_publisher, as_role, alice, client_for):
    Publisher.objects.filter(pk=team_publisher.pk).update(trusted=False)
    assert (
        as_role("admin").patch("/api/publishers/studio", {"trusted": True}, format="json").status_code == 403
    )
    assert (
        as_role("admin").patch("/api/publishers/studio", {"display_name": "S"}, format="json").status_code
        == 200
    )
    assert (
        as_role("editor").patch("/api/publishers/studio", {"display_name": "X"}, format="json").status_code
        == 403
    )
    assert (
        client_for(alice).patch("/api/publishers/studio", {"trusted": True}, format="json").json()["trusted"]
    )


def test_pack_endpoints_need_authentication(anon):
    for url in [
        "/api/packs",
        "/api/packs/x",
        "/api/packs/review",
        "/api/publishers/x",
        "/api/workspaces/1/packs",
    ]:
        assert anon.get(url).status_code == 401
    assert anon.post("/api/packs/upload").status_code == 401


def test_workflow_detail_offers_to_install_the_packs_it_uses(catalog, team, as_role):
    editor = as_role("editor")
    graph = {"nodes": {"1": {"type": "pubpack.Thing", "inputs": {}}}}
    created = editor.post(
        "/api/workflows", {"workspace": team.pk, "name": "w", "graph": graph}, format="json"
    )
    assert created.status_code == 201, created.json()
    missing = created.json()["missing_packs"]
    assert [(m["pack"], m["status"]) for m in missing] == [("pubpack", "missing")]
    as_role("admin").post(f"/api/workspaces/{team.pk}/packs", missing[0]["install"], format="json")
    assert editor.get(f"/api/workflows/{created.json()['id']}").json()["missing_packs"] == []
