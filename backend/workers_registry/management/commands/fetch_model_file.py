"""``manage.py fetch_model_file REPO_ID [FILE] --kind checkpoints --revision REV``: fetch one file of a ModelScope
repo (or, without FILE, the whole repo as a diffusers folder) into this machine's model library, through the
shared ModelScope cache, and record its sha256 and source (repo, revision)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.workers_registry.catalog import forget_local_models
from backend.workers_registry.process import model_library
from workers.runtime.model_library import KIND_ALIASES, KIND_FOLDERS


class Command(BaseCommand):
    help = "Fetch a ModelScope model file (revision pinned) into the model library."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repo_id", help="owner/name")
        parser.add_argument("file", nargs="?", help="the file in the repo; leave out for the whole repo")
        parser.add_argument("--kind", required=True, choices=sorted([*KIND_FOLDERS, *KIND_ALIASES]))
        parser.add_argument("--revision", required=True, help="a tag or commit: what the library records")
        parser.add_argument("--name", help="the name in the kind folder (default: the file's own name)")
        parser.add_argument("--overwrite", action="store_true", help="replace a file of that name")
        parser.add_argument(
            "--local-files-only", action="store_true", help="take it from the ModelScope cache, never the hub"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            fetched = model_library().fetch_file(
                options["repo_id"],
                options["file"],
                options["kind"],
                revision=options["revision"],
                name=options["name"],
                overwrite=options["overwrite"],
                local_files_only=options["local_files_only"],
            )
        except Exception as exc:  # hub, network and file errors come in many types; all end the command alike
            what = f"{options['repo_id']}@{options['revision']} {options['file'] or ''}".strip()
            raise CommandError(f"could not fetch {what}: {exc}") from exc
        forget_local_models()
        self.stdout.write(
            f"fetched {fetched.kind}/{fetched.name} (sha256 {fetched.sha256}) to {fetched.path}"
        )
