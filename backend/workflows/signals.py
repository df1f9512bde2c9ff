"""Signals other apps subscribe to, sent by the workflows app after the transaction that made the change commits.

- ``version_saved(sender=WorkflowVersion, version=..., created=..., source=...)``: a save or a restore answered
  ``version`` (``created`` False when the content was already the latest version's). ``source`` says how it came:
  ``"draft"`` (the co-edited draft saved), ``"save"`` (a document posted as a version) or ``"restore"``.
  Receivers must be quick and must not raise.
"""

from __future__ import annotations

from django.dispatch import Signal

version_saved = Signal()
