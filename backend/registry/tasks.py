"""Celery tasks: thin wrappers that take ids and call the same code the embedded thread calls."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="flowyard.validate_pack_version", ignore_result=True)
def validate_pack_version_task(version_id: int) -> str | None:
    """Validate an uploaded pack version in a limited child process and record the verdict."""
    from backend.registry.validation import validate_pack_version

    return validate_pack_version(version_id)
