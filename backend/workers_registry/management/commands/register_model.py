"""``manage.py register_model DIR MODEL_ID [--revision REV]``: put a local model directory into this machine's
ModelScope cache (``MODELSCOPE_CACHE``), so workers here can load it offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workers.runtime.models import DEFAULT_REVISION, ModelNotAvailable, register_local_model


class Command(BaseCommand):
    help = "Copy a local model directory into the local ModelScope cache under a model id and revision."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "directory", help="a directory in ModelScope's layout (configuration.json, weights)"
        )
        parser.add_argument("model_id", help="owner/name")
        parser.add_argument("--revision", default=DEFAULT_REVISION)
        parser.add_argument("--hardlink", action="store_true", help="hard-link files instead of copying them")
        parser.add_argument("--overwrite", action="store_true", help="replace that revision if registered")

    def handle(self, *args: Any, **options: Any) -> None:
        from backend.workers_registry.catalog import forget_local_models

        try:
            target = register_local_model(
                Path(options["directory"]),
                options["model_id"],
                options["revision"],
                hardlink=options["hardlink"],
                overwrite=options["overwrite"],
            )
        except (ValueError, FileExistsError, ModelNotAvailable, OSError) as exc:
            raise CommandError(str(exc)) from exc
        forget_local_models()
        self.stdout.write(f"registered {options['model_id']}@{options['revision']} at {target}")
