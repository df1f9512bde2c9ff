"""A GIN index on CacheRecord.blobs (PostgreSQL only) so blob collection finds referring rows by index."""

from typing import Any

from django.db import migrations

INDEX = "cache_record_blobs_gin"


def create_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(apps.get_model("cache", "CacheRecord")._meta.db_table)
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {table} USING gin (blobs)")


def drop_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("cache", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
