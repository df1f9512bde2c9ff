import json

import pytest

from backend.accounts.actions import do_change_role, do_remove_member
from backend.accounts.roles import Role
from backend.automation.actions import do_create_trigger
from backend.automation.models import Trigger
from backend.automation.runs import RunRefused, exposed_inputs, map_inputs
from backend.automation.signing import new_secret, signed_headers
from backend.runs.models import Run


@pytest.fixture
def trigger(image_workflow, members):
    return do_create_trigger(
        members[Role.EDITOR], image_workflow, mapping={"size.w": "1.width", "color": "1.color"}
    )


def fire(anon, trigger, body, **headers):
    return anon.post(
        f"/api/triggers/{trigger.pk}", json.dumps(body), content_type="application/json", **headers
    )


def test_without_a_mapping_the_body_is_the_overrides():
    assert map_inputs({"1": {"width": 3}}, {}) == {"1": {"width": 3}}
    with pytest.raises(RunRefused):
        map_inputs({"1": 3}, {})
    with pytest.raises(RunRefused):
        map_inputs([1, 2], {})


def test_a_mapping_may_name_an_exposed_app_input_instead_of_a_node_input():
    layout = {"app": {"inputs": [{"name": "size", "node": "1", "input": "width", "label": "Size"}]}}
    exposed = exposed_inputs(layout)
    assert exposed == {"size": ("1", "width")}
    assert map_inputs({"w": 9}, {"w": "size"}, exposed) == {"1": {"width": 9}}
    with pytest.raises(RunRefused) as refused:
        map_inputs({"w": 9}, {"w": "height"}, exposed)
    assert refused.value.payload["errors"][0]["field"] == "mapping.w"


@pytest.mark.django_db(transaction=True)
def test_a_trigger_maps_to_the_app_inputs_its_version_exposes(anon, image_workflow, members, wait_for_run):
    from backend.workflows.actions import do_save_version
    from backend.workflows.documents import parse_document

    version = image_workflow.latest_version()
    layout = {**version.layout, "app": {"inputs": [{"name": "size", "node": "1", "input": "width"}]}}
    do_save_version(image_workflow, members[Role.OWNER], parse_document(version.graph, layout))
    trigger = do_create_trigger(members[Role.OWNER], image_workflow, mapping={"image.size": "size"})
    answer = fire(anon, trigger, {"image": {"size": 24}}, HTTP_X_TRIGGER_SECRET=trigger.secret)
    assert answer.status_code == 201, answer.json()
    run = wait_for_run(answer.json()["run"])
    assert run.workflow_version.number == 2
    assert run.graph["nodes"]["1"]["inputs"]["width"] == 24


def test_a_mapping_takes_dotted_body_fields_to_node_inputs_and_ignores_the_rest():
    mapping = {"issue.title": "6.text", "seed": "3.seed", "absent": "3.steps"}
    body = {"issue": {"title": "hello", "id": 9}, "seed": 7, "other": True}
    assert map_inputs(body, mapping) == {"6": {"text": "hello"}, "3": {"seed": 7}}


@pytest.mark.django_db(transaction=True)
def test_a_trigger_with_its_secret_starts_a_run_as_its_owner_with_mapped_inputs(
    anon, trigger, members, wait_for_run
):
    answer = fire(
        anon, trigger, {"size": {"w": 16}, "color": 255, "ignored": 1}, HTTP_X_TRIGGER_SECRET=trigger.secret
    )
    assert answer.status_code == 201, answer.json()
    run = Run.objects.get(pk=answer.json()["run"])
    assert (
        run.created_by == members[Role.EDITOR]
    )  # attributed to the trigger's owner: counted in their fair use
    assert run.workflow_id == trigger.workflow_id
    assert run.graph["nodes"]["1"]["inputs"]["width"] == 16
    assert run.graph["nodes"]["1"]["inputs"]["color"] == 255
    assert wait_for_run(run.pk).status == Run.Status.SUCCEEDED
    trigger.refresh_from_db()
    assert trigger.last_fired is not None


@pytest.mark.django_db(transaction=True)
def test_a_body_signed_with_the_trigger_secret_is_accepted(anon, trigger, wait_for_run):
    body = json.dumps({"size": {"w": 12}}).encode()
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v
        for k, v in signed_headers(trigger.secret, "msg_1", body).items()
    }
    answer = anon.post(f"/api/triggers/{trigger.pk}", body, content_type="application/json", **headers)
    assert answer.status_code == 201, answer.json()
    wait_for_run(answer.json()["run"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_TRIGGER_SECRET": "whsec_wrong"},
        {"HTTP_WEBHOOK_ID": "msg_1", "HTTP_WEBHOOK_TIMESTAMP": "1", "HTTP_WEBHOOK_SIGNATURE": "v1,AAAA"},
    ],
    ids=["nothing", "wrong-secret", "bad-signature"],
)
def test_a_call_without_the_secret_or_a_valid_signature_is_refused(anon, trigger, headers):
    answer = fire(anon, trigger, {"size": {"w": 16}}, **headers)
    assert answer.status_code == 401
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_a_body_signed_with_another_secret_is_refused(anon, trigger):
    body = json.dumps({}).encode()
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v
        for k, v in signed_headers(new_secret(), "msg_1", body).items()
    }
    assert (
        anon.post(f"/api/triggers/{trigger.pk}", body, content_type="application/json", **headers).status_code
        == 401
    )


@pytest.mark.django_db
def test_inputs_that_do_not_fit_the_graph_answer_400_naming_the_node(anon, image_workflow, members):
    trigger = do_create_trigger(members[Role.OWNER], image_workflow)
    answer = fire(anon, trigger, {"1": {"width": "wide"}}, HTTP_X_TRIGGER_SECRET=trigger.secret)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["node"] == "1"
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_a_trigger_whose_owner_lost_the_run_right_starts_nothing(anon, trigger, team, members):
    owner = members[Role.OWNER]
    do_change_role(team, owner, Role.OWNER, members[Role.EDITOR].pk, Role.VIEWER)
    assert fire(anon, trigger, {}, HTTP_X_TRIGGER_SECRET=trigger.secret).status_code == 403
    do_remove_member(team, owner, Role.OWNER, members[Role.EDITOR].pk)
    assert fire(anon, trigger, {}, HTTP_X_TRIGGER_SECRET=trigger.secret).status_code == 403
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_a_disabled_or_unknown_trigger_is_not_found(anon, trigger):
    Trigger.objects.filter(pk=trigger.pk).update(active=False)
    assert fire(anon, trigger, {}, HTTP_X_TRIGGER_SECRET=trigger.secret).status_code == 404


# Managing triggers.


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_editors_create_triggers_and_see_the_secret_once(as_role, image_workflow, role):
    client = as_role(role)
    created = client.post(
        f"/api/workflows/{image_workflow.pk}/triggers", {"mapping": {"w": "1.width"}}, format="json"
    ).json()
    assert created["secret"].startswith("whsec_")
    assert created["url"].endswith(f"/api/triggers/{created['id']}")
    listed = client.get(f"/api/workflows/{image_workflow.pk}/triggers").json()
    assert [t["id"] for t in listed] == [created["id"]] and "secret" not in listed[0]
    rotated = client.post(f"/api/triggers/{created['id']}/rotate-secret").json()
    assert rotated["secret"] != created["secret"]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "code"), [("runner", 403), ("viewer", 403), ("outsider", 404)])
def test_runners_viewers_and_outsiders_cannot_manage_triggers(as_role, image_workflow, trigger, role, code):
    client = as_role(role)
    assert client.get(f"/api/workflows/{image_workflow.pk}/triggers").status_code == code
    assert client.post(f"/api/workflows/{image_workflow.pk}/triggers", {}, format="json").status_code == code
    assert client.get(f"/api/triggers/{trigger.pk}").status_code == code
    assert client.patch(f"/api/triggers/{trigger.pk}", {"active": False}, format="json").status_code == code
    assert client.delete(f"/api/triggers/{trigger.pk}").status_code == code
    assert client.post(f"/api/triggers/{trigger.pk}/rotate-secret").status_code == code
    assert Trigger.objects.filter(pk=trigger.pk, active=True).exists()


@pytest.mark.django_db
def test_bad_trigger_settings_name_the_field(as_role, image_workflow):
    client = as_role("editor")
    url = f"/api/workflows/{image_workflow.pk}/triggers"
    bad_mapping = client.post(url, {"mapping": {"w": "1."}}, format="json")
    assert bad_mapping.status_code == 400 and bad_mapping.json()["errors"][0]["field"] == "mapping.w"
    bad_version = client.post(url, {"version": 99}, format="json")
    assert bad_version.status_code == 400 and bad_version.json()["errors"][0]["field"] == "version"
