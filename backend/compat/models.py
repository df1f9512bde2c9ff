"""What the ComfyUI-compatible API keeps beside a run: the prompt id clients know, their client id and queue
number, the sanitised ``extra_data``; and which workspace a token's ComfyUI calls use.

The run itself is an ordinary ``runs.Run`` (``source="comfy"``): its graph, status, events and outputs live
there. Secrets a client puts into ``extra_data`` never reach these rows (``secrets.sanitise_extra_data``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.accounts.models import ApiToken, Workspace


class ComfyPrompt(models.Model):
    """A run submitted through ``POST /prompt``."""

    run = models.OneToOneField("runs.Run", on_delete=models.CASCADE, related_name="comfy_prompt")
    prompt_id = models.CharField(max_length=100, unique=True, help_text="The run id, or the client's own id.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comfy_prompts")
    client_id = models.CharField(max_length=200, blank=True, default="")
    number = models.BigIntegerField(
        default=0, help_text="ComfyUI's queue number (negative: sent to the front)."
    )
    prompt = models.JSONField(help_text="The API-format prompt as the client sent it (with _meta).")
    extra_data = models.JSONField(default=dict, help_text="The client's extra_data, secrets removed.")
    outputs_to_execute = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["user", "created"], name="comfyprompt_user_created")]

    def __str__(self) -> str:
        return self.prompt_id

    def queue_item(self) -> list:
        """ComfyUI's queue and history tuple: ``[number, prompt_id, prompt, extra_data, outputs_to_execute]``."""
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs_to_execute]


class ComfyTokenSettings(models.Model):
    """Per API token: the workspace its ComfyUI calls run in (default: the user's personal workspace)."""

    token = models.OneToOneField(ApiToken, on_delete=models.CASCADE, related_name="comfy_settings")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.token_id} -> {self.workspace_id}"
