"""The ModelScope pack: run ModelScope models from the worker's local model cache.

Importing the pack is cheap (no torch, no modelscope); nodes import them when they execute.
"""

from nodepacks.modelscope import nodes
from nodepacks.sdk import Pack

pack = Pack(
    name="modelscope",
    version="0.1.0",
    display_name="ModelScope",
    description="Run ModelScope pipelines and models from the worker's local model cache.",
    nodes=nodes.NODES,
    builtin=True,
)
