"""A node pack for the model library tests: one loader-like node with a model file picker."""

from __future__ import annotations

from nodepacks import sdk


class ReadCheckpoint(sdk.Node):
    """The size of a checkpoint file of the model library."""

    id = "modelfiletest.ReadCheckpoint"
    category = "test"
    output_node = True

    class Inputs(sdk.Inputs):
        ckpt_name: str = sdk.model_file("checkpoints")

    class Outputs(sdk.Outputs):
        size: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(size=ctx.models.file("checkpoints", inputs.ckpt_name).stat().st_size)


pack = sdk.Pack(name="modelfiletest", version="1.0.0", nodes=[ReadCheckpoint])
