"""Users created outside sign-up (createsuperuser, the admin) get their personal workspace too."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from backend.accounts.models import User


@receiver(post_save, sender=User, dispatch_uid="accounts_personal_workspace")
def give_personal_workspace(
    sender: type[User], instance: User, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        from backend.accounts.actions import do_ensure_personal_workspace

        do_ensure_personal_workspace(instance)
