"""What a layer declares for `layerloom import`: the torch modules, functions and tensor methods it stands for.

A converter returns a `Layer`, or raises `Unsupported` with the reason when the layer does not compute exactly
what the torch call computes. Module converters read the module's attributes; function and method converters
take the call's arguments under torch's own signature, with the model's tensors as `Port`s.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable


class Unsupported(Exception):
    """Why a module or call has no faithful LayerLoom equivalent."""


@dataclass(frozen=True)
class Layer:
    """A node to create; `type` None passes its one input through. `inputs` arrive at the `in` port, `named`
    ones at other ports ((port, tensor) pairs). `shape` is the per-sample output shape the layer must have
    (checked after shape inference); `inplace` marks a call that overwrites its input."""

    type: str | None
    params: dict = field(default_factory=dict)
    inputs: tuple = ()
    inplace: bool = False
    shape: tuple[int, ...] | None = None
    named: tuple = ()
    weights: tuple = ()  # (state_dict key, Param, shape or None) of the module's tensors the node holds
    layout: str | None = None  # for a pass-through (type None): the layout of the tensor passed on
    refused: dict = field(default_factory=dict)  # output index -> why the model may not use that output


@dataclass(frozen=True)
class Port:
    """A tensor of the document being built: an output port of one of its nodes. `shape` is the torch tensor's
    (batch first); `origin` is the layer that made it, known when the tensor is used once, so that a converter
    may fold it into its own layer (a + b + c becomes one add)."""

    node: str
    port: str = "out"
    shape: tuple[int, ...] | None = field(default=None, compare=False)
    origin: Layer | None = field(default=None, compare=False, repr=False)
    dtype: Any = field(default=None, compare=False)  # the torch tensor's dtype
    # where the torch tensor keeps the batch: "batch" first, as in the document; "time" second (a time-major
    # sequence, or a recurrent state in torch's (layers, N, H)); "flat" merged with the steps, as (T * N, F)
    layout: str = field(default="batch", compare=False)

    @property
    def sample(self) -> tuple[int, ...]:
        """The shape of one sample."""
        return self.shape[1:]


@dataclass(frozen=True)
class Param:
    """A parameter or buffer of the module used directly in forward (self.scale), `name` being its path."""

    name: str
    tensor: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class BatchSize:
    """`x.size(0)` or `x.shape[0]` of the tensor `of`: usable only where a size keeps the batch, such as a
    reshape's first."""

    of: Port | None = None


class _Training:
    """A call's argument that follows the module's mode, as in F.dropout(x, p, self.training): True when traced
    in training mode and False in eval mode."""

    def __repr__(self) -> str:
        return "self.training"


TRAINING = _Training()


@dataclass(frozen=True)
class Patterns:
    """Module classes (matched exactly), functions (or a dotted path, for a package LayerLoom does not depend on)
    and tensor method names, each with its converter; `subclasses` are base classes whose subclasses the
    converter may accept, when no class matches exactly."""

    modules: dict[type, Callable[[Any], Layer]] = field(default_factory=dict)
    subclasses: dict[type, Callable[[Any], Layer]] = field(default_factory=dict)
    # module classes whose converter also takes the call's arguments: convert(module, *args, **kwargs)
    calls: dict[type, Callable[..., Layer]] = field(default_factory=dict)
    # module classes that become several layers one after another: convert(module) -> [(Layer, submodule)], each
    # node holding its submodule's weights
    chains: dict[type, Callable[[Any], list]] = field(default_factory=dict)
    # reads back the module class its export code defines (marked with `layerloom_type`, traced as a whole)
    exported: Callable[[Any], Layer] | None = None
    functions: dict[Callable, Callable[..., Layer]] = field(default_factory=dict)
    methods: dict[str, Callable[..., Layer]] = field(default_factory=dict)


def require(ok: bool, reason: str) -> None:
    if not ok:
        raise Unsupported(reason)


def one(value):
    """A 1d size: (k,) -> k."""
    return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value


def pair(value):
    """A 2d size: (k, k) -> k, (a, b) -> (a, b)."""
    if isinstance(value, (tuple, list)):
        return value[0] if len(set(value)) == 1 else tuple(value)
    return value


def not_batch(dim, what: str = "dim"):
    """A torch dimension that is a sample's, not the batch's."""
    require(dim != 0, f"{what} 0 is the batch dimension")
    return dim


def signature_of(function: Callable, module_class: type | None = None) -> inspect.Signature:
    """`function`'s signature; for a builtin without one, `input` followed by the module class's constructor
    arguments (F.gelu(input, approximate) mirrors nn.GELU(approximate))."""
    try:
        return inspect.signature(function)
    except ValueError:
        if module_class is None:
            raise
        first = inspect.Parameter("input", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return inspect.Signature([first, *inspect.signature(module_class).parameters.values()])


def bind(signature: inspect.Signature, args: tuple, kwargs: dict) -> dict:
    """The call's arguments by name, defaults filled in; Unsupported when they do not fit the signature."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        raise Unsupported(f"unexpected arguments ({error})") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def attributes(layer_type: str, names: tuple[str, ...]):
    """A module converter whose params are the module's attributes of the same names (and `inplace`, if any)."""
    def convert(module) -> Layer:
        params = {name: getattr(module, name) for name in names}
        return Layer(layer_type, params, inplace=bool(getattr(module, "inplace", False)))
    return convert


def call(layer_type: str, names: tuple[str, ...], function: Callable, module_class: type | None = None,
         inplace: bool = False):
    """A function or method converter: the input, then arguments named like the params; `inplace` (an argument,
    or a method such as relu_) marks a call that overwrites its input."""
    signature = signature_of(function, module_class)

    def convert(*args, **kwargs) -> Layer:
        values = bind(signature, args, kwargs)
        params = {name: values[name] for name in names if name in values}
        return Layer(layer_type, params, (values["input"],), inplace=inplace or bool(values.get("inplace")))
    return convert
