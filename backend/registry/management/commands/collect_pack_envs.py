from typing import Any

from django.core.management.base import BaseCommand

from backend.registry.envgc import collect_pack_environments


class Command(BaseCommand):
    help = (
        "Remove this machine's pack environments (FLOWYARD_PACK_ENV_ROOT) of pack versions that no workspace "
        "installs, no saved workflow version pins and no waiting or running run uses."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        removed = collect_pack_environments()
        self.stdout.write(
            f"removed {len(removed)} pack environment(s)" + (f": {', '.join(removed)}" if removed else "")
        )
