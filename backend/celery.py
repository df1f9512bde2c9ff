"""The Celery app "flowyard": worker processes run ``celery -A backend worker -Q flowyard.cpu``.

Configuration comes from Django settings with the ``CELERY_`` prefix (see settings.py). Queues are named
``flowyard.cpu`` and ``flowyard.gpu``, never Celery's default ``celery``, so another app on the same Redis
database does not take our tasks.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("flowyard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
