"""Request bodies (DRF serializers) and the JSON shapes of publishers, packs, versions and installs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.accounts.models import User
from backend.registry.models import NodePack, NodePackVersion, Publisher, TeamPackInstall


class UploadSerializer(serializers.Serializer):
    archive = serializers.FileField(help_text="the .flowyard.zip built by `flowyard pack build`")
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", required=False, help_text="the archive's sha256")
    visibility = serializers.ChoiceField(
        NodePack.Visibility.choices, required=False, help_text="for a new pack (default public)"
    )


class PackListQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    category = serializers.CharField(required=False, allow_blank=True, max_length=64)
    node_type = serializers.CharField(required=False, allow_blank=True, max_length=200)
    publisher = serializers.CharField(required=False, allow_blank=True, max_length=39)


class PackUpdateSerializer(serializers.Serializer):
    visibility = serializers.ChoiceField(NodePack.Visibility.choices)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class DeprecateSerializer(serializers.Serializer):
    message = serializers.CharField(allow_blank=True, max_length=500)


class PublisherCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=39)
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    workspace = serializers.IntegerField(required=False, help_text="a team you own or administer")


class PublisherUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(required=False, max_length=100)
    trusted = serializers.BooleanField(required=False, help_text="site admins only")


class InstallSerializer(serializers.Serializer):
    pack = serializers.CharField(max_length=64)
    version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)


def publisher_json(publisher: Publisher) -> dict[str, Any]:
    return {
        "slug": publisher.slug,
        "display_name": publisher.display_name,
        "kind": publisher.kind,
        "workspace": publisher.workspace_id,
        "user": _user(publisher.user),
        "trusted": publisher.trusted,
        "created": publisher.created,
    }


def _user(user: User | None) -> dict[str, Any] | None:
    return {"id": user.pk, "username": user.username} if user is not None else None


def version_json(version: NodePackVersion, full: bool = False, manager: bool = False) -> dict[str, Any]:
    """A version; ``full`` adds README, nodes and findings; ``manager`` (publisher, site admins) adds the
    validation errors and the whole report."""
    data: dict[str, Any] = {
        "id": version.pk,
        "pack": version.pack.name,
        "version": version.version,
        "status": version.status,
        "verdict": version.verdict(),
        "validated": version.is_validated(),
        "yanked": version.yanked,
        "yank_reason": version.yank_reason,
        "deprecated": version.deprecated or None,
        "archive_sha256": version.archive_sha256,
        "archive_size": version.archive_size,
        "findings_count": len(version.findings),
        "high_findings": sum(1 for f in version.findings if f.get("severity") == "high"),
        "nodes_known": version.nodes_recorded_at is not None,
        "review_note": version.review_note,
        "reviewed_at": version.reviewed_at,
        "created": version.created,
    }
    if full:
        data.update(
            {
                "manifest": version.manifest,
                "readme_html": version.readme_html,
                "changelog": version.changelog,
                "nodes": version.nodes,
                "findings": version.findings,
                "files": version.files,
            }
        )
    if manager:
        data.update(
            {
                "errors": version.errors,
                "report": version.report,
                "uploaded_by": _user(version.uploaded_by),
                "reviewed_by": _user(version.reviewed_by),
            }
        )
    return data


def pack_json(pack: NodePack, latest: NodePackVersion | None) -> dict[str, Any]:
    return {
        "name": pack.name,
        "display_name": pack.display_name,
        "description": pack.description,
        "publisher": {
            "slug": pack.publisher.slug,
            "display_name": pack.publisher.display_name,
            "trusted": pack.publisher.trusted,
        },
        "visibility": pack.visibility,
        "categories": pack.categories,
        "homepage": pack.homepage or None,
        "downloads": pack.downloads,
        "installs": pack.installs,
        "latest_version": latest.version if latest else None,
        "can_manage": bool(getattr(pack, "can_manage", False)),
        "created": pack.created,
        "updated": pack.updated,
    }


def install_json(install: TeamPackInstall, latest: NodePackVersion | None = None) -> dict[str, Any]:
    version = install.version
    return {
        "pack": install.pack.name,
        "display_name": install.pack.display_name,
        "version": version.version,
        "version_id": version.pk,
        "yanked": version.yanked,
        "yank_reason": version.yank_reason,
        "deprecated": version.deprecated or None,
        "nodes": [node.get("type") for node in version.nodes],
        "latest_version": latest.version if latest else None,
        "update_available": bool(latest and latest.sort_key > version.sort_key),
        "installed_by": _user(install.installed_by),
        "created": install.created,
        "updated": install.updated,
    }
