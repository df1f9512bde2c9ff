"""Users created outside sign-up (createsuperuser, the admin) get their personal workspace too; a token or user
changed or deleted through a model save (the admin) is forgotten by this process's token cache."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.authentication import forget_tokens
from backend.accounts.models import ApiToken, User


@receiver(post_save, sender=User, dispatch_uid="accounts_personal_workspace")
def give_personal_workspace(
    sender: type[User], instance: User, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        from backend.accounts.actions import do_ensure_personal_workspace

        do_ensure_personal_workspace(instance)


@receiver(post_save, sender=User, dispatch_uid="accounts_forget_user_tokens")
@receiver(post_delete, sender=User, dispatch_uid="accounts_forget_deleted_user_tokens")
def forget_user_tokens(sender: type[User], instance: User, **kwargs: Any) -> None:
    forget_tokens(user_id=instance.pk)


@receiver(post_save, sender=ApiToken, dispatch_uid="accounts_forget_token")
@receiver(post_delete, sender=ApiToken, dispatch_uid="accounts_forget_deleted_token")
def forget_token(sender: type[ApiToken], instance: ApiToken, **kwargs: Any) -> None:
    forget_tokens(token_id=instance.pk)
