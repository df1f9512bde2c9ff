"""Approvals tests run real runs: the runs app's test pack, blob store and dispatcher settings."""

from backend.runs.tests.conftest import runs_environment  # noqa: F401 - an autouse fixture, reused
