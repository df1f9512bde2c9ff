"""Who reaches what through the ComfyUI routes: the same answers as the native API's access layer, for the
team's owner, a team member, an outsider, and a member removed from the team (who keeps nothing of it)."""

from __future__ import annotations

import base64
import sys
import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.accounts.actions import do_add_member, do_remove_member
from backend.accounts.roles import Role
from backend.compat.models import ComfyPrompt
from backend.compat.tests.conftest import IMAGE_PROMPT, png_bytes
from backend.compat.tests.test_ws import open_socket, receive_until
from backend.runs.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = {"1": {"class_type": "test.Slow", "inputs": {"steps": 400, "step_seconds": 0.02}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}  # fmt: skip


@pytest.fixture
def remy(team, make_user, members):
    """An editor of the team, removed from it by the test when it wants."""
    user = make_user("remy")
    do_add_member(team, Role.OWNER, user, Role.EDITOR)
    return user


def remove(team, user) -> None:
    do_remove_member(team, team.memberships.get(role=Role.OWNER).user, Role.OWNER, user.pk)


def submit(client, prompt, team=None, **body):
    extra = {"flowyard_workspace": team.pk} if team is not None else {}
    answer = client.post("/comfy/prompt", {"prompt": prompt, "extra_data": extra, **body}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()["prompt_id"]


def status_of(prompt_id: str) -> str:
    return ComfyPrompt.objects.select_related("run").get(prompt_id=prompt_id).run.status


def test_history_and_view_follow_the_access_layer_and_a_removed_member_gets_404(
    team, alice, vera, oscar, remy, comfy_client, wait_prompt
):
    submitter = comfy_client(remy)
    prompt_id = submit(submitter, IMAGE_PROMPT, team)
    run = wait_prompt(prompt_id)
    submitter.post("/comfy/upload/image", {"image": SimpleUploadedFile("team.png", png_bytes(), "image/png")},
                   HTTP_X_FLOWYARD_WORKSPACE=str(team.pk))  # fmt: skip
    image = submitter.get(f"/comfy/history/{prompt_id}").json()[prompt_id]["outputs"]["3"]["images"][0]
    by_run_id = {**image, "subfolder": str(run.pk)}
    upload = {"filename": "team.png", "type": "input", "workspace": team.pk}
    assert list(submitter.get("/comfy/history").json()) == [prompt_id]

    # The owner and a member (a viewer) read the run by id, as in the native API; lists hold one's own only.
    for user in (alice, vera):
        client = comfy_client(user)
        assert list(client.get(f"/comfy/history/{prompt_id}").json()) == [prompt_id]
        assert client.get("/comfy/view", image).status_code == 200
        assert client.get("/comfy/view", by_run_id).status_code == 200
        assert client.get("/comfy/view", upload).status_code == 200
        assert client.get("/comfy/history").json() == {}
        assert client.get(f"/api/runs/{run.pk}").status_code == 200

    outsider = comfy_client(oscar)
    assert outsider.get(f"/comfy/history/{prompt_id}").status_code == 404
    assert outsider.get("/comfy/view", image).status_code == 404
    assert outsider.get("/comfy/view", upload).status_code == 404

    remove(team, remy)
    own = submit(submitter, IMAGE_PROMPT)  # in the personal workspace: still theirs
    wait_prompt(own)
    assert submitter.get(f"/api/runs/{run.pk}").status_code == 404  # the native API
    gone = submitter.get(f"/comfy/history/{prompt_id}")
    assert gone.status_code == 404 and gone.json() == {"error": "No such prompt."}
    assert submitter.get("/comfy/history/no-such-prompt").json() == gone.json()
    assert list(submitter.get("/comfy/history").json()) == [own]
    assert list(submitter.get("/comfy/api/history?max_items=10").json()) == [own]
    assert submitter.get("/comfy/view", image).status_code == 404
    assert submitter.get("/comfy/view", by_run_id).status_code == 404
    assert submitter.get("/comfy/view", upload).status_code == 404
    # Forgetting history acts only on reachable prompts: the team prompt stays for the team.
    submitter.post("/comfy/history", {"delete": [prompt_id]}, format="json")
    assert ComfyPrompt.objects.filter(prompt_id=prompt_id).exists()


def test_queue_and_interrupt_act_only_through_the_access_layer(
    team, alice, rita, vera, oscar, remy, comfy_client, settings, wait_prompt
):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 1
    settings.FLOWYARD_LEND_IDLE_WORKERS = False  # the second run waits although a worker is idle
    submitter = comfy_client(remy)
    running = submit(submitter, SLOW, team)
    waiting = submit(submitter, SLOW, team)
    # The first is claimed by a worker thread: on a busy machine, not at once.
    deadline = time.monotonic() + 20
    while status_of(running) == Run.Status.QUEUED and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [item[1] for item in submitter.get("/comfy/queue").json()["queue_pending"]] == [waiting]

    # Neither an outsider, nor a viewer or runner (a teammate's run needs edit), can cancel; nobody but the
    # submitter lists the prompts in their queue.
    for user in (oscar, vera, rita):
        client = comfy_client(user)
        assert client.get("/comfy/queue").json() == {"queue_running": [], "queue_pending": []}
        assert (
            client.post("/comfy/queue", {"delete": [waiting], "clear": True}, format="json").status_code
            == 200
        )
        assert client.post("/comfy/interrupt", {"prompt_id": running}, format="json").status_code == 200
        assert client.post("/comfy/interrupt", {}, format="json").status_code == 200
    assert status_of(waiting) == Run.Status.QUEUED and status_of(running) in ("queued", "running")

    remove(team, remy)
    assert submitter.get("/comfy/queue").json() == {"queue_running": [], "queue_pending": []}
    assert submitter.get("/comfy/prompt").json() == {"exec_info": {"queue_remaining": 0}}
    submitter.post("/comfy/queue", {"delete": [waiting]}, format="json")
    submitter.post("/comfy/queue", {"clear": True}, format="json")
    submitter.post("/comfy/interrupt", {"prompt_id": running}, format="json")
    submitter.post("/comfy/interrupt", {}, format="json")
    assert status_of(waiting) == Run.Status.QUEUED and status_of(running) in ("queued", "running")

    # The team's owner may cancel anyone's run there (edit), as in the native API.
    owner = comfy_client(alice)
    assert owner.post("/comfy/queue", {"delete": [waiting]}, format="json").status_code == 200
    assert wait_prompt(waiting).status == Run.Status.CANCELLED
    assert owner.post("/comfy/interrupt", {"prompt_id": running}, format="json").status_code == 200
    assert wait_prompt(running).status == Run.Status.CANCELLED


def test_a_removed_members_socket_replays_nothing_of_the_team(
    team, alice, oscar, remy, comfy_client, token_for, wait_prompt
):
    submitter, token = comfy_client(remy), token_for(remy)
    outsider_token = token_for(oscar)

    async def scenario():
        prompt_id = await database_sync_to_async(submit)(submitter, SLOW, team)
        member = await open_socket(f"/comfy/ws?clientId=before&token={token}")
        before = await receive_until(member, lambda f: isinstance(f, dict) and f["type"] == "execution_start")
        await member.disconnect()
        outsider = await open_socket(f"/comfy/ws?token={outsider_token}")
        outsider_hello = await outsider.receive_json_from(timeout=5)
        outsider_nothing = await outsider.receive_nothing(timeout=0.3)
        await outsider.disconnect()

        await database_sync_to_async(remove)(team, remy)
        removed = await open_socket(f"/comfy/ws?clientId=after&token={token}")
        hello = await removed.receive_json_from(timeout=5)
        nothing = await removed.receive_nothing(timeout=0.5)
        await removed.disconnect()
        return prompt_id, before, outsider_hello, outsider_nothing, hello, nothing

    prompt_id, before, outsider_hello, outsider_nothing, hello, nothing = async_to_sync(scenario)()
    comfy_client(alice).post("/comfy/interrupt", {"prompt_id": prompt_id}, format="json")
    wait_prompt(prompt_id)
    assert before[0]["data"]["status"]["exec_info"]["queue_remaining"] == 1
    assert before[-1]["data"]["prompt_id"] == prompt_id
    assert outsider_hello["data"]["status"]["exec_info"]["queue_remaining"] == 0 and outsider_nothing
    assert hello == {
        "type": "status",
        "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "after"},
    }
    assert nothing


def test_a_socket_signed_in_by_basic_from_another_sites_page_is_refused(alice, token_for):
    basic = b"Basic " + base64.b64encode(f"me:{token_for(alice)}".encode())

    async def scenario():
        foreign = await open_socket("/comfy/ws", [(b"authorization", basic), (b"origin", b"https://evil.example"),
                                                  (b"host", b"testserver")])  # fmt: skip
        refused = await foreign.receive_output(timeout=5)
        script = await open_socket("/comfy/ws", [(b"authorization", basic)])
        hello = await script.receive_json_from(timeout=5)
        await script.disconnect()
        own_page = await open_socket("/comfy/ws", [(b"authorization", basic), (b"origin", b"http://testserver"),
                                                   (b"host", b"testserver")])  # fmt: skip
        own_hello = await own_page.receive_json_from(timeout=5)
        await own_page.disconnect()
        return refused, hello, own_hello

    refused, hello, own_hello = async_to_sync(scenario)()
    assert refused == {"type": "websocket.close", "code": 4403}
    assert hello["type"] == "status" and own_hello["type"] == "status"


def test_system_stats_shows_host_details_to_site_admins_only(alice, oscar, comfy_client):
    assert alice.is_site_admin and not oscar.is_site_admin
    admin = comfy_client(alice).get("/comfy/system_stats")
    member = comfy_client(oscar).get("/comfy/system_stats")
    assert admin.status_code == member.status_code == 200
    admin_stats, member_stats = admin.json(), member.json()
    assert set(admin_stats) == set(member_stats) == {"system", "devices"}
    assert set(admin_stats["system"]) == set(member_stats["system"])
    assert admin_stats["system"]["python_version"] == sys.version and admin_stats["system"]["ram_total"] > 0
    assert admin_stats["system"]["flowyard"]["dispatcher"] == "local"
    system = member_stats["system"]
    assert system["python_version"] == "" and system["os"] == "" and system["ram_total"] == 0
    assert system["argv"] == [] and system["flowyard"] == {"dispatcher": "", "machine": ""}
    assert system["comfyui_version"].endswith("(Flowyard)") and member_stats["devices"] == []
    assert sys.version not in member.content.decode()
