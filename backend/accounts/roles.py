"""Roles and the permission matrix: the one place that says which role may do what.

docs/permissions.md shows the same matrix as a table; change both together.
"""

from __future__ import annotations

import enum

from django.db import models


class Need(enum.StrEnum):
    """What a caller needs to be allowed to do to an object; access.py loaders take one."""

    VIEW = "view"  # see the workspace and its team-visible workflows
    RUN = "run"  # start runs of workflows
    EDIT = "edit"  # create, change, share and delete workflows
    MANAGE_MEMBERS = "manage_members"  # invite, change roles of and remove members ranked below oneself
    ADMIN = "admin"  # rename the team, see every private workflow in it
    OWN = "own"  # delete the team, transfer ownership


class Role(models.TextChoices):
    """A member's role in a workspace, highest first."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    RUNNER = "runner", "Runner"
    VIEWER = "viewer", "Viewer"

    def allows(self, need: Need) -> bool:
        """True when this role grants ``need``."""
        return need in PERMISSIONS[Role(self)]

    @property
    def rank(self) -> int:
        """Higher ranks outrank lower ones (owner highest)."""
        return len(RANKED) - RANKED.index(Role(self))

    def outranks(self, other: Role) -> bool:
        """True when this role is strictly above ``other``."""
        return self.rank > Role(other).rank

    def can_assign(self, role: Role) -> bool:
        """True when a member with this role may give ``role`` to someone (never owner: that is a transfer)."""
        return self.can_manage_members and Role(role) != Role.OWNER and self.outranks(role)

    def can_manage(self, member_role: Role) -> bool:
        """True when a member with this role may change the role of, or remove, a member with ``member_role``."""
        return self.can_manage_members and self.outranks(member_role)

    @property
    def can_view(self) -> bool:
        return self.allows(Need.VIEW)

    @property
    def can_run(self) -> bool:
        return self.allows(Need.RUN)

    @property
    def can_edit(self) -> bool:
        return self.allows(Need.EDIT)

    @property
    def can_manage_members(self) -> bool:
        return self.allows(Need.MANAGE_MEMBERS)

    @property
    def can_admin(self) -> bool:
        return self.allows(Need.ADMIN)

    @property
    def can_see_private_workflows(self) -> bool:
        return self.allows(Need.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.allows(Need.OWN)


RANKED: list[Role] = [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.RUNNER, Role.VIEWER]

PERMISSIONS: dict[Role, frozenset[Need]] = {
    Role.OWNER: frozenset(Need),
    Role.ADMIN: frozenset({Need.VIEW, Need.RUN, Need.EDIT, Need.MANAGE_MEMBERS, Need.ADMIN}),
    Role.EDITOR: frozenset({Need.VIEW, Need.RUN, Need.EDIT}),
    Role.RUNNER: frozenset({Need.VIEW, Need.RUN}),
    Role.VIEWER: frozenset({Need.VIEW}),
}
