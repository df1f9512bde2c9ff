"""The half of the pack host that runs inside a pack's environment.

This package is copied into every pack environment as the top-level package ``flowyard_packhost`` and
started there as ``python -I -m flowyard_packhost.host``: it may only import the standard library, numpy
and the SDK (``nodepacks.sdk``), and only relative imports within itself, so no other Flowyard code
(``workers``, ``backend``, built-in packs) is ever importable by a pack.
"""
