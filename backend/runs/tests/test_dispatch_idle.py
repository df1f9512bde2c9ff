"""The local dispatcher's ``wait_idle``: it waits while a run executes and returns once the last one finished."""

from __future__ import annotations

import threading

from backend.runs.dispatch import LocalDispatcher


def test_wait_idle_waits_for_every_submitted_run() -> None:
    release = threading.Event()
    finished: list[str] = []

    def execute(run_id: object, worker: str) -> None:
        release.wait(30)
        finished.append(str(run_id))

    dispatcher = LocalDispatcher(2, execute, lambda run_id: None)
    assert dispatcher.wait_idle(0)  # nothing submitted
    dispatcher.submit("a")
    dispatcher.submit("b")
    assert not dispatcher.wait_idle(0.1)  # both still executing
    assert dispatcher.carried_run_ids() == {"a", "b"}
    release.set()
    assert dispatcher.wait_idle(30)
    assert sorted(finished) == ["a", "b"] and dispatcher.busy() == 0
    dispatcher._pool.shutdown()
