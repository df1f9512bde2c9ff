"""Validating an uploaded pack version outside the web process.

``enqueue_validation`` runs after the upload's transaction commits: a Celery task (``FLOWYARD_DISPATCHER=
celery``) or a thread of this process (the embedded default). Either way ``validate_pack_version`` claims the
version with a conditional UPDATE, copies the archive from the blob store to a private temporary file and
runs ``validate_archive_in_subprocess`` (a child under CPU, memory, file-size and wall-time limits), then
records the report. The import check executes pack code, so it stays off (``FLOWYARD_PACK_IMPORT_CHECK``)
until it can run inside the isolated pack host.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from backend.registry.actions import do_record_validation
from backend.registry.archives import read_text_file, render_readme
from backend.registry.models import NodePackVersion
from backend.storage.blobs import BlobNotFound, get_blob_store
from workers.packs.limits import Limits
from workers.packs.validate import validate_archive_in_subprocess

logger = logging.getLogger(__name__)
# A claim older than this belongs to a validator that died: another delivery may take the version over.
STALE_CLAIM = timedelta(minutes=10)


def server_limits() -> Limits:
    """The limits uploads are validated with (import check per ``FLOWYARD_PACK_IMPORT_CHECK``)."""
    return Limits(import_check=settings.FLOWYARD_PACK_IMPORT_CHECK)


def _claim(version_id: int) -> bool:
    """Take the version for validation with one conditional UPDATE; False when another validator has it."""
    now = timezone.now()
    unclaimed = Q(validation_started__isnull=True) | Q(validation_started__lt=now - STALE_CLAIM)
    return bool(
        NodePackVersion.objects.filter(unclaimed, pk=version_id, validated_at__isnull=True).update(
            validation_started=now
        )
    )


def _readme_and_changelog(path: Path, version: NodePackVersion, files: list[dict]) -> tuple[str, str]:
    hashes = {item["path"]: item["sha256"] for item in files}
    manifest = version.manifest
    readme_name = manifest.get("readme") or "README.md"
    readme = read_text_file(path, readme_name, hashes.get(readme_name)) if readme_name in hashes else ""
    changelog_name = manifest.get("changelog")
    changelog = (
        read_text_file(path, changelog_name, hashes.get(changelog_name))
        if changelog_name and changelog_name in hashes
        else ""
    )
    return (render_readme(readme) if readme else ""), changelog


def validate_pack_version(version_id: int) -> str | None:
    """Validate the version's archive in a limited child and record the verdict; returns the new status.

    Delivering the same id twice is harmless: the claim lets one validator in, and a decided version is left
    alone.
    """
    if not _claim(version_id):
        return None
    version = NodePackVersion.objects.select_related("pack").get(pk=version_id)
    limits = server_limits()
    with tempfile.TemporaryDirectory(prefix="flowyard-pack-") as folder:
        path = Path(folder) / f"{version.pack.name}-{version.version}.flowyard.zip"
        try:
            with get_blob_store().open(version.archive_sha256) as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
        except BlobNotFound:
            report = {
                "ok": False,
                "errors": [{"code": "archive-missing", "message": "the uploaded archive is gone"}],
            }
            recorded = do_record_validation(version_id, report)
            return recorded.status if recorded else None
        report = validate_archive_in_subprocess(path, limits, timeout=limits.wall_seconds)
        data = report.model_dump(mode="json")
        readme_html, changelog = ("", "")
        if report.ok:
            readme_html, changelog = _readme_and_changelog(path, version, data["files"])
    recorded = do_record_validation(version_id, data, readme_html, changelog)
    return recorded.status if recorded else None


def _validate_in_thread(version_id: int) -> None:
    try:
        validate_pack_version(version_id)
    except Exception:
        logger.exception("validating pack version %s failed", version_id)
    finally:
        connections.close_all()


def enqueue_validation(version_id: int) -> None:
    """After the current transaction commits, hand the version to a validator (Celery task or thread)."""

    def send() -> None:
        if settings.FLOWYARD_DISPATCHER == "celery":
            from backend.registry.tasks import validate_pack_version_task

            validate_pack_version_task.apply_async(args=[version_id], queue=settings.FLOWYARD_CPU_QUEUE)
        else:
            threading.Thread(
                target=_validate_in_thread,
                args=(version_id,),
                name=f"pack-validate-{version_id}",
                daemon=True,
            ).start()

    transaction.on_commit(send)
