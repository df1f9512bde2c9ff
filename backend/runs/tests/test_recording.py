"""Event recording in batches, the publish seam, and claiming runs once."""

from __future__ import annotations

import json
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from backend.accounts.roles import Role
from backend.runs import execution
from backend.runs.actions import do_create_run
from backend.runs.execution import EventRecorder, execute_run
from backend.runs.models import Run, RunEvent
from backend.runs.publish import events_of, publish_run_events, run_group, workspace_group
from backend.runs.tests.conftest import chain
from workers.engine import Event, MemoryCache


@pytest.fixture
def recorders(monkeypatch):
    """Every EventRecorder built while the test runs, and every batch it published."""
    made: list[execution.EventRecorder] = []
    published: list[list[dict]] = []

    class Recorder(execution.EventRecorder):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(execution, "EventRecorder", Recorder)
    monkeypatch.setattr(execution, "publish_run_events", lambda run, events: published.append(events))
    return made, published


@pytest.mark.django_db(transaction=True)
def test_a_500_node_chain_is_recorded_in_a_bounded_number_of_round_trips(
    team, as_role, wait_for_run, recorders, monkeypatch
):
    # The shared cache costs its own queries per node; this test measures the recording alone.
    monkeypatch.setattr(execution, "cache_store_for_worker", lambda registry=None: MemoryCache())
    made, published = recorders
    response = as_role("runner").post("/api/runs", {"workspace": team.pk, "graph": chain(500)}, format="json")
    assert response.status_code == 201
    run = wait_for_run(response.json()["id"], timeout=60)
    assert run.status == "succeeded"
    assert set(run.node_runs.values_list("status", flat=True)) == {"succeeded"}

    [recorder] = made
    events = list(RunEvent.objects.filter(run=run).values_list("seq", "type"))
    assert len(events) == recorder.events >= 1 + 2 * 501 + 1
    assert [seq for seq, _ in events] == list(range(1, len(events) + 1))
    assert run.last_seq == len(events)
    # Each flush: events, outputs, node rows, the run (plus transaction statements); a batch that grew while the
    # writer was busy (the whole run, when it is this fast) needs more insert statements: SQLite takes ~160 rows
    # per statement, Postgres 1,000. Never a statement per event.
    assert recorder.flushes <= len(events) // 100 + 10
    assert recorder.queries <= 6 * recorder.flushes + len(events) // 150
    assert recorder.queries < 150
    # One publish per stored batch, in order, carrying exactly what was stored.
    assert len(published) == recorder.flushes
    assert [event["seq"] for batch in published for event in batch] == [seq for seq, _ in events]
    assert set(published[0][0]) == {"seq", "type", "node", "data", "time"}


@pytest.mark.django_db(transaction=True)
def test_a_run_is_claimed_once(team, members, wait_for_run):
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(2))
    done = wait_for_run(run.pk)
    assert done.status == "succeeded" and done.attempts == 1 and done.worker.startswith("local:")
    assert execute_run(run.pk, "second-delivery") is None  # a redelivered message does nothing
    assert Run.objects.get(pk=run.pk).worker == done.worker


@pytest.mark.django_db
def test_publish_sends_one_message_per_batch_to_the_run_and_status_to_the_workspace(team, members):
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(1))
    layer = get_channel_layer()
    run_channel = async_to_sync(layer.new_channel)()
    workspace_channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(run_group(run.pk), run_channel)
    async_to_sync(layer.group_add)(workspace_group(team.pk), workspace_channel)

    events = [
        {"seq": 1, "type": "run_started", "node": None, "data": {"nodes": ["1"]}, "time": 1.0},
        {"seq": 2, "type": "node_started", "node": "1", "data": {"type": "test.Inc"}, "time": 1.1},
    ]
    publish_run_events(run, events)
    message = async_to_sync(layer.receive)(run_channel)
    assert message == {
        "type": "run.events",
        "run": str(run.pk),
        "first": 1,
        "last": 2,
        "frame": message["frame"],
    }
    assert json.loads(message["frame"]) == events == events_of(message)
    status = async_to_sync(layer.receive)(workspace_channel)
    assert status["type"] == "run.status" and status["run"]["id"] == str(run.pk)
    assert status["run"]["status"] == "queued"


@pytest.mark.django_db(transaction=True)
def test_a_fully_cached_rerun_marks_every_node_cached(team, as_role, wait_for_run, recorders):
    made, published = recorders
    client = as_role("runner")
    graph = chain(200)
    first = wait_for_run(
        client.post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json").json()["id"]
    )
    again = wait_for_run(
        client.post("/api/runs", {"workspace": team.pk, "graph": graph}, format="json").json()["id"]
    )
    assert (first.status, again.status) == ("succeeded", "succeeded")
    statuses = dict(again.node_runs.values_list("node_id", "status"))
    # The output node comes from the cache too; every node upstream of it is not even needed.
    assert set(statuses.values()) == {"cached"} and len(statuses) == 201
    recorder = made[-1]
    assert recorder.queries < 30  # no statement per node


@pytest.mark.django_db
def test_nodes_changed_alike_are_written_with_one_update_by_id(team, members, settings):
    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # the run stays queued: this test records its events itself
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(30))
    recorder = execution.EventRecorder(run, threading.Event(), publish=lambda run, events: None)
    ids = [str(n) for n in range(1, 31)]
    statements: list[str] = []

    def capture(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    batch = [
        Event(1, "run_started", None, {"nodes": ["show"], "targets": ["show"]}, 100.0),
        Event(2, "node_started", "show", {"type": "test.Show"}, 100.5),
    ]
    with connection.execute_wrapper(capture):
        recorder._store(batch)
    node_updates = [sql for sql in statements if sql.startswith('UPDATE "runs_noderun"')]
    # The 30 unplanned nodes took the same values: one UPDATE ... WHERE id IN; the started node its own row.
    assert len(node_updates) == 2
    assert sum(" IN (" in sql for sql in node_updates) == 1
    statuses = dict(run.node_runs.values_list("node_id", "status"))
    assert {statuses[i] for i in ids} == {"cached"} and statuses["show"] == "running"


@pytest.mark.django_db(transaction=True)
def test_the_last_event_of_a_run_does_not_wait_out_the_batch_window(
    team, members, recorders, monkeypatch, wait_for_run
):
    # A 60 s window, and closing the recorder (which writes what is left) held back until run_finished was
    # published or 10 s passed: only a recorder that writes the last event at once publishes it before closing.
    # The writer thread starts at once and the run lasts ~0.3 s, so it is the thread that records.
    monkeypatch.setattr(execution, "FLUSH_SECONDS", 60.0)
    monkeypatch.setattr(execution, "LATE_START_SECONDS", 0.0)
    made, published = recorders
    published_before_close = []

    def finished() -> bool:
        return any(batch[-1]["type"] == "run_finished" for batch in published)

    def close(self):
        deadline = time.monotonic() + 10
        while not finished() and time.monotonic() < deadline:
            time.sleep(0.01)
        published_before_close.append(finished())
        EventRecorder.close(self)  # the real one: the fixture replaced execution.EventRecorder

    monkeypatch.setattr(execution.EventRecorder, "close", close)
    graph = {
        "nodes": {"1": {"type": "test.Slow", "inputs": {"steps": 10, "step_seconds": 0.03}}},
        "outputs": ["1"],
    }
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=graph)
    assert wait_for_run(run.pk, timeout=30).status == "succeeded"
    deadline = time.monotonic() + 20
    while not published_before_close and time.monotonic() < deadline:
        time.sleep(0.01)  # the run is stored as finished before its recorder closes
    assert published_before_close == [True]
    assert (
        len(published) == 2
    )  # run_started at once (nothing written before it), then the rest with run_finished


@pytest.mark.django_db(transaction=True)
def test_a_run_that_ends_before_its_writer_would_start_is_recorded_by_its_own_thread_at_once(
    team, members, recorders, monkeypatch, wait_for_run
):
    monkeypatch.setattr(execution, "LATE_START_SECONDS", 60.0)
    made, published = recorders
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(3))
    assert wait_for_run(run.pk, timeout=30).status == "succeeded"
    deadline = time.monotonic() + 20
    while not published and time.monotonic() < deadline:
        time.sleep(0.01)  # published right after the write that marked the run finished
    [recorder] = made
    assert recorder._thread.ident is None  # no thread was started for it
    [batch] = published  # every event in one write, from run_started to run_finished
    assert batch[0]["type"] == "run_started" and batch[-1]["type"] == "run_finished"
    assert [event["seq"] for event in batch] == list(range(1, len(batch) + 1))
    assert RunEvent.objects.filter(run=run).count() == len(batch)


@pytest.mark.django_db
def test_node_row_values_passed_as_is_are_what_django_would_prepare() -> None:
    """``update_node_runs`` skips ``get_db_prep_save`` for the values it would hand over unchanged: on this
    database, every value the shortcut takes is one Django's field returns as it is, of the same type."""
    from datetime import UTC, datetime

    from backend.runs.models import NodeRun

    samples = [
        None,
        "",
        "text",
        NodeRun.Status.RUNNING,
        0,
        7,
        2**40,
        True,
        1.5,
        -0.0,
        float("inf"),
        datetime(2026, 12, 7, 19, 30, tzinfo=UTC),
        {"outputs": [1, 2]},
        [1, "a"],
    ]
    fields = [execution._column_field(name) for name in ("id", *execution._NODE_FIELDS)]
    taken = 0
    for field in fields:
        as_is = execution._as_is(field)
        for value in samples:
            if not as_is(value):
                continue
            taken += 1
            prepared = field.get_db_prep_save(value, connection)
            assert prepared is value or (type(prepared) is type(value) and prepared == value), (field, value)
    assert taken >= 15  # strings, floats, ids and missing dates all take the shortcut
    outputs = NodeRun._meta.get_field("outputs")
    assert not any(execution._as_is(outputs)(value) for value in samples)  # JSON is adapted per database


@pytest.mark.django_db
def test_node_rows_written_in_bulk_read_back_as_set(team, members) -> None:
    from datetime import UTC, datetime

    from backend.runs.models import NodeRun

    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(3))
    rows = list(NodeRun.objects.filter(run=run).order_by("position"))
    at = datetime(2026, 12, 7, 19, 30, 1, 250000, tzinfo=UTC)
    for index, row in enumerate(rows):
        row.status = NodeRun.Status.SUCCEEDED if index else NodeRun.Status.FAILED
        row.started, row.finished = at, None
        row.duration, row.progress_value, row.progress_max = 0.25 * index, None, 4.0
        row.error, row.error_type, row.traceback = "boom" * index, "", "tb"
        row.outputs = [{"name": "value", "index": index}]
    execution.update_node_runs(rows)
    for index, row in enumerate(NodeRun.objects.filter(run=run).order_by("position")):
        assert row.status == (NodeRun.Status.SUCCEEDED if index else NodeRun.Status.FAILED)
        assert (row.started, row.finished) == (at, None)
        assert (row.duration, row.progress_value, row.progress_max) == (0.25 * index, None, 4.0)
        assert (row.error, row.error_type, row.traceback) == ("boom" * index, "", "tb")
        assert row.outputs == [{"name": "value", "index": index}]
