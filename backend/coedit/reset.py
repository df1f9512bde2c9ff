"""Reset the draft to a saved version for everyone, as one Yjs update rather than a fresh document.

A version that reaches the workflow another way than through the draft (a restore, or a save through the old
``PUT``/``POST`` of a version by the API or an old client) becomes the draft's content: the change is made *on*
the draft's Y.Doc (keys set and deleted, lists replaced) and stored as an ordinary ``DraftUpdate``, then sent to
the workflow's group as any accepted update is. Every connected editor sees the graph change live, a tab that
was offline merges its own later edits on top of it, and no later draft save can bring the old content back
(an emptied and refilled snapshot would: a client still holding the old document would send it all back).

The diff walks the shared types generically (maps key by key, arrays as whole values), so it follows whatever
``document.py`` maps the document to.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from pycrdt import Array, Doc, Map, TransactionEvent

from backend.coedit import store
from backend.coedit.document import doc_from_document
from backend.coedit.models import DraftSnapshot
from backend.workflows.models import WorkflowVersion

logger = logging.getLogger(__name__)

RESET_ORIGIN = "reset"


def _copy(value: Any) -> Any:
    """A value of one document made fit to insert into another (shared types become new preliminary ones)."""
    if isinstance(value, Map):
        return Map({key: _copy(item) for key, item in value.items()})
    if isinstance(value, Array):
        return Array([_copy(item) for item in value])
    return value


def _plain(value: Any) -> Any:
    """A comparable form of a value: leaves are JSON text, compared as the values they hold."""
    if isinstance(value, Map):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Array):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _reset_map(current: Map, target: Map) -> None:
    for key in [key for key in current.keys() if key not in target]:  # noqa: SIM118 (typed on keys() only)
        del current[key]
    for key, wanted in target.items():
        have = current.get(key)
        if isinstance(have, Map) and isinstance(wanted, Map):
            _reset_map(have, wanted)
        elif isinstance(have, Array) and isinstance(wanted, Array):
            _reset_array(have, wanted)
        elif key not in current or _plain(have) != _plain(wanted) or type(have) is not type(wanted):
            current[key] = _copy(wanted)


def _reset_array(current: Array, target: Array) -> None:
    if _plain(current) == _plain(target):
        return
    del current[0 : len(current)]
    current.extend([_copy(item) for item in target])


def reset_doc(doc: Doc, graph: dict[str, Any], layout: dict[str, Any] | None) -> bytes | None:
    """Change ``doc`` in one transaction so that it holds the document ``(graph, layout)``; returns the update
    that made the change, None when it already held it."""
    target = doc_from_document(graph, layout)
    changed: list[bytes] = []

    def keep(event: TransactionEvent) -> None:
        changed.append(event.update)

    subscription = doc.observe(keep)
    try:
        with doc.transaction(origin=RESET_ORIGIN):
            for name in list(target.keys()):  # noqa: SIM118
                wanted = target[name]
                have = doc.get(name, type=type(wanted))
                if isinstance(wanted, Map):
                    _reset_map(have, wanted)
                else:
                    _reset_array(have, wanted)
    finally:
        doc.unobserve(subscription)
    return changed[0] if changed and changed[0] != b"\x00\x00" else None


def reset_draft_to_version(version: WorkflowVersion) -> int | None:
    """Make ``version`` the draft's content (when the workflow has a draft); returns the stored update's id,
    None when there was no draft or it already held that content. The update is published on commit."""
    workflow_id = version.workflow_id
    with transaction.atomic():
        # The snapshot's row lock orders this against compaction and another reset.
        snapshot = DraftSnapshot.objects.select_for_update().filter(workflow_id=workflow_id).first()
        if snapshot is None:
            return None  # nobody co-edited yet: the draft will be made from the latest version
        doc = store.draft_doc(workflow_id)
        update = reset_doc(doc, version.graph, version.layout)
        DraftSnapshot.objects.filter(workflow_id=workflow_id).update(base_version=version.number)
        if update is None:
            return None
        pk = store.append_update(workflow_id, version.author_id, update)
        transaction.on_commit(lambda: publish_update(workflow_id, pk, update))
    return pk


def publish_update(workflow_id: int, pk: int, update: bytes) -> None:
    """Send a stored update to the workflow's rooms (in every process), as a writer's socket does."""
    from backend.coedit.rooms import group_name
    from backend.runs.publish import publish_messages

    message = {"type": "coedit.update", "id": pk, "update": update, "sender": ""}
    publish_messages([(group_name(workflow_id), message)])
