"""``manage.py sweep``: mark silent workers lost and re-queue their runs (what celery beat's flowyard.sweep does)."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Mark workers without heartbeats lost and re-queue (or fail) the runs they were executing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--evict-cache", action="store_true", help="also shrink the shared cache to budget"
        )
        parser.add_argument(
            "--every", type=float, default=0, help="repeat every N seconds (until interrupted)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from backend.runs.recovery import sweep

        while True:
            report = sweep()
            if options["evict_cache"]:
                from backend.cache.eviction import evict_cache

                report["cache"] = str(evict_cache())
            self.stdout.write(json.dumps(report))
            if not options["every"]:
                return
            time.sleep(options["every"])
