"""Every write to publishers, packs, versions and installs; each runs in one transaction.

Actions trust that the caller loaded the objects through access.py (which checked who may see and manage
them); they keep the rules that depend on state: versions only go up, only active non-yanked versions are
installed, a review only moves pending or flagged versions.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from backend.accounts.exceptions import ApiError
from backend.accounts.models import User, Workspace
from backend.registry.models import NodePack, NodePackVersion, Publisher, TeamPackInstall, parse_version
from nodepacks.sdk.manifest import Manifest

Status = NodePackVersion.Status
PUBLISHER_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,37}[a-z0-9])?$")
# Path segments of /api/packs/<name> that a pack may not be called, and the built-in packs' names.
RESERVED_PACK_NAMES = frozenset({"upload", "review", "versions", "core", "modelscope", "flowyard"})


def _reserved(name: str) -> bool:
    from workers.engine.registry import default_registry

    return name in RESERVED_PACK_NAMES or name in default_registry().packs


# Publishers


@transaction.atomic(durable=True)
def do_create_publisher(
    user: User, slug: str, display_name: str = "", workspace: Workspace | None = None
) -> Publisher:
    """Create a publisher for ``user`` or, with ``workspace`` (a team the caller administers), for that team."""
    if not PUBLISHER_SLUG.match(slug or ""):
        raise ApiError(
            "A publisher id is 2-39 of a-z, 0-9 and '-', not starting or ending with '-'.",
            [{"field": "slug", "message": "2-39 of a-z 0-9 -"}],
        )
    owner: dict[str, User | Workspace] = {"workspace": workspace} if workspace is not None else {"user": user}
    if Publisher.objects.filter(**owner).exists():
        raise ApiError(
            "This team already has a publisher." if workspace else "You already have a publisher.",
            status_code=409,
        )
    try:
        with transaction.atomic():
            return Publisher.objects.create(slug=slug, display_name=display_name or slug, **owner)
    except IntegrityError:
        raise ApiError(
            f"The publisher id {slug!r} is taken.", [{"field": "slug", "message": "taken"}], status_code=409
        ) from None


@transaction.atomic(durable=True)
def do_update_publisher(publisher: Publisher, **changes: Any) -> Publisher:
    """Change ``display_name`` (publisher managers) or ``trusted`` (site admins; the view checks)."""
    for field, value in changes.items():
        setattr(publisher, field, value)
    if changes:
        publisher.save(update_fields=list(changes))
    return publisher


# Uploads


@transaction.atomic(durable=True)
def do_upload_version(
    user: User,
    publisher: Publisher,
    manifest: Manifest,
    archive_sha256: str,
    archive_size: int,
    visibility: str | None = None,
) -> NodePackVersion:
    """Record an uploaded archive as a PENDING version (the validator decides what it becomes).

    Creates the pack on its first upload. Refuses (409) a name taken by another publisher, a version that
    exists, and a version not greater than the pack's latest; a rejected version's number may be reused.
    """
    if _reserved(manifest.name):
        raise ApiError(
            f"The pack name {manifest.name!r} is reserved; choose another name in flowyard.toml.",
            [{"field": "name", "message": "reserved"}],
            status_code=409,
        )
    new_version = parse_version(manifest.version)
    if new_version is None:
        raise ApiError(f"{manifest.version!r} is not a version Flowyard can compare (use 1.2.0).")
    pack = NodePack.objects.select_for_update().filter(name=manifest.name).first()
    if pack is None:
        try:
            with transaction.atomic():
                pack = NodePack.objects.create(
                    publisher=publisher,
                    name=manifest.name,
                    display_name=manifest.display_name,
                    description=manifest.description,
                    visibility=visibility or NodePack.Visibility.PUBLIC,
                    categories=list(manifest.categories),
                    homepage=manifest.homepage or "",
                )
        except IntegrityError:
            raise ApiError(
                f"Another upload of {manifest.name!r} is in progress; retry.", status_code=409
            ) from None
    elif pack.publisher_id != publisher.pk:
        raise ApiError(
            f"The pack name {manifest.name!r} belongs to another publisher; choose another name.",
            [{"field": "name", "message": "taken by another publisher"}],
            status_code=409,
        )
    existing = list(pack.versions.all())
    same = next((v for v in existing if v.sort_key == new_version), None)
    if same is not None and same.status != Status.REJECTED:
        raise ApiError(
            f"{pack.name} {same.version} already exists ({same.status}); versions are immutable: "
            "bump the version in flowyard.toml and publish again.",
            [{"field": "version", "message": "already exists"}],
            status_code=409,
        )
    kept = [v for v in existing if v.status != Status.REJECTED]
    latest = max(kept, key=lambda v: v.sort_key, default=None)
    if latest is not None and new_version <= latest.sort_key:
        raise ApiError(
            f"{pack.name} {manifest.version} is not greater than the latest version {latest.version}; "
            "publish a higher version.",
            [{"field": "version", "message": f"must be greater than {latest.version}"}],
            status_code=409,
        )
    if same is not None:
        # A rejected upload never became installable; its number is free for the fixed archive.
        same.delete()
    version = NodePackVersion.objects.create(
        pack=pack,
        version=manifest.version,
        archive_sha256=archive_sha256,
        archive_size=archive_size,
        manifest=manifest.summary(),
        uploaded_by=user,
    )
    NodePack.objects.filter(pk=pack.pk).update(
        display_name=manifest.display_name,
        description=manifest.description,
        categories=list(manifest.categories),
        homepage=manifest.homepage or "",
        updated=timezone.now(),
    )
    version.pack = pack
    return version


def _summary_of_errors(errors: list[dict[str, Any]]) -> str:
    shown = "; ".join(str(error.get("message", error.get("code", "?"))) for error in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"validation failed with {len(errors)} error(s): {shown}{more}"


@transaction.atomic(durable=True)
def do_record_validation(
    version_id: int, report: dict[str, Any], readme_html: str = "", changelog: str = ""
) -> NodePackVersion | None:
    """Store the validator's report and decide the status; None when the version is gone or was decided.

    errors → REJECTED (the errors say why); a high finding → FLAGGED (a site admin reviews); clean → ACTIVE
    for a trusted publisher, else PENDING until a site admin approves.
    """
    version = (
        NodePackVersion.objects.select_for_update()
        .select_related("pack__publisher")
        .filter(pk=version_id, validated_at__isnull=True)
        .first()
    )
    if version is None:
        return None
    errors = list(report.get("errors") or [])
    if report.get("sha256") and report["sha256"] != version.archive_sha256:
        errors.append({"code": "archive-changed", "message": "the validated archive is not the uploaded one"})
    manifest = report.get("manifest") or {}
    for field in ("name", "version"):
        expected = getattr(version.pack, "name", None) if field == "name" else version.version
        if manifest and manifest.get(field) != expected:
            errors.append(
                {
                    "code": "manifest-changed",
                    "message": f"manifest {field} {manifest.get(field)!r} != {expected!r}",
                }
            )
    version.findings = list(report.get("findings") or [])
    version.errors = errors
    version.files = list(report.get("files") or [])
    version.report = report
    version.validated_at = timezone.now()
    fields = ["findings", "errors", "files", "report", "validated_at", "status", "review_note"]
    if report.get("import_checked") and not errors:
        version.nodes = list(report.get("nodes") or [])
        version.nodes_recorded_at = version.validated_at
        fields += ["nodes", "nodes_recorded_at"]
    if errors:
        version.status = Status.REJECTED
        version.review_note = _summary_of_errors(errors)
    elif report.get("flagged"):
        version.status = Status.FLAGGED
        version.review_note = "High-severity scan findings: held for a site admin's review."
    elif version.pack.publisher.trusted:
        version.status = Status.ACTIVE
        version.review_note = "Clean, from a trusted publisher: activated automatically."
    else:
        version.status = Status.PENDING
        version.review_note = "Clean; waiting for a site admin's review (the publisher is not trusted)."
    if readme_html or changelog:
        version.readme_html, version.changelog = readme_html, changelog
        fields += ["readme_html", "changelog"]
    version.save(update_fields=fields)
    return version


@transaction.atomic  # not durable: load_packs records schemas, and callers may hold a transaction
def do_record_node_schemas(version: NodePackVersion, nodes: list[dict[str, Any]]) -> NodePackVersion:
    """Record the node schemas the isolated pack host found when it loaded this version (first load wins)."""
    version.nodes = nodes
    version.nodes_recorded_at = timezone.now()
    version.save(update_fields=["nodes", "nodes_recorded_at"])
    return version


# Review (site admins) and the publisher's own controls


def _review(version: NodePackVersion, reviewer: User, status: str, note: str) -> NodePackVersion:
    if not version.is_validated():
        raise ApiError(
            "This version is still being validated; review it once the report is in.", status_code=409
        )
    if version.status not in (Status.PENDING, Status.FLAGGED):
        raise ApiError(
            f"Only pending or flagged versions are reviewed; this one is {version.status}.", status_code=409
        )
    version.status = status
    version.review_note = note
    version.reviewed_by = reviewer
    version.reviewed_at = timezone.now()
    version.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at"])
    return version


@transaction.atomic(durable=True)
def do_approve_version(version: NodePackVersion, reviewer: User, note: str = "") -> NodePackVersion:
    """A site admin makes a pending or flagged version active."""
    return _review(version, reviewer, Status.ACTIVE, note or f"Approved by {reviewer.username}.")


@transaction.atomic(durable=True)
def do_reject_version(version: NodePackVersion, reviewer: User, reason: str) -> NodePackVersion:
    """A site admin rejects a pending or flagged version, saying why (the publisher sees the reason)."""
    if not reason.strip():
        raise ApiError("Say why the version is rejected.", [{"field": "reason", "message": "required"}])
    return _review(version, reviewer, Status.REJECTED, f"Rejected by {reviewer.username}: {reason.strip()}")


@transaction.atomic(durable=True)
def do_yank_version(version: NodePackVersion, reason: str = "") -> NodePackVersion:
    """No new installs of this version; workspaces that pinned it keep it (and are told)."""
    version.yanked, version.yank_reason = True, reason.strip()[:500]
    version.save(update_fields=["yanked", "yank_reason"])
    return version


@transaction.atomic(durable=True)
def do_unyank_version(version: NodePackVersion) -> NodePackVersion:
    version.yanked, version.yank_reason = False, ""
    version.save(update_fields=["yanked", "yank_reason"])
    return version


@transaction.atomic(durable=True)
def do_deprecate_version(version: NodePackVersion, message: str) -> NodePackVersion:
    """Mark a version deprecated with a message (empty clears it); it stays installable."""
    version.deprecated = message.strip()[:500]
    version.save(update_fields=["deprecated"])
    return version


@transaction.atomic(durable=True)
def do_update_pack(pack: NodePack, **changes: Any) -> NodePack:
    """Change a pack's visibility (the publisher's call; name and content come from uploads)."""
    for field, value in changes.items():
        setattr(pack, field, value)
    pack.updated = timezone.now()
    pack.save(update_fields=[*changes, "updated"])
    return pack


def do_count_download(version: NodePackVersion) -> None:
    NodePack.objects.filter(pk=version.pack_id).update(downloads=F("downloads") + 1)


# Installs


@transaction.atomic(durable=True)
def do_install_pack(
    workspace: Workspace, pack: NodePack, version: NodePackVersion | None, user: User
) -> TeamPackInstall:
    """Install ``pack`` in ``workspace`` pinned to ``version`` (default: the latest installable one), or move
    the pin (upgrade or downgrade). Team-only and private packs install only in their publisher's workspace."""
    if pack.visibility != NodePack.Visibility.PUBLIC:
        publisher = pack.publisher
        home = publisher.workspace_id or getattr(
            getattr(publisher.user, "personal_workspace", None), "pk", None
        )
        if workspace.pk != home:
            raise PermissionDenied(
                f"{pack.name} is {pack.get_visibility_display().lower()}: it can only be installed in its "
                "publisher's own workspace."
            )
    if version is None:
        version = pack.latest_active()
        if version is None:
            raise ApiError(f"{pack.name} has no active, non-yanked version to install.", status_code=409)
    if not version.is_installable():
        why = "yanked" if version.yanked else version.status
        latest = pack.latest_active()
        hint = f" The latest installable version is {latest.version}." if latest else ""
        raise ApiError(
            f"{pack.name} {version.version} is {why} and cannot be installed.{hint}",
            [{"field": "version", "message": f"{why}: not installable"}],
            status_code=409,
        )
    install = TeamPackInstall.objects.select_for_update().filter(workspace=workspace, pack=pack).first()
    now = timezone.now()
    if install is None:
        install = TeamPackInstall.objects.create(
            workspace=workspace, pack=pack, version=version, installed_by=user, created=now, updated=now
        )
        NodePack.objects.filter(pk=pack.pk).update(installs=F("installs") + 1)
    else:
        install.version, install.installed_by, install.updated = version, user, now
        install.save(update_fields=["version", "installed_by", "updated"])
    return install


@transaction.atomic(durable=True)
def do_remove_pack(workspace: Workspace, pack_name: str) -> None:
    deleted, _ = TeamPackInstall.objects.filter(workspace=workspace, pack__name=pack_name).delete()
    if not deleted:
        raise ApiError(f"{pack_name} is not installed in this workspace.", status_code=404)
