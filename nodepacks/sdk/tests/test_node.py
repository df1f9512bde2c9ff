import json

import numpy as np
import pytest

from nodepacks import sdk
from nodepacks.sdk.testing import NodeInputError, run_node


class Blend(sdk.Node):
    """Mix two images."""

    id = "test.Blend"
    category = "image"

    class Inputs(sdk.Inputs):
        a: sdk.Image = sdk.link(tooltip="first image")
        b: sdk.Image = sdk.link()
        factor: float = sdk.number(0.5, min=0.0, max=1.0, slider=True)
        mode: str = sdk.select(options=["normal", "multiply"])
        mask: sdk.Mask | None = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        image: sdk.Image = sdk.output(tooltip="the mix")

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        mixed = inputs.a * (1 - inputs.factor) + inputs.b * inputs.factor
        return self.Outputs(image=mixed.astype(np.float32))


class Show(sdk.Node):
    id = "test.Show"
    output_node = True

    class Inputs(sdk.Inputs):
        value: sdk.AnyValue = sdk.link()
        label: str = "value"
        seed: int = sdk.seed(control="increment")

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> sdk.Result:
        return sdk.Result(ui=sdk.UI(text=[f"{inputs.label}: {inputs.value}"]))


def test_schema_describes_inputs_widgets_and_outputs():
    schema = Blend.schema()
    assert schema.display_name == "Blend"
    assert schema.description == "Mix two images."
    factor = schema.input("factor")
    assert factor is not None
    assert (factor.type, factor.mode, factor.default) == ("FLOAT", "both", 0.5)
    assert factor.widget == {
        "kind": "number",
        "min": 0.0,
        "max": 1.0,
        "step": 0.01,
        "slider": True,
        "round": None,
    }
    image = schema.input("a")
    assert image is not None and (image.mode, image.required, image.tooltip) == (
        "socket",
        True,
        "first image",
    )
    mask = schema.input("mask")
    assert mask is not None and not mask.required and mask.type == "MASK"
    assert [(o.name, o.type, o.tooltip) for o in schema.outputs] == [("image", "IMAGE", "the mix")]
    json.dumps(schema.to_json())  # everything served to clients is JSON


def test_bare_annotations_infer_widgets():
    label = Show.schema().input("label")
    assert label is not None and label.widget is not None and label.widget["kind"] == "text"
    seed = Show.schema().input("seed")
    assert seed is not None and seed.widget is not None and seed.widget["control_after_run"] == "increment"


def test_constants_are_checked_with_clear_reasons():
    schema = Blend.schema()
    factor = schema.input("factor")
    mode = schema.input("mode")
    image = schema.input("a")
    assert factor is not None and mode is not None and image is not None
    assert factor.check_constant(0.25) == (0.25, None)
    assert "less than or equal to 1" in (factor.check_constant(3)[1] or "")
    assert "not one of the options" in (mode.check_constant("screen")[1] or "")
    assert "takes a link" in (image.check_constant(1)[1] or "")


def test_run_node_executes_with_defaults_and_validation():
    a = np.zeros((1, 2, 2, 3), np.float32)
    b = np.ones((1, 2, 2, 3), np.float32)
    outcome = run_node(Blend, a=a, b=b, factor=0.25)
    assert np.allclose(outcome["image"], 0.25)
    with pytest.raises(NodeInputError, match="factor"):
        run_node(Blend, a=a, b=b, factor=2)
    with pytest.raises(NodeInputError, match="required"):
        run_node(Blend, a=a)


def test_output_nodes_return_ui():
    outcome = run_node(Show, value=42)
    assert outcome.outputs is None
    assert list(outcome.ui.text) == ["value: 42"]


def test_malformed_declarations_fail_at_class_definition():
    with pytest.raises(TypeError, match="execute"):

        class NoExecute(sdk.Node):
            id = "test.NoExecute"

    for bad in ("bad/id", "bad  id", " bad", "bad id ", "9lives", "bad.id+more"):
        with pytest.raises(TypeError, match="node id"):

            class BadId(sdk.Node):
                id = bad

                def execute(self, inputs, ctx):
                    return None


def test_comfyui_legacy_ids_with_inner_spaces_or_a_trailing_plus_are_accepted():
    for legacy in ("Video Slice", "ImageRemoveAlpha+"):

        class Legacy(sdk.Node):
            id = legacy

            def execute(self, inputs, ctx):
                return None

        assert Legacy.schema().id == legacy


def test_node_ids_may_carry_a_hyphenated_pack_namespace():
    class Curves(sdk.Node):
        id = "color-grade.Curves"

        def execute(self, inputs, ctx):
            return None

    assert Curves.schema().id == "color-grade.Curves"
    with pytest.raises(TypeError, match="node id"):

        class Trailing(sdk.Node):
            id = "color-grade.bad-name"

            def execute(self, inputs, ctx):
                return None


def test_fingerprint_is_detected():
    class FromFile(sdk.Node):
        id = "test.FromFile"

        class Inputs(sdk.Inputs):
            name: str = sdk.upload()

        @classmethod
        def fingerprint(cls, inputs, files):
            return files.sha256(inputs["name"])

        def execute(self, inputs, ctx):
            return None

    assert FromFile.schema().has_fingerprint
    assert not Blend.schema().has_fingerprint


def test_context_reports_progress_and_cancellation():
    import threading

    seen = []
    cancel = threading.Event()
    ctx = sdk.Context("7", on_progress=lambda node, v, m, p: seen.append((node, v, m)), cancel_event=cancel)
    ctx.progress(1, 4)
    assert seen == [("7", 1.0, 4.0)]
    cancel.set()
    with pytest.raises(sdk.Cancelled):
        ctx.progress(2, 4)
    assert ctx.scratch_dir.is_dir()


def test_pack_declarations_are_validated():
    pack = sdk.Pack(name="demo", version="1.2.3", nodes=[Blend, Show])
    assert pack.supports_api("1.0")
    assert not sdk.Pack(name="future", version="1.0.0", nodes=[], sdk_api=">=2").supports_api("1.0")
    with pytest.raises(sdk.PackError, match="semantic version"):
        sdk.Pack(name="demo", version="1.2", nodes=[])
    with pytest.raises(sdk.PackError, match="twice"):
        sdk.Pack(name="demo", version="1.0.0", nodes=[Blend, Blend])
    with pytest.raises(sdk.PackError, match="pack name"):
        sdk.Pack(name="Demo Pack", version="1.0.0", nodes=[])
