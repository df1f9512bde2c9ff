"""Every write to workflows and their versions; each runs in one transaction.

An action that callers use on its own is durable (``atomic(durable=True)``): called inside another transaction
it raises instead of quietly becoming part of it, so what it wrote is committed when it returns.
``do_create_workflow`` is not: forks and built-in templates create a workflow inside their own transaction.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User, Workspace
from backend.workflows.documents import Document
from backend.workflows.models import Workflow, WorkflowVersion
from backend.workflows.signals import version_saved


def _add_version(workflow: Workflow, user: User | None, document: Document, message: str) -> WorkflowVersion:
    from backend.registry.installs import installed_packs_used

    latest = workflow.versions.order_by("-number").values_list("number", flat=True).first() or 0
    # The installed pack versions it was built with, pinned for its runs; a restored or forked document
    # keeps the pins it came with.
    packs = {**installed_packs_used(workflow.workspace_id, document.graph), **document.packs}
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        number=latest + 1,
        graph=document.graph,
        layout=document.layout,
        content_hash=document.content_hash,
        packs=dict(sorted(packs.items())),
        author=user,
        message=message,
    )
    Workflow.objects.filter(pk=workflow.pk).update(updated=version.created)
    workflow.updated = version.created
    return version


@transaction.atomic  # not durable: do_fork_workflow and do_create_from_builtin run it inside theirs
def do_create_workflow(
    user: User,
    workspace: Workspace,
    name: str,
    document: Document,
    *,
    description: str = "",
    message: str = "",
    visibility: str = Workflow.Visibility.TEAM,
    forked_from: WorkflowVersion | None = None,
) -> Workflow:
    """Create a workflow with version 1 holding ``document``."""
    workflow = Workflow.objects.create(
        workspace=workspace,
        name=name,
        description=description,
        visibility=visibility,
        forked_from=forked_from,
        created_by=user,
    )
    _add_version(workflow, user, document, message)
    return workflow


@transaction.atomic(durable=True)
def do_save_version(
    workflow: Workflow, user: User, document: Document, message: str = "", *, source: str = "save"
) -> tuple[WorkflowVersion, bool]:
    """Save ``document`` as the next version; returns (version, created). Unchanged content returns the
    latest version as is. ``source`` (``save``, ``draft``, ``restore``) goes with ``version_saved``, sent on
    commit: a version that did not come from the co-edited draft becomes the draft's content."""
    # Lock the workflow row so two saves cannot take the same number.
    Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
    latest = workflow.versions.order_by("-number").first()
    if latest is not None and latest.content_hash == document.content_hash:
        version, created = latest, False
    else:
        version, created = _add_version(workflow, user, document, message), True
    transaction.on_commit(
        lambda: version_saved.send_robust(
            sender=WorkflowVersion, version=version, created=created, source=source
        )
    )
    return version, created


def do_restore_version(
    workflow: Workflow, user: User, version: WorkflowVersion
) -> tuple[WorkflowVersion, bool]:
    """Save an old version's content as the newest version."""
    document = Document(version.graph, version.layout, version.content_hash, version.packs)
    return do_save_version(workflow, user, document, f"Restored version {version.number}", source="restore")


@transaction.atomic(durable=True)
def do_fork_workflow(user: User, source: WorkflowVersion, workspace: Workspace, name: str) -> Workflow:
    """Copy ``source`` into ``workspace`` as a new workflow that remembers where it came from.

    The fork keeps the source workflow's visibility, so a private workflow stays private when copied.
    """
    document = Document(source.graph, source.layout, source.content_hash, source.packs)
    return do_create_workflow(
        user,
        workspace,
        name,
        document,
        description=source.workflow.description,
        message=f"Forked from {source.workflow.name} v{source.number}",
        visibility=source.workflow.visibility,
        forked_from=source,
    )


@transaction.atomic(durable=True)
def do_update_workflow(workflow: Workflow, user: User, **changes: Any) -> Workflow:
    """Change name, description, is_template or is_site_template (the last only by site admins)."""
    allowed = {"name", "description", "is_template", "is_site_template"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    site_change = changes.get("is_site_template", workflow.is_site_template) != workflow.is_site_template
    if site_change and not user.is_site_admin:
        message = "Only site admins may add workflows to, or remove them from, the site-wide gallery."
        raise ApiError(message, [{"field": "is_site_template", "message": message}], status_code=403)
    for field, value in changes.items():
        setattr(workflow, field, value)
    workflow.updated = timezone.now()
    workflow.save(update_fields=[*changes, "updated"])
    return workflow


@transaction.atomic(durable=True)
def do_set_visibility(workflow: Workflow, visibility: str) -> Workflow:
    workflow.visibility = visibility
    workflow.save(update_fields=["visibility"])
    return workflow


@transaction.atomic(durable=True)
def do_set_public(workflow: Workflow, public: bool) -> Workflow:
    """Publish a read-only link (a new unguessable token) or revoke it; revoked tokens never come back."""
    if public and workflow.public_token is None:
        workflow.public_token = secrets.token_urlsafe(32)
    elif not public:
        workflow.public_token = None
    workflow.save(update_fields=["public_token"])
    return workflow


@transaction.atomic(durable=True)
def do_delete_workflow(workflow: Workflow) -> None:
    """Delete a workflow and its versions; forks of it keep their content and lose the link."""
    workflow.delete()
