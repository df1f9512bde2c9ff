"""Teams, members, roles, ownership and invites, checked for the owner, every role and an outsider."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.access import Need, access_team, access_workspace, role_in
from backend.accounts.models import Invite, Membership, Workspace
from backend.accounts.roles import PERMISSIONS, Role

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "editor", "runner", "viewer"]


def members_of(team) -> dict[str, str]:
    return dict(Membership.objects.filter(workspace=team).values_list("user__username", "role"))


# The matrix


def test_role_properties_follow_the_matrix():
    assert [r for r in Role if r.can_edit] == [Role.OWNER, Role.ADMIN, Role.EDITOR]
    assert [r for r in Role if r.can_run] == [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.RUNNER]
    assert [r for r in Role if r.can_manage_members] == [Role.OWNER, Role.ADMIN]
    assert [r for r in Role if r.is_owner] == [Role.OWNER]
    assert all(r.can_view for r in Role)
    assert set(PERMISSIONS) == set(Role)


def test_owner_assigns_admin_but_admin_only_assigns_below_admin():
    assert Role.OWNER.can_assign(Role.ADMIN) and not Role.OWNER.can_assign(Role.OWNER)
    assert Role.ADMIN.can_assign(Role.EDITOR) and not Role.ADMIN.can_assign(Role.ADMIN)
    assert not Role.EDITOR.can_assign(Role.VIEWER)


# The access layer


def test_role_in_answers_in_one_query(team, members, oscar, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert role_in(members[Role.EDITOR], team) == Role.EDITOR
    with django_assert_num_queries(1):
        assert role_in(oscar, team.pk) is None


def test_access_workspace_answers_404_for_missing_and_outsiders_403_for_too_low_a_role(team, members, oscar):
    with pytest.raises(NotFound):
        access_workspace(oscar, team.pk)
    with pytest.raises(NotFound):
        access_workspace(members[Role.OWNER], 999_999)
    with pytest.raises(NotFound):
        access_workspace(members[Role.OWNER], "not-a-number")
    with pytest.raises(PermissionDenied):
        access_workspace(members[Role.VIEWER], team.pk, Need.EDIT)
    loaded = access_workspace(members[Role.EDITOR], team.pk, Need.EDIT)
    assert loaded == team and loaded.role == Role.EDITOR


def test_access_team_does_not_load_personal_workspaces(alice):
    with pytest.raises(NotFound):
        access_team(alice, alice.personal_workspace.pk)


# Workspaces and teams


def test_workspaces_lists_personal_and_teams_with_role(team, members, client_for):
    body = client_for(members[Role.EDITOR]).get("/api/workspaces").json()
    kinds = {w["kind"]: w for w in body}
    assert kinds["team"] == {
        "id": team.pk,
        "slug": "studio",
        "name": "Studio",
        "kind": "team",
        "role": "editor",
        "created": kinds["team"]["created"],
    }
    assert kinds["personal"]["role"] == "owner"


def test_create_team_makes_caller_owner(oscar, client_for):
    response = client_for(oscar).post("/api/teams", {"name": "Night Shift"}, format="json")
    assert response.status_code == 201
    assert response.json()["role"] == "owner" and response.json()["slug"] == "night-shift"
    assert members_of(Workspace.objects.get(pk=response.json()["id"])) == {"oscar": "owner"}


def test_team_names_get_unique_slugs(alice, client_for):
    client = client_for(alice)
    slugs = [client.post("/api/teams", {"name": "Lab"}, format="json").json()["slug"] for _ in range(2)]
    assert slugs == ["lab", "lab-2"]


def test_create_team_requires_a_name(alice, client_for):
    response = client_for(alice).post("/api/teams", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize("role", [*ROLES, "outsider"])
def test_get_team(role, team, as_role):
    response = as_role(role).get(f"/api/teams/{team.pk}")
    assert response.status_code == (404 if role == "outsider" else 200)


@pytest.mark.parametrize(
    "role,expected", [("owner", 200), ("admin", 200), ("editor", 403), ("viewer", 403), ("outsider", 404)]
)
def test_rename_team(role, expected, team, as_role):
    response = as_role(role).patch(f"/api/teams/{team.pk}", {"name": "Renamed"}, format="json")
    assert response.status_code == expected
    team.refresh_from_db()
    assert (team.name == "Renamed") == (expected == 200)


@pytest.mark.parametrize(
    "role,expected", [("owner", 204), ("admin", 403), ("viewer", 403), ("outsider", 404)]
)
def test_delete_team(role, expected, team, as_role):
    response = as_role(role).delete(f"/api/teams/{team.pk}")
    assert response.status_code == expected
    assert Workspace.objects.filter(pk=team.pk).exists() == (expected != 204)


# Members


@pytest.mark.parametrize("role", [*ROLES, "outsider"])
def test_list_members(role, team, as_role):
    response = as_role(role).get(f"/api/teams/{team.pk}/members")
    if role == "outsider":
        assert response.status_code == 404
        return
    assert response.status_code == 200
    body = response.json()
    assert [(m["user"]["username"], m["role"]) for m in body] == [
        ("alice", "owner"),
        ("adam", "admin"),
        ("eddie", "editor"),
        ("rita", "runner"),
        ("vera", "viewer"),
    ]
    assert set(body[0]) == {"user", "role", "joined"}


@pytest.mark.parametrize(
    "role,new_role,expected",
    [
        ("owner", "admin", 201),
        ("admin", "editor", 201),
        ("admin", "admin", 403),
        ("editor", "viewer", 403),
        ("viewer", "viewer", 403),
        ("outsider", "viewer", 404),
    ],
)
def test_add_member_by_username(role, new_role, expected, team, as_role, make_user):
    make_user("newbie")
    response = as_role(role).post(
        f"/api/teams/{team.pk}/members", {"username": "newbie", "role": new_role}, format="json"
    )
    assert response.status_code == expected
    assert ("newbie" in members_of(team)) == (expected == 201)


def test_add_member_errors_name_the_field(team, as_role, members):
    client = as_role("owner")
    unknown = client.post(
        f"/api/teams/{team.pk}/members", {"username": "ghost", "role": "viewer"}, format="json"
    )
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "username"
    twice = client.post(
        f"/api/teams/{team.pk}/members", {"username": "vera", "role": "viewer"}, format="json"
    )
    assert twice.status_code == 400 and twice.json()["errors"][0]["field"] == "username"
    owner = client.post(f"/api/teams/{team.pk}/members", {"username": "vera", "role": "owner"}, format="json")
    assert owner.status_code == 400 and owner.json()["errors"][0]["field"] == "role"


def test_cannot_add_members_to_a_personal_workspace(alice, oscar, client_for):
    url = f"/api/teams/{alice.personal_workspace.pk}/members"
    response = client_for(alice).post(url, {"username": "oscar", "role": "viewer"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "role,target,new_role,expected",
    [
        ("owner", "vera", "admin", 200),
        ("owner", "adam", "viewer", 200),
        ("admin", "vera", "editor", 200),
        ("admin", "vera", "admin", 403),
        ("admin", "alice", "viewer", 403),
        ("editor", "vera", "runner", 403),
        ("outsider", "vera", "runner", 404),
    ],
)
def test_change_role(role, target, new_role, expected, team, members, as_role):
    user_id = Membership.objects.get(workspace=team, user__username=target).user_id
    response = as_role(role).patch(
        f"/api/teams/{team.pk}/members/{user_id}", {"role": new_role}, format="json"
    )
    assert response.status_code == expected
    assert (members_of(team)[target] == new_role) == (expected == 200)


def test_owner_cannot_demote_themselves(team, members, as_role):
    url = f"/api/teams/{team.pk}/members/{members[Role.OWNER].pk}"
    assert as_role("owner").patch(url, {"role": "admin"}, format="json").status_code == 403
    assert members_of(team)["alice"] == "owner"


@pytest.mark.parametrize(
    "role,target,expected",
    [
        ("owner", "adam", 204),
        ("admin", "eddie", 204),
        ("admin", "alice", 403),
        ("admin", "adam", 403),
        ("editor", "vera", 403),
        ("outsider", "vera", 404),
    ],
)
def test_remove_member(role, target, expected, team, members, as_role):
    user_id = Membership.objects.get(workspace=team, user__username=target).user_id
    assert as_role(role).delete(f"/api/teams/{team.pk}/members/{user_id}").status_code == expected
    assert (target in members_of(team)) == (expected != 204)


def test_removing_a_non_member_answers_404(team, members, oscar, as_role):
    assert as_role("owner").delete(f"/api/teams/{team.pk}/members/{oscar.pk}").status_code == 404


# Leaving and ownership


@pytest.mark.parametrize("role", ["admin", "editor", "runner", "viewer"])
def test_members_can_leave(role, team, members, as_role):
    assert as_role(role).post(f"/api/teams/{team.pk}/leave").status_code == 204
    assert members[Role(role)].username not in members_of(team)


def test_owner_cannot_leave_without_transferring(team, members, as_role):
    response = as_role("owner").post(f"/api/teams/{team.pk}/leave")
    assert response.status_code == 409
    assert "transfer" in response.json()["detail"]
    assert members_of(team)["alice"] == "owner"


def test_outsider_cannot_leave(team, as_role):
    assert as_role("outsider").post(f"/api/teams/{team.pk}/leave").status_code == 404


def test_cannot_leave_personal_workspace(alice, client_for):
    assert client_for(alice).post(f"/api/teams/{alice.personal_workspace.pk}/leave").status_code == 404


def test_transfer_ownership_then_old_owner_may_leave(team, members, as_role):
    client = as_role("owner")
    response = client.post(
        f"/api/teams/{team.pk}/transfer", {"user_id": members[Role.EDITOR].pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "owner"
    roles = members_of(team)
    assert roles["eddie"] == "owner" and roles["alice"] == "admin"
    assert list(roles.values()).count("owner") == 1
    assert client.post(f"/api/teams/{team.pk}/leave").status_code == 204


@pytest.mark.parametrize("role,expected", [("admin", 403), ("editor", 403), ("outsider", 404)])
def test_only_the_owner_transfers(role, expected, team, members, as_role):
    url = f"/api/teams/{team.pk}/transfer"
    assert (
        as_role(role).post(url, {"user_id": members[Role.VIEWER].pk}, format="json").status_code == expected
    )
    assert members_of(team)["alice"] == "owner"


def test_transfer_to_non_member_is_rejected(team, members, oscar, as_role):
    response = as_role("owner").post(f"/api/teams/{team.pk}/transfer", {"user_id": oscar.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "user_id"
    assert members_of(team)["alice"] == "owner"


# Invites


@pytest.mark.parametrize(
    "role,expected", [("owner", 201), ("admin", 201), ("editor", 403), ("viewer", 403), ("outsider", 404)]
)
def test_create_invite_link(role, expected, team, as_role):
    response = as_role(role).post(
        f"/api/teams/{team.pk}/invites", {"role": "editor", "expires_in_hours": 24}, format="json"
    )
    assert response.status_code == expected
    if expected == 201:
        body = response.json()
        assert body["url"].endswith(f"/invite/{body['token']}")
        invite = Invite.objects.get()
        assert invite.token_hash != body["token"] and body["token"] not in invite.token_hash


def test_invite_link_is_accepted_once(team, as_role, make_user, client_for):
    raw = (
        as_role("admin")
        .post(f"/api/teams/{team.pk}/invites", {"role": "runner"}, format="json")
        .json()["token"]
    )
    newbie = client_for(make_user("newbie"))
    response = newbie.post(f"/api/invites/{raw}/accept")
    assert response.status_code == 200
    assert response.json()["workspace"]["id"] == team.pk and response.json()["workspace"]["role"] == "runner"
    assert members_of(team)["newbie"] == "runner"
    other = client_for(make_user("other"))
    assert other.post(f"/api/invites/{raw}/accept").status_code == 404
    assert "other" not in members_of(team)


def test_expired_invite_link_is_rejected(team, as_role, oscar, client_for):
    raw = (
        as_role("owner")
        .post(f"/api/teams/{team.pk}/invites", {"role": "viewer"}, format="json")
        .json()["token"]
    )
    Invite.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = client_for(oscar).post(f"/api/invites/{raw}/accept")
    assert response.status_code == 410
    assert "expired" in response.json()["detail"]
    assert "oscar" not in members_of(team)


def test_revoked_invite_link_is_rejected(team, as_role, oscar, client_for):
    client = as_role("owner")
    created = client.post(f"/api/teams/{team.pk}/invites", {"role": "viewer"}, format="json").json()
    assert [i["id"] for i in client.get(f"/api/teams/{team.pk}/invites").json()] == [created["id"]]
    assert client.delete(f"/api/teams/{team.pk}/invites/{created['id']}").status_code == 204
    assert client.get(f"/api/teams/{team.pk}/invites").json() == []
    assert client_for(oscar).post(f"/api/invites/{created['token']}/accept").status_code == 404


def test_member_accepting_invite_is_told_and_link_survives(team, as_role, members, oscar, client_for):
    raw = (
        as_role("owner")
        .post(f"/api/teams/{team.pk}/invites", {"role": "admin"}, format="json")
        .json()["token"]
    )
    assert as_role("viewer").post(f"/api/invites/{raw}/accept").status_code == 409
    assert members_of(team)["vera"] == "viewer"
    assert client_for(oscar).post(f"/api/invites/{raw}/accept").status_code == 200


def test_invite_role_and_expiry_are_validated(team, as_role):
    client = as_role("admin")
    url = f"/api/teams/{team.pk}/invites"
    assert client.post(url, {"role": "admin"}, format="json").status_code == 403
    response = client.post(url, {"role": "viewer", "expires_in_hours": 0}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "expires_in_hours"


def test_accepting_requires_sign_in(team, as_role, anon):
    raw = (
        as_role("owner")
        .post(f"/api/teams/{team.pk}/invites", {"role": "viewer"}, format="json")
        .json()["token"]
    )
    assert anon.post(f"/api/invites/{raw}/accept").status_code == 401


def test_invite_list_is_for_member_managers(team, as_role):
    assert as_role("editor").get(f"/api/teams/{team.pk}/invites").status_code == 403
    assert as_role("outsider").get(f"/api/teams/{team.pk}/invites").status_code == 404
