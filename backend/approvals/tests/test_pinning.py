"""A run paused for approval keeps the environments of the pack versions it resumes with."""

from __future__ import annotations

import pytest

from backend.registry.envgc import environments_in_use
from backend.registry.models import NodePack, NodePackVersion, Publisher
from backend.runs.models import Run

pytestmark = pytest.mark.django_db


def test_the_pack_versions_of_a_paused_run_stay_in_use_and_a_rejected_runs_do_not(alice, team):
    publisher = Publisher.objects.create(slug="alice", display_name="Alice", user=alice)
    pack = NodePack.objects.create(publisher=publisher, name="demo", display_name="Demo")
    paused, rejected = (
        NodePackVersion.objects.create(pack=pack, version=number, archive_sha256=sha * 64, archive_size=1)
        for number, sha in (("1.0.0", "a"), ("2.0.0", "b"))
    )
    Run.objects.create(
        workspace=team, graph={"nodes": {}}, packs={"demo": "1.0.0"}, status=Run.Status.AWAITING_APPROVAL
    )
    Run.objects.create(
        workspace=team, graph={"nodes": {}}, packs={"demo": "2.0.0"}, status=Run.Status.REJECTED
    )
    in_use = environments_in_use()
    assert paused.archive_sha256 in in_use
    assert rejected.archive_sha256 not in in_use
