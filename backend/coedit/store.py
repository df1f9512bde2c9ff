"""The draft in the database: made once from the latest version, appended to, compacted, read back.

Any web process may append while another compacts: compaction merges and deletes exactly the rows it read (by
id, under the snapshot's row lock), and Yjs updates are idempotent and commute, so a row merged twice or applied
in any order gives the same document.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from pycrdt import Doc

from backend.coedit.document import doc_from_document, document_from_doc
from backend.coedit.models import DraftSnapshot, DraftUpdate
from backend.workflows.models import Workflow


def ensure_draft(workflow_id: int) -> None:
    """Make the workflow's draft from its latest version unless it has one (once: the workflow row is locked, so
    two processes never seed two copies of the same nodes)."""
    if DraftSnapshot.objects.filter(workflow_id=workflow_id).exists():
        return
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow_id)
        if DraftSnapshot.objects.filter(workflow_id=workflow_id).exists():
            return
        latest = workflow.latest_version()
        graph, layout = (latest.graph, latest.layout) if latest else ({"nodes": {}}, {})
        doc = doc_from_document(graph, layout)
        DraftSnapshot.objects.create(
            workflow=workflow, state=doc.get_update(), base_version=latest.number if latest else None
        )


def load_draft(workflow_id: int) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The snapshot and the updates stored after it, in order."""
    state, _, updates = load_draft_counted(workflow_id)
    return state, updates


def load_draft_counted(workflow_id: int) -> tuple[bytes, int, list[tuple[int, bytes]]]:
    """The snapshot, how many updates compaction folded into it so far, and the updates stored after it."""
    ensure_draft(workflow_id)
    with transaction.atomic():
        state, merged = DraftSnapshot.objects.values_list("state", "updates_merged").get(
            workflow_id=workflow_id
        )
        updates = [
            (pk, bytes(update))
            for pk, update in DraftUpdate.objects.filter(workflow_id=workflow_id)
            .order_by("id")
            .values_list("id", "update")
        ]
    return bytes(state), merged, updates


def load_missing(
    workflow_id: int, known: set[int], merged: int
) -> tuple[bytes | None, int, list[tuple[int, bytes]]]:
    """What a room may have missed: the snapshot when compaction folded updates since it last looked (its
    ``updates_merged`` differs from ``merged``), and the stored updates whose ids are not in ``known``."""
    with transaction.atomic():
        row = (
            DraftSnapshot.objects.filter(workflow_id=workflow_id)
            .values_list("state", "updates_merged")
            .first()
        )
        ids = set(DraftUpdate.objects.filter(workflow_id=workflow_id).values_list("id", flat=True)) - known
        updates = [
            (pk, bytes(update))
            for pk, update in DraftUpdate.objects.filter(id__in=ids)
            .order_by("id")
            .values_list("id", "update")
        ]
    if row is None:
        return None, merged, updates
    state, now_merged = row
    return (bytes(state) if now_merged != merged else None), now_merged, updates


def draft_doc(workflow_id: int) -> Doc:
    """The draft as a Y.Doc, read from the database."""
    state, updates = load_draft(workflow_id)
    doc: Doc[Any] = Doc()
    doc.apply_update(state)
    for _, update in updates:
        doc.apply_update(update)
    return doc


def draft_document(workflow_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draft as a JSON document ``(graph, layout)``."""
    return document_from_doc(draft_doc(workflow_id))


def append_update(workflow_id: int, user_id: int | None, update: bytes) -> int:
    """Store one accepted update; returns its id (the order the room applies it in)."""
    return DraftUpdate.objects.create(workflow_id=workflow_id, user_id=user_id, update=update).id


def compact(workflow_id: int) -> int:
    """Fold the stored updates into the snapshot; returns how many were folded."""
    with transaction.atomic(durable=True):
        snapshot = DraftSnapshot.objects.select_for_update().filter(workflow_id=workflow_id).first()
        if snapshot is None:
            return 0
        rows = list(
            DraftUpdate.objects.filter(workflow_id=workflow_id).order_by("id").values_list("id", "update")
        )
        if not rows:
            return 0
        doc: Doc[Any] = Doc()
        doc.apply_update(bytes(snapshot.state))
        for _, update in rows:
            doc.apply_update(bytes(update))
        snapshot.state = doc.get_update()
        snapshot.updates_merged += len(rows)
        snapshot.updated = timezone.now()
        snapshot.save(update_fields=["state", "updates_merged", "updated"])
        DraftUpdate.objects.filter(id__in=[pk for pk, _ in rows]).delete()
    return len(rows)


def reset_draft(workflow_id: int) -> None:
    """Forget the draft (the next co-editor starts again from the latest version)."""
    with transaction.atomic():
        DraftUpdate.objects.filter(workflow_id=workflow_id).delete()
        DraftSnapshot.objects.filter(workflow_id=workflow_id).delete()
