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


@pytest.mark.django_db
def test_node_row_values_prepared_by_the_recorders_shortcuts_are_what_django_would_prepare() -> None:
    """``update_node_runs`` prepares values with ``_preparer``: the recorder's own UTC datetimes without Django's
    checks, JSON as text on SQLite; on this database every value comes out as the field's ``get_db_prep_save``
    makes it (other datetimes and JSON on Postgres go through the field)."""
    from datetime import UTC, datetime, timedelta, timezone

    from django.core.exceptions import ValidationError

    from backend.runs.models import NodeRun

    samples = [
        None,
        "",
        "text",
        "é ☃ \ud800",
        NodeRun.Status.RUNNING,
        0,
        2**40,
        1.5,
        float("nan"),
        datetime(2026, 12, 7, 19, 30, tzinfo=UTC),  # no microseconds: str() leaves them out
        datetime(2026, 12, 7, 19, 30, 1, 250000, tzinfo=UTC),
        datetime.fromtimestamp(1_765_135_801.123456, tz=UTC),  # as the recorder makes them
        datetime(2026, 12, 7, 20, 30, 1, 5, tzinfo=timezone(timedelta(hours=1))),  # another zone: the field's
        [],
        [{"name": "value", "type": "INT", "summary": "INT 42"}],
        [{"name": "é", "type": "STRING", "summary": "STRING '☃'", "nested": {"x": [1.5, None, True]}}],
        {"a": 1},
    ]
    fields = [execution._column_field(name) for name in ("id", *execution._NODE_FIELDS)]
    checked = 0
    for field in fields:
        prepare = execution._preparer(field)
        for value in samples:
            try:
                expected = field.get_db_prep_save(value, connection)
            except (TypeError, ValueError, ValidationError):
                continue  # not a value of this field
            prepared = prepare(value)
            checked += 1
            # Postgres wraps JSON in psycopg's Jsonb (compared by what it holds).
            assert type(prepared) is type(expected), (field.name, value, prepared, expected)
            held, wanted = getattr(prepared, "obj", prepared), getattr(expected, "obj", expected)
            assert held == wanted or (held != held and wanted != wanted), (field.name, value, prepared)
    assert checked >= 40


def test_json_text_is_what_json_dumps_writes() -> None:
    values = [
        None,
        [],
        {},
        {"seq": 1, "type": "node_finished", "data": {"duration": 1.25e-05, "cached": False}},
        [{"name": "é", "summary": "STRING '☃' \ud800 \"q\" \\ \n"}],
        [1.0, -0.0, 1e300, float("inf"), float("-inf"), 2**70, True, None],
        {"nested": [[{"a": [1, {"b": []}]}]]},
        {1: "int key", "x": 2.5},
    ]
    for value in values:
        assert execution.json_text(value) == json.dumps(value)
    assert execution.json_text(float("nan")) == json.dumps(float("nan")) == "NaN"
    with pytest.raises(TypeError):
        execution.json_text({"x": object()})


@pytest.mark.django_db
def test_node_rows_written_by_changed_columns_leave_the_others_as_they_were(team, members) -> None:
    from datetime import UTC, datetime

    from backend.runs.models import NodeRun

    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(3))
    rows = list(NodeRun.objects.filter(run=run).order_by("position"))
    NodeRun.objects.filter(run=run).update(error="kept", progress_max=3.0)
    at = datetime(2026, 12, 7, 19, 30, 1, 250000, tzinfo=UTC)
    for row in rows:
        row.status, row.started, row.error, row.progress_max = NodeRun.Status.RUNNING, at, "not written", None
    execution.update_node_runs(rows, fields=("status", "started"))
    for row in NodeRun.objects.filter(run=run):
        assert (row.status, row.started, row.finished) == (NodeRun.Status.RUNNING, at, None)
        assert (row.error, row.progress_max) == ("kept", 3.0)


@pytest.mark.django_db(transaction=True)
def test_recorded_node_rows_are_the_recorders_own_state(team, members, recorders, wait_for_run, monkeypatch):
    """Each batch writes only the columns its events changed; at the end every node row in the database holds
    every field as the recorder folded it (a write of all ten fields would store the same)."""
    monkeypatch.setattr(
        execution, "FLUSH_EVENTS", 40
    )  # many batches: nodes started in one, finished in the next
    monkeypatch.setattr(execution, "LATE_START_SECONDS", 0.0)
    made, published = recorders
    graph = chain(120)
    graph["nodes"]["f"] = {
        "type": "test.Fail",
        "inputs": {"value": ["1", 0]},
    }  # a failed node with a traceback
    graph["nodes"]["g"] = {"type": "test.Inc", "inputs": {"value": ["f", 0]}}  # and one skipped after it
    graph["outputs"] = ["show", "g"]
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=graph)
    done = wait_for_run(run.pk, timeout=60)
    assert done.status == "failed"
    [recorder] = made
    assert recorder.flushes >= 2
    names = execution._NodeRow.__slots__
    stored = {row[1]: row for row in done.node_runs.values_list(*names)}
    folded = {
        node_id: tuple(getattr(node, name) for name in names) for node_id, node in recorder.node_runs.items()
    }
    assert stored == folded
    statuses = {row[3] for row in stored.values()}
    assert {"succeeded", "failed", "skipped"} <= statuses
    assert all(row[4] is not None for row in stored.values() if row[3] in ("succeeded", "failed"))


@pytest.mark.django_db
def test_last_seq_is_written_only_to_the_run_of_that_worker(team, members, settings) -> None:
    """The recorder's per-batch ``last_seq`` statement: as ``filter(pk=..., worker=...).update(last_seq=...)``."""
    import uuid

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0  # stays queued: nothing else writes it
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(2))
    other = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(2))
    Run.objects.filter(pk__in=[run.pk, other.pk]).update(worker="w@host:1", last_seq=3)
    assert execution.update_own_run(run.pk, "w@host:1", {"last_seq": 7}) == 1
    assert (
        execution.update_own_run(str(run.pk), "w@host:1", {"last_seq": 8}) == 1
    )  # the id as a string, as messages carry it
    assert (
        execution.update_own_run(run.pk, "other@host:2", {"last_seq": 9}) == 0
    )  # fenced: another worker's run
    assert execution.update_own_run(uuid.uuid4(), "w@host:1", {"last_seq": 9}) == 0
    assert dict(Run.objects.values_list("pk", "last_seq")) == {run.pk: 8, other.pk: 3}


@pytest.mark.django_db
def test_a_runs_final_state_is_written_as_the_orm_writes_it_and_only_by_its_worker(team, members, settings):
    """``update_own_run``: the statement built once per set of columns writes what ``update(**changes)`` would
    (a status, an aware time, a text), and nothing on a run another worker owns."""
    from django.utils import timezone

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(2))
    other = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(2))
    Run.objects.filter(pk__in=[run.pk, other.pk]).update(worker="w@host:1")
    finished = timezone.now()
    changes = {"last_seq": 5, "status": Run.Status.FAILED, "finished": finished, "error": 'it\'s "broken"'}
    assert execution.update_own_run(run.pk, "w@host:1", changes) == 1
    assert execution.update_own_run(other.pk, "other@host:2", changes) == 0
    run.refresh_from_db()
    other.refresh_from_db()
    assert (run.last_seq, run.status, run.finished, run.error) == (5, "failed", finished, 'it\'s "broken"')
    assert (other.last_seq, other.status, other.finished) == (0, "queued", None)


@pytest.mark.django_db
def test_a_fresh_runs_node_rows_are_read_as_stored(team, members, settings):
    """A first attempt's recorder reads only its node rows' ids and types: the rest, the fields' defaults, is what
    the full read gives, in the same order; each row has its own outputs list."""
    from backend.runs.execution import _NodeRow
    from backend.runs.models import NodeRun

    settings.FLOWYARD_MAX_RUNNING_PER_USER = 0
    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(12))
    fresh = execution.fresh_node_rows(run.pk)
    stored = {
        row[1]: _NodeRow(row) for row in NodeRun.objects.filter(run=run).values_list(*_NodeRow.__slots__)
    }
    assert list(fresh) == list(stored) and len(fresh) == len(run.graph["nodes"]) > 10

    def values(row):
        return [getattr(row, name) for name in _NodeRow.__slots__]

    assert [values(row) for row in fresh.values()] == [values(row) for row in stored.values()]
    first, second = list(fresh.values())[:2]
    assert first.outputs == [] and first.outputs is not second.outputs


@pytest.mark.django_db
def test_events_inserted_in_one_statement_read_back_as_given(team, members) -> None:
    """``insert_run_events`` (on Postgres its rows as one JSON parameter): each event's seq, type, node, data and
    time read back exactly."""
    from backend.runs.execution import _EventRow, insert_run_events

    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(1))
    rows = [
        _EventRow(
            1, "run_started", None, {"nodes": ["1", "show"], "targets": ["show"]}, 1_765_135_801.1234567
        ),
        _EventRow(2, "node_started", "1", {"type": "test.Inc"}, 1_765_135_801.5),
        _EventRow(
            3,
            "node_finished",
            "1",
            {
                "type": "test.Inc",
                "duration": 1.2345e-05,
                "cached": False,
                "outputs": [{"s": "é ☃ \"q\" \\ '%s'"}],
            },
            0.1 + 0.2,
        ),
        _EventRow(4, "progress", "é", {"value": 3, "max": None, "big": 2**70, "f": -0.0}, 2.0**-30),
    ]
    insert_run_events(run.pk, rows)
    stored = list(
        RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", "type", "node", "data", "time")
    )
    assert stored == [(row.seq, row.type, row.node, row.data, row.time) for row in rows]
    assert [type(values[3]["duration"]) for values in stored[2:3]] == [float]


@pytest.mark.django_db
def test_node_row_values_that_json_cannot_carry_exactly_are_written_as_parameters(team, members) -> None:
    from datetime import UTC, datetime

    from backend.runs.models import NodeRun

    run = do_create_run(members[Role.RUNNER], workspace=team, graph=chain(2))
    rows = list(NodeRun.objects.filter(run=run).order_by("position"))
    at = datetime(2026, 12, 7, 19, 30, 1, 5, tzinfo=UTC)
    rows[0].progress_value, rows[0].progress_max, rows[0].started = (
        float("inf"),
        2.0,
        at,
    )  # no infinity in JSON
    rows[1].progress_value, rows[1].progress_max, rows[1].started = 0.5, True, at  # a bool: Django's float()
    rows[2].progress_value, rows[2].progress_max, rows[2].started = 0.1 + 0.2, 1e300, at
    execution.update_node_runs(rows, fields=("started", "progress_value", "progress_max"))
    stored = list(
        NodeRun.objects.filter(run=run)
        .order_by("position")
        .values_list("started", "progress_value", "progress_max")
    )
    assert stored == [(at, float("inf"), 2.0), (at, 0.5, 1.0), (at, 0.1 + 0.2, 1e300)]
    for row in rows:
        row.progress_max = 4.0
    execution.update_node_runs(rows, fields=("progress_max",))  # all sendable as JSON on Postgres
    assert set(NodeRun.objects.filter(run=run).values_list("progress_max", flat=True)) == {4.0}
