"""Node-pack toolchain: build reproducible pack archives, scan and validate them before the registry accepts them.

Plain Python (no Django, no Celery): the CLI uses it locally, the registry runs ``validate`` in a
resource-limited child process.
"""
