"""Recovery in one process: sweeps re-queue runs of lost workers (or fail them when out of attempts), and a
redelivered message takes over a run whose worker is gone, continuing its event log."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backend.accounts.roles import Role
from backend.runs.execution import execute_run
from backend.runs.models import NodeRun, Run, RunEvent
from backend.runs.recovery import (
    Reconciler,
    previous_worker_gone,
    recover_orphaned_runs,
    release_unheld_runs,
    sweep,
)
from backend.runs.tests.conftest import chain
from backend.workers_registry.models import Worker

DEAD = "dead@host:1"


def running_run(team, user, *, worker: str = DEAD, attempts: int = 1, events: int = 3) -> Run:
    """A run left RUNNING by ``worker`` with ``events`` stored events and node 1 mid-execution."""
    run = Run.objects.create(
        workspace=team,
        graph=chain(2),
        created_by=user,
        status=Run.Status.RUNNING,
        worker=worker,
        attempts=attempts,
        started=timezone.now(),
        dispatched=timezone.now(),
        last_seq=events,
    )
    for position, (node_id, node_type) in enumerate(
        [("1", "test.Inc"), ("2", "test.Inc"), ("show", "test.Show")]
    ):
        NodeRun.objects.create(run=run, node_id=node_id, node_type=node_type, position=position)
    NodeRun.objects.filter(run=run, node_id="1").update(status=NodeRun.Status.RUNNING, started=timezone.now())
    RunEvent.objects.bulk_create(
        RunEvent(run=run, seq=seq, type="progress", node="1", time=time.time())
        for seq in range(1, events + 1)
    )
    return run


def worker(name: str = DEAD, *, silent_for: float = 0, status: str = Worker.Status.ONLINE) -> Worker:
    return Worker.objects.create(
        name=name,
        hostname="host",
        status=status,
        last_heartbeat=timezone.now() - timedelta(seconds=silent_for),
    )


@pytest.mark.django_db
def test_a_silent_worker_is_marked_lost_and_its_run_goes_back_to_the_queue(team, members, settings):
    settings.FLOWYARD_WORKER_LOST_SECONDS = 30
    worker(silent_for=31)
    alive = worker("alive@host:2", silent_for=1)
    run = running_run(team, members[Role.RUNNER])
    kept = running_run(team, members[Role.RUNNER], worker=alive.name)

    report = sweep()

    assert report == {"workers_lost": [DEAD], "requeued": [str(run.pk)], "failed": [], "redispatched": []}
    run.refresh_from_db()
    # Back in the queue, and handed straight to the dispatcher again (the sweep runs the scheduler).
    assert (run.status, run.worker, run.last_seq, run.attempts) == ("queued", "", 4, 1)
    assert run.dispatched is not None
    event = RunEvent.objects.get(run=run, seq=4)
    assert event.type == "run_requeued"
    assert event.data == {"attempt": 2, "max_attempts": 3, "reason": "worker_lost", "previous_worker": DEAD}
    assert NodeRun.objects.get(run=run, node_id="1").status == "queued"
    kept.refresh_from_db()
    assert kept.status == "running" and Worker.objects.get(name=alive.name).status == "online"
    assert sweep() == {"workers_lost": [], "requeued": [], "failed": [], "redispatched": []}  # nothing twice


@pytest.mark.django_db
def test_a_run_out_of_attempts_fails_instead_of_looping(team, members, settings):
    settings.FLOWYARD_MAX_RUN_ATTEMPTS = 3
    worker(status=Worker.Status.LOST)
    run = running_run(team, members[Role.RUNNER], attempts=3)
    assert recover_orphaned_runs() == {"requeued": [], "failed": [str(run.pk)]}
    run.refresh_from_db()
    assert run.status == "failed" and "lost" in run.error and run.finished is not None
    last = RunEvent.objects.get(run=run, seq=run.last_seq)
    assert last.type == "run_finished" and last.data["status"] == "failed"
    assert dict(NodeRun.objects.filter(run=run).values_list("node_id", "status")) == {
        "1": "failed",
        "2": "skipped",
        "show": "skipped",
    }


@pytest.mark.django_db
def test_a_run_on_an_unknown_worker_is_recovered_only_after_a_long_silence(team, members, settings):
    settings.FLOWYARD_RUN_STALL_SECONDS = 600
    run = running_run(team, members[Role.RUNNER], worker="local:gone:1")
    assert recover_orphaned_runs()["requeued"] == []
    RunEvent.objects.filter(run=run).update(time=time.time() - 601)
    Run.objects.filter(pk=run.pk).update(started=timezone.now() - timedelta(seconds=601))
    assert recover_orphaned_runs()["requeued"] == [str(run.pk)]
    assert RunEvent.objects.get(run=run, seq=4).data["reason"] == "stalled"


@pytest.mark.django_db
def test_a_dead_prefork_child_of_this_worker_is_gone_but_a_live_worker_is_not(settings):
    worker("w@host:10", silent_for=0)
    assert previous_worker_gone("w@host:10/999999999", "w@host:10/123")  # no such process here
    assert not previous_worker_gone("w@host:10", "other@host:11")  # its worker is alive
    assert not previous_worker_gone("unknown@elsewhere:5", "w@host:10")  # nothing says it is dead


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_takes_over_a_run_of_a_lost_worker_and_continues_its_log(
    team, members, settings
):
    worker(status=Worker.Status.LOST)
    run = running_run(team, members[Role.RUNNER], events=3)

    assert execute_run(run.pk, "me@host:2") == "succeeded"

    run.refresh_from_db()
    assert (run.worker, run.attempts) == ("me@host:2", 2)
    seqs = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", "type"))
    assert [seq for seq, _ in seqs] == list(range(1, run.last_seq + 1))
    assert seqs[3] == (4, "run_requeued") and seqs[4][1] == "run_started"
    assert [kind for _, kind in seqs].count("run_finished") == 1
    assert set(NodeRun.objects.filter(run=run).values_list("status", flat=True)) == {"succeeded"}


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_leaves_a_live_workers_run_alone(team, members):
    worker("busy@host:3")
    run = running_run(team, members[Role.RUNNER], worker="busy@host:3")
    assert execute_run(run.pk, "me@host:2") is None
    run.refresh_from_db()
    assert (run.status, run.worker, run.last_seq) == ("running", "busy@host:3", 3)


@pytest.mark.django_db(transaction=True)
def test_a_worker_presumed_lost_cannot_write_over_the_run_it_lost(team, members):
    from backend.runs.execution import EventRecorder
    from workers.engine import Event

    run = running_run(team, members[Role.RUNNER], worker="slow@host:4")
    stale = Run.objects.get(pk=run.pk)
    Run.objects.filter(pk=run.pk).update(worker="new@host:5", last_seq=10)  # taken over meanwhile
    import threading

    recorder = EventRecorder(stale, threading.Event(), publish=lambda run, events: None)
    recorder.start()
    recorder(Event(1, "run_started", None, {"nodes": []}, time.time()))
    recorder.close()
    assert recorder.error is not None and recorder.cancel.is_set()
    assert Run.objects.get(pk=run.pk).worker == "new@host:5"


@pytest.mark.django_db
def test_manage_sweep_prints_what_it_did(capsys):
    call_command("sweep")
    assert '"workers_lost": []' in capsys.readouterr().out


@pytest.mark.django_db
def test_a_run_its_live_worker_no_longer_holds_goes_back_to_the_queue(team, members):
    worker("w@host:20")  # alive: only its pool process died
    run = running_run(team, members[Role.RUNNER], worker="w@host:20/4242")
    held = running_run(team, members[Role.RUNNER], worker="w@host:20/4343")
    other = running_run(team, members[Role.RUNNER], worker="else@host:21/1")

    released = release_unheld_runs("w@host:20", lambda: {str(held.pk)})

    assert released == [str(run.pk)]
    run.refresh_from_db()
    assert (run.status, run.worker, run.last_seq) == ("queued", "", 4)
    event = RunEvent.objects.get(run=run, seq=4)
    assert event.type == "run_requeued"
    assert event.data["reason"] == "worker_process_lost" and event.data["previous_worker"] == "w@host:20/4242"
    assert Run.objects.get(pk=held.pk).status == "running"
    assert Run.objects.get(pk=other.pk).status == "running"


@pytest.mark.django_db(transaction=True)
def test_a_dispatched_run_whose_message_is_gone_is_dispatched_again_and_ends(
    team, members, settings, monkeypatch, wait_for_run
):
    from backend.runs.dispatch import get_dispatcher

    settings.FLOWYARD_DISPATCH_GRACE_SECONDS = 30
    long_ago = timezone.now() - timedelta(seconds=31)
    make = dict(workspace=team, graph=chain(2), created_by=members[Role.RUNNER], dispatched=long_ago)
    lost = Run.objects.create(**make)
    carried = Run.objects.create(**make)
    recent = Run.objects.create(**{**make, "dispatched": timezone.now()})
    for run in (lost, carried, recent):
        for position, (node_id, node_type) in enumerate([("1", "test.Inc"), ("2", "test.Inc")]):
            NodeRun.objects.create(run=run, node_id=node_id, node_type=node_type, position=position)
    monkeypatch.setattr(type(get_dispatcher()), "carried_run_ids", lambda self: {str(carried.pk)})

    assert sweep()["redispatched"] == [str(lost.pk)]

    assert wait_for_run(lost.pk).status == "succeeded"
    assert Run.objects.get(pk=carried.pk).status == "queued"  # its message is still on its way
    assert Run.objects.get(pk=recent.pk).status == "queued"  # within the grace period


def test_a_database_blip_is_retried_and_other_errors_are_not(settings):
    from django.db import IntegrityError, OperationalError

    from backend.runs.retries import retry_database

    settings.FLOWYARD_DB_RETRY_SECONDS = 5
    calls: list[str] = []

    def blip():
        calls.append("blip")
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return "written"

    def broken():
        calls.append("broken")
        raise IntegrityError("duplicate key value violates unique constraint")

    def down():
        raise OperationalError("connection refused")

    assert retry_database(blip, "a write") == "written" and calls == ["blip"] * 3
    with pytest.raises(IntegrityError):
        retry_database(broken, "a write")
    assert calls.count("broken") == 1  # not a connection error: retrying cannot help
    with pytest.raises(OperationalError):
        retry_database(down, "a write", seconds=0.5)  # the outage outlasts the budget: the error goes up


@pytest.mark.django_db
def test_the_loop_presumes_no_worker_dead_until_it_has_reached_the_database_for_a_lost_period(
    team, members, settings
):
    settings.FLOWYARD_WORKER_LOST_SECONDS = 30
    worker(silent_for=31)  # its heartbeats failed during the outage too
    run = running_run(team, members[Role.RUNNER])
    loop = Reconciler("me@host:1", None, every=1)

    loop.database_lost()  # this loop's own last pass failed
    assert loop.run_once()["workers_lost"] == []
    assert Run.objects.get(pk=run.pk).status == "running"

    loop.database_lost(at=time.monotonic() - 31)  # reached it for a whole lost period since
    assert loop.run_once()["workers_lost"] == [DEAD]
    assert Run.objects.get(pk=run.pk).status == "queued"


@pytest.mark.django_db
def test_a_run_that_could_not_be_claimed_gives_its_message_back(team, members, monkeypatch):
    from celery.exceptions import Reject
    from django.db import OperationalError

    from backend.runs import execution
    from backend.runs.tasks import execute_run_task

    run = Run.objects.create(workspace=team, graph=chain(1), created_by=members[Role.RUNNER])

    def database_down(run_id, worker_name):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(execution, "_claim", database_down)
    with pytest.raises(Reject) as rejected:
        execute_run_task(str(run.pk))
    assert rejected.value.requeue is True  # back to the queue, not acknowledged
    assert Run.objects.get(pk=run.pk).status == "queued"
