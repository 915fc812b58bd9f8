"""The layer registry: each layer type is declared once, here, and everything else reads it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict, Field

from .patterns import Patterns

InitScheme = Literal[
    "default", "normal_0.01", "lecun_normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "orthogonal",
]

CATEGORIES = (
    "Inputs and outputs", "Dense", "Convolution", "Pooling", "Recurrent",
    "Attention", "Normalization", "Activations", "Merge and residual", "Reshaping",
)


class LayerParams(BaseModel):
    """Base of every layer's params model: strict, immutable, JSON round-trippable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class WeightedParams(LayerParams):
    """Params shared by every layer that has weights."""

    init: InitScheme = Field("default", description="How weights start; biases start at zero unless 'default'.")
    init_gain: float = Field(
        1.0, gt=0, le=100,
        description="Factor applied to the initial weights (above 1 a recurrent weight explodes, below 1 it vanishes).",
    )


class TensorMeta(NamedTuple):
    """Shape (without the batch dimension) and dtype of one tensor flowing along an edge."""

    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class InputPort:
    """A named input of a layer: `multiple` ports take several edges, `optional` ones may be left open."""

    name: str = "in"
    optional: bool = False
    multiple: bool = False
    min_count: int = 1


Inputs = dict[str, list]  # port name -> list of TensorMeta (or tuples of them, for an LSTM state)
Builder = Callable[[LayerParams, Inputs], torch.nn.Module]


@dataclass(frozen=True)
class Sample:
    """A contract-test case: the layer's params and the sample shapes arriving at each of its input ports."""

    inputs: dict[str, list[tuple[int, ...]]] = field(default_factory=lambda: {"in": [(6,)]})
    params: dict = field(default_factory=dict)
    dtype: str = "float32"


@dataclass(frozen=True)
class LayerSpec:
    """Everything LayerLoom knows about one layer type."""

    type: str
    category: str
    doc: str
    params: type[LayerParams] = LayerParams
    build: Builder | None = None  # None for graph inputs and outputs, which become the forward's args and result
    inputs: tuple[InputPort, ...] = (InputPort(),)
    outputs: tuple[str, ...] = ("out",)
    palette_name: str | None = None
    aliases: tuple[str, ...] = ()  # other names people search for it by ("dense", "fc")
    presets: dict[str, dict] = field(default_factory=dict)  # palette entries with preset params, e.g. BiLSTM
    input_dtypes: tuple[torch.dtype, ...] = (torch.float32,)  # what the tensor inputs may hold
    # Output ports whose first dimension is the input sequence's step count: shapes are inferred on a
    # one-step sequence, then the count is put back (torch's meta kernels run an RNN or GRU step by step).
    step_ports: tuple[str, ...] = ()
    # How the layer reads in plain PyTorch: (params, sample shape at the `in` port) -> Construct or Inline
    export: Callable | None = None
    imports: Patterns = Patterns()  # the torch modules, functions and tensor methods `layerloom import` maps to it
    card: tuple[str, ...] = ()  # params a canvas card always shows (others only when they differ from the default)
    samples: tuple[Sample, ...] = ()  # cases the contract test runs (tests/engine/test_layers_contract.py)
    # computes each position along the leading dimensions alone (element-wise, or over the last ones), so import
    # may apply it to a time-major tensor as it is
    per_position: bool = False
    # mixes positions of a sequence (recurrent, attention): the monitor profiles ||dL/dx_t|| at its input
    sequence: bool = False
    attention: bool = False  # attends over a sequence: the monitor keeps its attention maps
    inside: str = ""  # how a layer made of several parts computes, in plain lines, for the docs

    @property
    def initializable(self) -> bool:
        return issubclass(self.params, WeightedParams)

    def input_port(self, name: str) -> InputPort | None:
        return next((p for p in self.inputs if p.name == name), None)


REGISTRY: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    """Add a layer type; a type is declared exactly once."""
    if spec.type in REGISTRY:
        raise ValueError(f"layer type {spec.type!r} is already registered")
    if spec.category not in CATEGORIES:
        raise ValueError(f"unknown category {spec.category!r}")
    REGISTRY[spec.type] = spec
    return spec


def first_input(inputs: Inputs) -> TensorMeta:
    """The meta of the tensor arriving at the `in` port."""
    return inputs["in"][0]


def shape_text(shape: tuple[int, ...]) -> str:
    """A sample shape as users read it: '(16,)', '(3, 8, 8)'."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def sample_dim(dim: int, shape: tuple[int, ...]) -> int:
    """The index in a sample's shape of torch dimension `dim` (where 0 is the batch); ValueError if none."""
    rank = len(shape)
    index = dim - 1 if dim >= 0 else rank + dim
    choices = "1 or -1" if rank == 1 else f"1 to {rank} or -1 to -{rank}"
    if dim == 0 or dim == -rank - 1:
        raise ValueError(f"dim {dim} is the batch dimension; use {choices}")
    if not 0 <= index < rank:
        raise ValueError(f"dim {dim} is out of range for input shape {shape_text(shape)}; use {choices}")
    return index
