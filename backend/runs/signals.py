"""Signals other apps subscribe to, sent by the runs app after the transaction that made the change commits.

Receivers must be quick and must not raise: a receiver that has slow work to do (a webhook delivery) records it
in the database and hands it to Celery (or the embedded dispatcher) instead of doing it in the sender's thread.

- ``run_finished(sender=Run, run_id=..., status=...)``: a run reached a terminal status (succeeded, failed,
  cancelled, or any terminal status added later).
- ``approval_requested(sender=Run, run_id=..., approval_id=...)``: a run paused at an approval step and waits for
  an approver's decision.
"""

from __future__ import annotations

from django.dispatch import Signal

run_finished = Signal()
approval_requested = Signal()
