from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.actions import do_create_token
from backend.accounts.models import User


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A name to recognise the token by (default: cli).")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is not active.")
        _, raw = do_create_token(user, name)
        self.stdout.write(raw)
