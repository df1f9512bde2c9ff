import pytest

from nodepacks.sdk import types as t


@pytest.mark.parametrize(
    ("output_type", "input_type", "expected"),
    [
        ("INT", "INT", True),
        ("INT", "FLOAT", False),
        ("INT", "ANY", True),
        ("ANY", "IMAGE", True),
        ("INT|FLOAT", "FLOAT", True),
        ("STRING", "INT|FLOAT", False),
        ("LIST[IMAGE]", "LIST[IMAGE]", True),
        ("LIST[IMAGE]", "IMAGE", False),
        ("LIST[INT]", "LIST[ANY]", True),
        ("MYPACK.LATENT", "MYPACK.LATENT", True),
        ("MYPACK.LATENT", "OTHER.LATENT", False),
    ],
)
def test_compatibility_rule(output_type, input_type, expected):
    assert t.is_compatible(output_type, input_type) is expected


def test_unions_are_normalised_regardless_of_order():
    assert t.normalize("FLOAT|INT") == t.normalize("INT | FLOAT") == "FLOAT|INT"


@pytest.mark.parametrize("bad", ["", "int", "LIST[INT", "INT||FLOAT", "LIST[]"])
def test_invalid_type_strings_are_rejected(bad):
    with pytest.raises(t.TypeSpecError):
        t.parse(bad)


def test_annotations_map_to_type_names():
    assert t.type_of_annotation(int) == ("INT", False)
    assert t.type_of_annotation(t.Image) == ("IMAGE", False)
    assert t.type_of_annotation(list[t.Mask]) == ("LIST[MASK]", False)
    assert t.type_of_annotation(t.Image | None) == ("IMAGE", True)
    assert t.type_of_annotation(int | float) == ("FLOAT|INT", False)


def test_pack_defined_types_need_capitalised_names():
    latent = t.define_type("mypack.latent", dict)
    assert t.type_of_annotation(latent) == ("MYPACK.LATENT", False)
    with pytest.raises(t.TypeSpecError):
        t.define_type("IMAGE")
