"""Graph inputs and outputs: they become the compiled model's forward arguments and results."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .registry import LayerParams, LayerSpec, Sample, register

Size = Annotated[int, Field(ge=1, le=2**31 - 1)]


class InputParams(LayerParams):
    shape: list[Size] = Field([1], min_length=1, max_length=8, description="Shape of one sample, without the batch dimension.")
    dtype: Literal["float32", "int64"] = Field("float32", description="int64 for token ids feeding an embedding.")


register(LayerSpec(
    type="input", category="Inputs and outputs", params=InputParams, inputs=(), palette_name="Input", aliases=("data", "placeholder"),
    doc="A model input: one sample of the given shape (the batch dimension is implicit).", card=("shape", "dtype"),
    samples=(Sample({}, {"shape": [3, 4]}), Sample({}, {"shape": [7], "dtype": "int64"})),
))
register(LayerSpec(
    type="output", category="Inputs and outputs", outputs=(), palette_name="Output", aliases=("prediction", "result"),
    doc="A model output: what arrives here is returned by the model and compared with the target.",
    samples=(Sample(),),
))
