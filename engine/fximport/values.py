"""What an fx node's value is while a module is converted: a document port, a size, a tuple of ports, a refusal."""
from __future__ import annotations

import dataclasses
import re
from typing import Sequence

from torch import fx, nn

from ..errors import UserError
from ..layers.patterns import BatchSize, Port


class ImportFailure(UserError):
    """A module that cannot be imported; `lines` gives every reason, one per line."""

    def __init__(self, lines: Sequence[str] | str):
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


@dataclasses.dataclass(frozen=True)
class Failed(Port):
    """The value of a node that could not be mapped: a tensor of its torch shape, so that the calls using it are
    still checked, but of no document node."""

    node: str = ""


@dataclasses.dataclass(frozen=True)
class Sizes:
    """x.size() or x.shape: the batch size where the batch is, the known sizes elsewhere."""

    of: Port

    def __getitem__(self, index):
        sizes = self.entries()
        return sizes[index]

    def entries(self) -> tuple:
        return tuple(BatchSize(self.of) if dim == 0 else size for dim, size in enumerate(self.of.shape))


@dataclasses.dataclass(frozen=True)
class Outputs:
    """A layer's several results, returned as a tuple in the order of its output ports."""

    ports: tuple[Port, ...]


@dataclasses.dataclass(frozen=True)
class Refused:
    """An output of a layer that the model may not use, and why (attention weights averaged over heads)."""

    reason: str


@dataclasses.dataclass(frozen=True)
class TorchRecurrent:
    """The (output, final state) tuple of torch's nn.RNN, nn.LSTM or nn.GRU: the state in torch's layout."""

    node: str
    lstm: bool
    bidirectional: bool
    layout: str = "batch"  # of its output sequence


@dataclasses.dataclass(frozen=True)
class FinalState:
    """A torch recurrent module's final state, (layers * directions, N, H): `h`, `c` or the (h, c) pair."""

    of: TorchRecurrent
    part: str


def is_tensor(value) -> bool:
    return isinstance(value, Port)


def class_text(cls: type) -> str:
    """'torch.nn.Linear', or the module path of a class torch.nn does not export."""
    public = getattr(nn, cls.__name__, None) is cls
    return f"torch.nn.{cls.__name__}" if public else f"{cls.__module__}.{cls.__qualname__}"


def target_text(node: fx.Node, root: nn.Module) -> str:
    """What an fx node calls, as a user reads it: 'self.rnn, torch.nn.LSTM', 'torch.sin', 'Tensor.mul', 'Tensor.T'."""
    if node.op == "call_module":
        return f"self.{node.target}, {class_text(type(root.get_submodule(node.target)))}"
    if node.op == "call_function":
        if node.target is getattr and len(node.args) == 2:
            return f"Tensor.{node.args[1]}"
        module = getattr(node.target, "__module__", None)
        module = {"_operator": "operator", "torch._C._nn": "torch.nn.functional"}.get(module, module)
        return f"{module}.{node.target.__name__}" if module else node.target.__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return {"get_attr": f"self.{node.target}", "placeholder": "input", "output": "return"}[node.op]


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in ')


def source_line(node: fx.Node) -> str | None:
    """'models.py:42': the line of the model's code that made this node (torch's own frames skipped); a node
    fx records no trace for (an attribute such as x.T) takes its first user's."""
    for candidate in [node, *node.users]:
        frames = [m for m in _FRAME.finditer(candidate.stack_trace or "") if "/torch/" not in m["file"]]
        if frames:
            return f"{frames[-1]['file'].rsplit('/', 1)[-1]}:{frames[-1]['line']}"
    return None


def describe(node: fx.Node, root: nn.Module) -> str:
    """'relu (self.relu, torch.nn.ReLU) at models.py:42': how a problem names its node."""
    line = source_line(node)
    return f"{node.name} ({target_text(node, root)})" + (f" at {line}" if line else "")
