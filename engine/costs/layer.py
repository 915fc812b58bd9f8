"""One layer's costs, counted by torch on fake tensors: FLOPs, and the storages autograd keeps for backward.

The layer runs in training mode with gradients on, under `FlopCounterMode` (FLOPs are 2 x MACs for matmul and
convolution) and `saved_tensors_hooks`, at two batch sizes, so that every count is exact as `fixed + per_sample *
batch`; a recurrent layer runs on 2- and 3-step sequences and its counts are extended to the real length (every
step repeats the same work). An input that its producer made strided (an expand, a select, a transpose) is
built with the same strides, so a layer that copies it is seen copying it. Results are cached per (type, params,
input shapes, which inputs carry gradients, strided inputs' layouts).
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from ..document import NodeBase
from ..layers import TensorMeta
from .fence import fenced

_BATCHES = (2, 3)      # batch sizes of the fake runs (batch norm refuses a batch of one in training)
_STEPS = (2, 3)        # sequence lengths a recurrent layer runs on, when its real sequence is longer
_CACHE_SIZE = 16_384


class Bytes(NamedTuple):
    """A byte count that grows with the batch: fixed + per_sample * batch."""

    fixed: int = 0
    per_sample: int = 0

    def at(self, batch: int) -> int:
        return self.fixed + self.per_sample * batch

    def __add__(self, other: "Bytes") -> "Bytes":
        return Bytes(self.fixed + other.fixed, self.per_sample + other.per_sample)


@dataclass(frozen=True)
class LayerCost:
    """What one layer costs on its inputs, cached. A slot is (port, index, part): one tensor arriving at or leaving
    a port (`part` indexes an LSTM state's (h, c)). Outputs either alias an input slot (a view: flatten, repeat)
    or own a storage of their own, which the layer may itself keep for backward."""

    macs: int                                   # one sample
    internal: Bytes                             # saved tensors that are neither inputs, outputs nor weights
    storages: tuple[Bytes, ...]                 # the distinct storages of the outputs
    output_storage: dict[tuple, int]            # output slot -> index in storages
    aliases: dict[tuple, tuple]                 # output slot -> the input slot whose storage it shares
    saved_storages: frozenset[int]              # indexes of output storages the layer keeps for backward
    saved_inputs: frozenset[tuple]              # input slots the layer keeps for backward
    needs_grad: dict[tuple, bool]               # output slot -> whether a gradient flows back through it
    layouts: dict[tuple, tuple] = field(default_factory=dict)   # output slot -> its Layout per batch size, if strided
    weight_bytes: int = 0                       # parameters and buffers
    trainable_values: int = 0
    trainable_tensors: int = 0


class Layout(NamedTuple):
    """How a strided output (an expand, a select, a transpose) lies in its storage at one batch size: a layer fed
    with it may copy it (a linear layer reshaping an expanded input keeps the copy), so the next run repeats it."""

    batch: int
    stride: tuple[int, ...]
    offset: int
    numel: int        # of the storage


_cache: dict[tuple, LayerCost | str] = {}
_lock = threading.Lock()


def layer_cost(node: NodeBase, inputs: dict[str, list], grads: tuple, layouts: tuple = ()) -> LayerCost | str:
    """The layer's costs on these inputs: `grads` names the input slots a gradient flows back through, `layouts`
    pairs the strided ones with their Layouts (as their producers' LayerCost.layouts give them)."""
    key = (node.type, node.params.model_dump_json(), tuple((k, tuple(v)) for k, v in inputs.items()), grads, layouts)
    with _lock:
        if key not in _cache:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            with fenced():   # no other thread's garbage collection while torch runs the fake layer (a segfault)
                _cache[key] = _measure(node, inputs, frozenset(grads), dict(layouts))
        return _cache[key]


class _Run(NamedTuple):
    """One fake forward pass: FLOPs, bytes of what autograd kept, and the LayerCost fields that do not depend on
    the batch size or the sequence length (`layout`)."""

    flops: int
    internal: int
    storages: tuple[int, ...]
    layouts: dict       # output slot -> Layout, for the strided outputs
    layout: dict


def _measure(node: NodeBase, inputs: dict[str, list], grads: frozenset, layouts: dict) -> LayerCost | str:
    """Run the layer at two batch sizes (and, for a long sequence, two lengths) and fit exact linear counts."""
    steps = _sequence_length(node, inputs)
    lengths = _STEPS if steps and steps > _STEPS[-1] else (steps,)
    try:
        runs = {(batch, length): _run(node, _with_length(inputs, length), grads, layouts, batch)
                for batch in _BATCHES for length in lengths}
    except Exception as error:  # torch reports failures with many exception types
        lines = str(error).strip().splitlines()
        return lines[0] if lines else type(error).__name__
    first = runs[(_BATCHES[0], lengths[0])]

    def fit(value) -> Bytes:
        at_length = [_extend([value(runs[(batch, length)]) for length in lengths], lengths, steps)
                     for batch in _BATCHES]
        (b0, b1), (v0, v1) = _BATCHES, at_length
        per_sample = (v1 - v0) // (b1 - b0)
        return Bytes(v0 - per_sample * b0, per_sample)

    # a recurrent layer's strided output (its state) does not depend on the sequence length
    strided = {slot: tuple(runs[(batch, lengths[-1])].layouts[slot] for batch in _BATCHES) for slot in first.layouts}
    return LayerCost(
        macs=fit(lambda run: run.flops).per_sample // 2, internal=fit(lambda run: run.internal),
        storages=tuple(fit(lambda run, i=i: run.storages[i]) for i in range(len(first.storages))), layouts=strided,
        **first.layout)


def _sequence_length(node: NodeBase, inputs: dict[str, list]) -> int | None:
    """The step count of a recurrent layer's input sequence (None for other layers)."""
    return inputs["in"][0].shape[0] if node.spec.step_ports else None


def _with_length(inputs: dict[str, list], length: int | None) -> dict[str, list]:
    if length is None:
        return inputs
    return {**inputs, "in": [TensorMeta((length, *m.shape[1:]), m.dtype) for m in inputs["in"]]}


def _extend(values: list[int], lengths: tuple, steps: int | None) -> int:
    """The count at the real sequence length, from counts at two shorter ones (every step adds the same)."""
    if len(values) == 1:
        return values[0]
    (v0, v1), (l0, l1) = values, lengths
    return v0 + (v1 - v0) * (steps - l0) // (l1 - l0)


def _run(node: NodeBase, inputs: dict[str, list], grads: frozenset, layouts: dict, batch: int) -> _Run:
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils.flop_counter import FlopCounterMode

    spec = node.spec
    with torch.device("meta"):
        module = spec.build(node.params, inputs).train()
    mkldnn = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False   # oneDNN's LSTM kernel is opaque to the counter: use torch's own steps
    try:
        with _fake_mode():
            weights = {name: torch.empty(t.shape, dtype=t.dtype, requires_grad=t.requires_grad)
                       for name, t in [*module.named_parameters(), *module.named_buffers()]}
            args = {(port, index): _fake(meta, batch, (port, index), grads, layouts)
                    for port, metas in inputs.items() for index, meta in enumerate(metas)}
            kept = {}

            def pack(tensor):
                kept[StorageWeakRef(tensor.untyped_storage())] = tensor.untyped_storage().nbytes()
                return tensor
            with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(pack, _same):
                result = torch.func.functional_call(
                    module, weights, tuple(v for (port, _), v in args.items() if port == "in"),
                    {port: v for (port, _), v in args.items() if port != "in"})
    finally:
        torch.backends.mkldnn.enabled = mkldnn
    outputs = dict(zip(spec.outputs, result if len(spec.outputs) > 1 else (result,)))
    return _sort_kept(kept, counter.get_total_flops(), args, outputs, weights)


@functools.cache
def _fake_mode() -> FakeTensorMode:
    return FakeTensorMode(allow_fallback_kernels=False)


def _fake(meta, batch: int, where: tuple, grads: frozenset, layouts: dict):
    """The fake input at `where` (port, index): strided as its producer made it, requiring grad where the graph
    sends a gradient back through it; a tuple for an LSTM state."""
    if not isinstance(meta, TensorMeta):
        return tuple(_tensor(m, batch, (*where, part), grads, layouts) for part, m in enumerate(meta))
    return _tensor(meta, batch, (*where, 0), grads, layouts)


def _tensor(meta: TensorMeta, batch: int, slot: tuple, grads: frozenset, layouts: dict) -> torch.Tensor:
    grad = slot in grads
    layout = next((lay for lay in layouts.get(slot, ()) if lay.batch == batch), None)
    if layout is None:
        return torch.empty((batch, *meta.shape), dtype=meta.dtype, requires_grad=grad)
    base = torch.empty(layout.numel, dtype=meta.dtype, requires_grad=grad)
    return base.as_strided((batch, *meta.shape), layout.stride, layout.offset)


def _same(tensor):
    return tensor


def _slots(values: dict) -> dict[tuple, torch.Tensor]:
    """(port, index) -> value (a tensor or an LSTM state pair) as (port, index, part) -> tensor."""
    slots = {}
    for (port, index), value in values.items():
        for part, tensor in enumerate(value if isinstance(value, tuple) else (value,)):
            slots[(port, index, part)] = tensor
    return slots


def _sort_kept(kept: dict, flops: int, args: dict, outputs: dict, weights: dict) -> _Run:
    """Each kept storage is a weight's (not counted: weights have their own total), an input's, an output's
    or the layer's own."""
    from torch.multiprocessing.reductions import StorageWeakRef

    held = {StorageWeakRef(t.untyped_storage()) for t in weights.values()}
    ins = {StorageWeakRef(t.untyped_storage()): slot for slot, t in _slots(args).items()}
    outs = _slots({(port, 0): value for port, value in outputs.items()})
    storages, output_storage, aliases = [], {}, {}
    refs = []
    for slot, tensor in outs.items():
        ref = StorageWeakRef(tensor.untyped_storage())
        if ref in ins:
            aliases[slot] = ins[ref]
            continue
        if ref not in refs:
            refs.append(ref)
            storages.append(tensor.untyped_storage().nbytes())
        output_storage[slot] = refs.index(ref)
    internal = sum(size for ref, size in kept.items() if ref not in held and ref not in ins and ref not in refs)
    trainable = [t for t in weights.values() if t.requires_grad]
    strided = {slot: Layout(t.shape[0], tuple(t.stride()), t.storage_offset(),
                            t.untyped_storage().nbytes() // t.itemsize)
               for slot, t in outs.items() if not t.is_contiguous()}
    return _Run(flops, internal, tuple(storages), strided, dict(
        output_storage=output_storage, aliases=aliases,
        saved_storages=frozenset(i for i, ref in enumerate(refs) if ref in kept),
        saved_inputs=frozenset(ins[ref] for ref in kept if ref in ins),
        needs_grad={slot: tensor.requires_grad for slot, tensor in outs.items()},
        weight_bytes=sum(t.numel() * t.element_size() for t in weights.values()),
        trainable_values=sum(t.numel() for t in trainable), trainable_tensors=len(trainable)))
