# Load the Celery app with Django so that tasks sent from web processes use its configuration.
from backend.celery import app as celery_app

__all__ = ["celery_app"]
