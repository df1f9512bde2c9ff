"""The one way views load what a user may see.

Every loader takes the caller and an id and returns the object, or raises:

- ``NotFound`` (404) when the object is missing *or* the caller may not see it: the two look the same;
- ``PermissionDenied`` (403) when the caller may see the object but its role lacks ``need``.

Loaded objects carry the caller's role as ``obj.role`` (a ``Role`` or None), found in the same query.

The rules live beside each app, in ``backend/<app>/access_rules.py``, built on ``access_base.py`` (roles,
needs, workspaces); this module gathers them so that views import from one place. A new app writes its loaders
in its own ``access_rules.py`` in the same shape (load with the role annotated, check visibility, check need)
and re-exports them here.
"""

from __future__ import annotations

from backend.accounts.access_base import (
    access_team,
    access_workspace,
    check_need,
    check_site_admin,
    role_in,
    role_subquery,
)
from backend.accounts.roles import Need, Role
from backend.approvals.access_rules import access_approval, approvals_for, visible_approvals
from backend.automation.access_rules import access_schedule, access_trigger, access_webhook
from backend.coedit.access_rules import access_workflow_draft
from backend.flowapps.access_rules import access_app, access_app_run, visible_apps
from backend.registry.access_rules import (
    access_pack,
    access_pack_version,
    manageable_publishers,
    visible_pack_versions,
    visible_packs,
)
from backend.runs.access_rules import (
    access_run,
    access_run_target,
    access_run_to_manage,
    sees_run,
    visible_runs,
)
from backend.uploads.access_rules import access_upload, visible_uploads
from backend.workflows.access_rules import access_workflow, access_workflow_version, visible_workflows

__all__ = [
    "Need",
    "Role",
    "access_app",
    "access_app_run",
    "access_approval",
    "access_pack",
    "access_pack_version",
    "access_run",
    "access_run_target",
    "access_run_to_manage",
    "access_schedule",
    "access_team",
    "access_trigger",
    "access_upload",
    "access_webhook",
    "access_workflow",
    "access_workflow_draft",
    "access_workflow_version",
    "access_workspace",
    "sees_run",
    "approvals_for",
    "check_need",
    "check_site_admin",
    "manageable_publishers",
    "role_in",
    "role_subquery",
    "visible_approvals",
    "visible_apps",
    "visible_pack_versions",
    "visible_packs",
    "visible_runs",
    "visible_uploads",
    "visible_workflows",
]
