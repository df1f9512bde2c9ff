"""Validating an uploaded pack version outside the web process.

``enqueue_validation`` runs after the upload's transaction commits: a Celery task (``FLOWYARD_DISPATCHER=
celery``) or a thread of this process (the embedded default). Either way ``validate_pack_version`` claims the
version with a conditional UPDATE, copies the archive from the blob store to a private temporary file and
runs ``validate_archive_in_subprocess`` (a child under CPU, memory, file-size and wall-time limits: archive
checks and the static scan, no pack code). When those pass, the pack is imported in a one-off host inside the
pack sandbox (``inspect_archive``): its node schemas are recorded, and a failing import, a node id outside
``<pack>.`` or no nodes reject the version. That is the only place validation runs pack code. Where the
sandbox is unavailable the import is skipped (and said so in the report): such a server refuses to run
uploaded packs anyway. ``FLOWYARD_PACK_IMPORT_CHECK=false`` skips it too.
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

from backend.celery import app as celery_app
from backend.registry.actions import do_record_validation
from backend.registry.archives import read_text_file, render_readme
from backend.registry.models import NodePackVersion
from backend.storage.blobs import BlobNotFound, get_blob_store
from workers.packs.limits import Limits
from workers.packs.validate import validate_archive_in_subprocess
from workers.runtime.packhost.remote import inspect_archive
from workers.runtime.packhost.sandbox import SandboxUnavailable

logger = logging.getLogger(__name__)
# The Celery task that runs ``validate_pack_version`` on a worker (backend/registry/tasks.py), sent by name.
VALIDATE_TASK = "flowyard.validate_pack_version"
# A claim older than this belongs to a validator that died: another delivery may take the version over.
STALE_CLAIM = timedelta(minutes=10)


def server_limits() -> Limits:
    """The limits uploads are validated with. The child never imports the pack: that happens sandboxed."""
    return Limits(import_check=False)


def _import_in_sandbox(path: Path, sha256: str, data: dict) -> None:
    """Import the validated archive in the pack sandbox; add its problems or node schemas to ``data``."""
    if not settings.FLOWYARD_PACK_IMPORT_CHECK:
        data["import_skipped"] = "FLOWYARD_PACK_IMPORT_CHECK is off"
        return
    from backend.registry.runtime import pack_environments

    try:
        problems, nodes = inspect_archive(pack_environments(), path, sha256)
    except SandboxUnavailable as exc:
        logger.warning("pack %s not imported at validation: %s", path.name, exc)
        data["import_skipped"] = str(exc)
        return
    entry = ((data.get("manifest") or {}).get("entry") or "").replace(".", "/")
    names = {item["path"] for item in data.get("files") or []}
    entry_file = next((n for n in (f"{entry}/__init__.py", f"{entry}.py") if n in names), None)
    for problem in problems:
        data["errors"].append({"file": entry_file, **problem})
    data["import_checked"] = True
    data["nodes"] = nodes
    data["ok"] = not data["errors"]


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
            missing: dict[str, object] = {
                "ok": False,
                "errors": [{"code": "archive-missing", "message": "the uploaded archive is gone"}],
            }
            recorded = do_record_validation(version_id, missing)
            return recorded.status if recorded else None
        report = validate_archive_in_subprocess(path, limits, timeout=limits.wall_seconds)
        data = report.model_dump(mode="json")
        if report.ok:
            _import_in_sandbox(path, version.archive_sha256, data)
        readme_html, changelog = ("", "")
        if data["ok"]:
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
            celery_app.send_task(
                VALIDATE_TASK, args=[version_id], queue=settings.FLOWYARD_CPU_QUEUE, ignore_result=True
            )
        else:
            threading.Thread(
                target=_validate_in_thread,
                args=(version_id,),
                name=f"pack-validate-{version_id}",
                daemon=True,
            ).start()

    transaction.on_commit(send)
