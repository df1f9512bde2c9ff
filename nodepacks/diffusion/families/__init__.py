"""The model-family registry: which families the pack knows, and which one a weights file or folder belongs to.

A family (SD1.x, SDXL, SD3...) knows how to recognise its weights from a single-file checkpoint's keys or a
diffusers folder's ``model_index.json``, how to build its networks with ``diffusers``/``transformers`` classes,
how to turn text into conditioning and how to call its denoising network. A third-party pack adds one with::

    from nodepacks.diffusion.families import Family, register_family

    class MyFamily(Family):
        name = "myfamily"
        ...

    register_family(MyFamily())

Families are tried in registration order, most specific first is the caller's job: ``register_family`` puts a
new family ahead of the built-in ones so a pack can claim files that a built-in family would also match.

The registry and the ``Family`` interface live in ``registry.py``, which knows no concrete family; this package
imports it, then the built-in families (each imports only ``registry`` and ``_common``), and registers them, so
imports run one way: package -> families -> registry. Nothing here imports torch at module level.
"""

from __future__ import annotations

from nodepacks.diffusion.families import flux, sd1, sd2, sd3, sdxl, sdxl_refiner
from nodepacks.diffusion.families.registry import Family as Family
from nodepacks.diffusion.families.registry import detect_diffusers_family as detect_diffusers_family
from nodepacks.diffusion.families.registry import detect_family as detect_family
from nodepacks.diffusion.families.registry import get_family as get_family
from nodepacks.diffusion.families.registry import known_families as known_families
from nodepacks.diffusion.families.registry import register_family as register_family

# The built-in families, after any family already registered; SD3, SDXL and SD2 before SD1, whose test is the
# loosest.
for _family in (
    flux.FluxFamily(),
    sd3.SD3Family(),
    sdxl_refiner.SDXLRefinerFamily(),
    sdxl.SDXLFamily(),
    sd2.SD2Family(),
    sd1.SD1Family(),
):
    if _family.name not in known_families():
        register_family(_family, first=False)
