"""Who may see and manage node packs (loaded through backend/accounts/access.py, the one entry point).

A publisher is managed by its user, or by its team's owner and admins; site admins see every pack and version
(they review). Others see a pack only once it has an active version, and then per its visibility: public (every
signed-in user), team (members of the publisher's team), private (managers only). Non-managers see only active
versions (yanked ones included, marked as such).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied

from backend.accounts.access_base import caller_id, is_site_admin
from backend.accounts.models import AnyUser, Membership
from backend.accounts.roles import Need, Role

if TYPE_CHECKING:
    from backend.registry.models import NodePack, NodePackVersion, Publisher


def _publisher_managers(user_id: int, prefix: str = "") -> Q:
    admins = [role for role in Role if role.allows(Need.ADMIN)]
    admin_of_team = Membership.objects.filter(
        workspace=OuterRef(f"{prefix}workspace"), user_id=user_id, role__in=admins
    )
    return Q(**{f"{prefix}user_id": user_id}) | Q(Exists(admin_of_team))


def manageable_publishers(user: AnyUser) -> QuerySet[Publisher]:
    """Publishers the user may publish to and manage: their own, and those of teams they own or administer."""
    from backend.registry.models import Publisher

    user_id = caller_id(user)
    if user_id is None:
        return Publisher.objects.none()
    return Publisher.objects.filter(_publisher_managers(user_id))


def visible_packs(user: AnyUser) -> QuerySet[NodePack]:
    """Every pack the user may see, each annotated with ``can_manage`` (the caller may publish to it)."""
    from django.db.models import BooleanField, ExpressionWrapper

    from backend.registry.models import NodePack, NodePackVersion

    user_id = caller_id(user)
    if user_id is None:
        return NodePack.objects.none()
    manages = _publisher_managers(user_id, "publisher__")
    # django-stubs refuses to annotate over NodePack's type-only ``can_manage`` declaration (which is what lets
    # ``version.pack.can_manage`` type-check); Django itself refuses only field names.
    packs = NodePack.objects.annotate(
        can_manage=ExpressionWrapper(manages, output_field=BooleanField())  # type: ignore[no-redef]
    ).select_related("publisher")
    if is_site_admin(user):
        return packs
    active = NodePackVersion.objects.filter(pack=OuterRef("pk"), status=NodePackVersion.Status.ACTIVE)
    team_member = Membership.objects.filter(workspace=OuterRef("publisher__workspace"), user_id=user_id)
    return packs.filter(
        manages
        | Q(Exists(active))
        & (
            Q(visibility=NodePack.Visibility.PUBLIC)
            | Q(visibility=NodePack.Visibility.TEAM)
            & (Q(Exists(team_member)) | Q(publisher__user_id=user_id))
        )
    )


def access_pack(user: AnyUser, name: str, manage: bool = False) -> NodePack:
    """Load a pack the user may see by name; ``manage=True`` also needs publisher rights (else 403).

    ``pack.can_manage`` tells whether the caller may publish to, yank and deprecate the pack; site admins see
    everything but manage only their own packs (they review through the review endpoints).
    """
    from backend.registry.models import NodePack

    try:
        pack = visible_packs(user).get(name=str(name))
    except NodePack.DoesNotExist:
        raise NotFound("No such node pack.") from None
    if manage and not pack.can_manage:
        raise PermissionDenied(
            "Only the pack's publisher (its user, or its team's owner and admins) may do this."
        )
    return pack


def visible_pack_versions(user: AnyUser, pack: NodePack) -> QuerySet[NodePackVersion]:
    """The versions of ``pack`` (loaded through ``access_pack``) the user may see."""
    from backend.registry.models import NodePackVersion

    versions = pack.versions.all()
    if pack.can_manage or is_site_admin(user):
        return versions
    return versions.filter(status=NodePackVersion.Status.ACTIVE)


def access_pack_version(
    user: AnyUser,
    version_id: int | str | None = None,
    *,
    pack_name: str | None = None,
    version: str | None = None,
    manage: bool = False,
) -> NodePackVersion:
    """Load a pack version by id, or by pack name and version string; ``version.pack`` carries ``can_manage``.

    Missing, of an invisible pack, or not active (for anyone but its publisher and site admins): 404.
    """
    from backend.registry.models import NodePackVersion

    try:
        if version_id is not None:
            pack_name = NodePackVersion.objects.values_list("pack__name", flat=True).get(pk=int(version_id))
        if pack_name is None:
            raise NotFound("No such node pack.")
        pack = access_pack(user, pack_name)
        query: dict[str, object] = (
            {"pk": int(version_id)} if version_id is not None else {"version": str(version)}
        )
        found = visible_pack_versions(user, pack).get(**query)
    except (NodePackVersion.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such pack version.") from None
    found.pack = pack
    if manage and not pack.can_manage:
        raise PermissionDenied(
            "Only the pack's publisher (its user, or its team's owner and admins) may do this."
        )
    return found
