"""Celery tasks: thin wrappers that take ids and call the same code the embedded thread calls.

Senders address them by name (``VALIDATE_TASK``) and never import this module; a worker finds it through
``autodiscover_tasks`` (backend/celery.py).
"""

from __future__ import annotations

from celery import shared_task

from backend.registry.validation import VALIDATE_TASK, validate_pack_version


@shared_task(name=VALIDATE_TASK, ignore_result=True)
def validate_pack_version_task(version_id: int) -> str | None:
    """Validate an uploaded pack version in a limited child process and record the verdict."""
    return validate_pack_version(version_id)
