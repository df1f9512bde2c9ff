"""The OpenAPI schema of the whole API generates and validates."""

from __future__ import annotations

from django.core.management import call_command


def test_openapi_schema_is_valid(tmp_path):
    call_command("spectacular", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/workflows/{workflow_id}/diff" in (tmp_path / "schema.yaml").read_text()
