"""Queue positions are published coalesced (backend/runs/publish.py ``publish_queue_soon``): a burst of submits
costs a few reads of the queue, not one per run, and what goes out last is the latest positions."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.core.live import LocalChannelLayer
from backend.runs import publish
from backend.runs.actions import do_create_run
from backend.runs.tests.conftest import chain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listening():
    """``listening(workspace_id)``: a member in the workspace's group of the in-process layer, as a socket's feed."""
    layer = get_channel_layer()
    groups = []

    def listen(workspace_id):
        group = publish.workspace_group(workspace_id)
        async_to_sync(layer.group_add)(group, "test.listener")
        groups.append(group)

    yield listen
    for group in groups:
        async_to_sync(layer.group_discard)(group, "test.listener")


def test_a_burst_of_submits_publishes_its_positions_coalesced_and_up_to_date(
    team, members, settings, monkeypatch, listening
):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # hold every run: they all wait
    settings.FLOWYARD_LEND_IDLE_WORKERS = False
    sent: list[tuple[str, dict]] = []
    reads = []
    real_queue_messages = publish.queue_messages

    def counting_queue_messages(also=()):
        reads.append(set(also))
        return real_queue_messages(also)

    monkeypatch.setattr(publish, "QUEUE_PUBLISH_INTERVAL_SECONDS", 0.5)  # a loaded machine submits slowly
    monkeypatch.setattr(publish, "_send", lambda messages, wait=True: sent.extend(messages))
    monkeypatch.setattr(publish, "queue_messages", counting_queue_messages)
    runner = next(iter(members.values()))
    listening(team.pk)  # a socket of the workspace (nobody listening: nothing is read, see below)
    runs = [do_create_run(runner, workspace=team, graph=chain(1)) for _ in range(20)]

    def latest_positions():
        queues = [message for _, message in sent if message["type"] == "run.queue"]
        return queues[-1]["runs"] if queues else None

    deadline = time.monotonic() + 10
    expected = [{"id": str(run.pk), "position": n, "private_to": None} for n, run in enumerate(runs)]
    while latest_positions() != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert latest_positions() == expected
    statuses = [message for _, message in sent if message["type"] == "run.status"]
    assert len(statuses) == 20  # every run's status goes out at once
    assert 1 <= len(reads) < 20  # the positions: far fewer reads than submits
    assert all(team.pk in also for also in reads)
    groups = {group for group, message in sent if message["type"] == "run.queue"}
    assert groups == {publish.workspace_group(team.pk)}


def test_positions_are_read_and_sent_only_for_workspaces_someone_listens_to(
    team, members, alice, settings, listening
):
    """On the in-process layer (the embedded stack: every socket is in this process) a pass reads nothing while no
    socket follows a workspace, and sends only the workspaces someone follows; positions stay installation-wide."""
    assert isinstance(get_channel_layer(), LocalChannelLayer)
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0
    runner = next(iter(members.values()))
    personal = alice.personal_workspace
    runs = [do_create_run(alice, workspace=personal, graph=chain(1)) for _ in range(2)]
    runs += [do_create_run(runner, workspace=team, graph=chain(1)) for _ in range(2)]
    assert publish.wait_queue_positions_idle()
    with CaptureQueriesContext(connection) as nobody:
        assert publish.queue_messages([team.pk]) == []
    assert len(nobody) == 0
    listening(team.pk)
    (message,) = publish.queue_messages([team.pk])
    assert message[0] == publish.workspace_group(team.pk)
    expected = [
        {"id": str(run.pk), "position": n, "private_to": None} for n, run in enumerate(runs) if n >= 2
    ]
    assert message[1]["runs"] == expected
    listening(personal.pk)
    assert {group for group, _ in publish.queue_messages()} == {
        publish.workspace_group(team.pk),
        publish.workspace_group(personal.pk),
    }
