"""The Celery app "flowyard": worker processes run ``celery -A backend worker -Q flowyard.cpu``.

Configuration comes from Django settings with the ``CELERY_`` prefix (see settings.py). Queues are named
``flowyard.cpu`` and ``flowyard.gpu``, never Celery's default ``celery``, so another app on the same Redis
database does not take our tasks.
"""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("flowyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_loaded_objects(**kwargs) -> None:
    """A worker process's imports live as long as it does: keep full garbage collections from walking them."""
    from backend.gc_tuning import freeze

    freeze()
