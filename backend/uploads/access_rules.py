"""Who may see and use uploads (loaded through backend/accounts/access.py, the one entry point): the members of
the upload's workspace, by their role; uploads have no finer visibility.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, QuerySet
from rest_framework.exceptions import NotFound

from backend.accounts.access_base import as_role, caller_id, check_need, role_subquery
from backend.accounts.models import AnyUser, Membership
from backend.accounts.roles import Need

if TYPE_CHECKING:
    from backend.uploads.models import Upload


def visible_uploads(user: AnyUser) -> QuerySet[Upload]:
    """Every upload in a workspace the user is a member of (uploads have no finer visibility)."""
    from backend.uploads.models import Upload

    user_id = caller_id(user)
    if user_id is None:
        return Upload.objects.none()
    return Upload.objects.filter(
        Exists(Membership.objects.filter(workspace=OuterRef("workspace"), user_id=user_id))
    )


def access_upload(user: AnyUser, upload_id: int | str, need: Need = Need.VIEW) -> Upload:
    """Load an upload of a workspace the user is a member of; ``upload.role`` holds the role."""
    from backend.uploads.models import Upload

    try:
        upload = (
            Upload.objects.select_related("created_by")
            .annotate(member_role=role_subquery(user, "workspace"))
            .get(pk=int(upload_id))
        )
    except (Upload.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such upload.") from None
    role = as_role(upload.member_role)
    if role is None:
        raise NotFound("No such upload.")
    upload.role = role
    check_need(role, need, "upload")
    return upload
