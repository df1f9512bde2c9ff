from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.cache.eviction import evict_cache
from backend.storage.references import sweep_orphan_blobs


class Command(BaseCommand):
    help = (
        "Evict least-recently-hit cache entries until the cache fits its budget "
        "(FLOWYARD_CACHE_BUDGET_BYTES), then delete blobs nothing refers to."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--budget", type=int, help="budget in bytes (default: FLOWYARD_CACHE_BUDGET_BYTES)"
        )
        parser.add_argument(
            "--protect-seconds",
            type=int,
            help="keep entries touched this recently (default: FLOWYARD_CACHE_PROTECT_SECONDS)",
        )
        parser.add_argument(
            "--sweep-orphans",
            action="store_true",
            help="also check every stored blob and delete those no app refers to (slow on big stores)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = evict_cache(options["budget"], protect_seconds=options["protect_seconds"])
        self.stdout.write(
            f"evicted {report.rows_deleted} entries ({report.bytes_freed} bytes), "
            f"deleted {report.blobs.deleted} blobs; cache holds {report.size_after} of "
            f"{report.budget_bytes} bytes"
        )
        if report.over_budget:
            self.stdout.write(
                f"still over budget: {report.protected_rows} entries are protected as recently used"
            )
        if options["sweep_orphans"]:
            swept = sweep_orphan_blobs(grace_seconds=options["protect_seconds"])
            self.stdout.write(f"orphan sweep: {swept.candidates} blobs checked, {swept.deleted} deleted")
