import json

from nodepacks.core import pack
from workers.engine.registry import NodeRegistry


def test_pack_registers_and_every_schema_serialises():
    registry = NodeRegistry([pack])
    assert len(registry) == len(pack.nodes)
    for entry in registry:
        document = json.loads(json.dumps(entry.schema.to_json()))
        assert document["type"] == entry.schema.id
        assert document["description"], f"{entry.schema.id} has no docstring"
        assert document["category"] != "misc", f"{entry.schema.id} has no category"


def test_pack_has_the_comfyui_nodes_the_engine_benchmark_uses():
    ids = {node.id for node in pack.nodes}
    assert {"EmptyImage", "ImageScaleBy", "ImageBlur", "ImageInvert", "SaveImage"} <= ids
