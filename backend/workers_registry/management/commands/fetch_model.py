"""``manage.py fetch_model MODEL_ID [--revision REV]``: download a model from the ModelScope hub into this
machine's model cache (needs a network that reaches the hub)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workers.runtime.models import DEFAULT_REVISION, fetch_model


class Command(BaseCommand):
    help = "Download a model from the ModelScope hub into the local model cache."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model_id", help="owner/name")
        parser.add_argument("--revision", default=DEFAULT_REVISION)

    def handle(self, *args: Any, **options: Any) -> None:
        from backend.workers_registry.catalog import forget_local_models

        try:
            target = fetch_model(options["model_id"], options["revision"])
        except (
            Exception
        ) as exc:  # network and hub errors come in many types; all end the command the same way
            raise CommandError(f"could not fetch {options['model_id']}@{options['revision']}: {exc}") from exc
        forget_local_models()
        self.stdout.write(f"fetched {options['model_id']}@{options['revision']} to {target}")
