"""The Flowyard execution engine: plain Python, no Django, no Celery."""
