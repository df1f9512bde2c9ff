"""Removing pack environments nothing can run any more, on each machine that built them.

Every worker (and the embedded web process) builds an environment per pack version it runs, under its
``FLOWYARD_PACK_ENV_ROOT``; without collection they pile up as teams upgrade and uninstall packs. Each process
with a heartbeat collects its own machine's root every ``FLOWYARD_PACK_ENV_GC_SECONDS`` (and
``manage.py collect_pack_envs`` does it by hand). An environment is kept while its pack version:

- is installed in some workspace;
- is pinned by a saved workflow version (saved versions keep running on the pack versions they were built with
  while those are available, and rebuilding may need package downloads an offline cluster cannot make);
- was recorded by a queued or running run (``Run.packs``: the versions it was validated with).

An environment in use by a running pack host is never removed (``PackEnvironments.collect`` holds its lock).
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def environments_in_use() -> set[str]:
    """The archive sha256s of every pack version something may still run."""
    from backend.registry.models import NodePackVersion, TeamPackInstall
    from backend.runs.models import Run
    from backend.workflows.models import WorkflowVersion

    installed = set(TeamPackInstall.objects.values_list("version_id", flat=True))
    pinned: set[tuple[str, str]] = set()
    sources = [
        WorkflowVersion.objects.exclude(packs={}).values_list("packs", flat=True),
        # A run paused for approval resumes with the pack versions it was validated with: keep them too.
        Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.AWAITING_APPROVAL])
        .exclude(packs={})
        .values_list("packs", flat=True),
    ]
    for rows in sources:
        for packs in rows.iterator(chunk_size=2000):
            if isinstance(packs, dict):
                pinned.update((str(name), str(version)) for name, version in packs.items())
    keep = set()
    for version_id, name, version, sha in NodePackVersion.objects.values_list(
        "id", "pack__name", "version", "archive_sha256"
    ).iterator(chunk_size=2000):
        if version_id in installed or (name, version) in pinned:
            keep.add(sha.lower())
    return keep


def collect_pack_environments() -> list[str]:
    """Remove this machine's environments of pack versions nothing may run; return the folders removed."""
    from backend.registry.runtime import pack_environments

    root = Path(settings.FLOWYARD_PACK_ENV_ROOT)
    if not root.is_dir() or not any(root.glob("*/env.json")):
        return []  # nothing was ever built here (and collecting would build the shared host layer)
    removed = pack_environments().collect(environments_in_use())
    if removed:
        logger.info("removed %d unused pack environment(s): %s", len(removed), ", ".join(removed))
    return removed
