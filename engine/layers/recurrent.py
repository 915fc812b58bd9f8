"""Recurrent layers (RNN, LSTM, GRU), optionally bidirectional, with a `state` port for encoder-decoders.

Sequences are batch-first (N, T, F). The state travels batch-first too, (N, layers * directions, H),
so that every edge carries the batch in dimension 0; an LSTM's state is the pair (h, c).
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from .code import Code, Construct, arguments, changed, helper, torch_defaults
from .init import apply_init
from .io import Size
from .patterns import Layer, Patterns, require
from .registry import InputPort, LayerSpec, Sample, TensorMeta, WeightedParams, first_input, register, shape_text


class RecurrentParams(WeightedParams):
    hidden_size: Size = Field(64, description="Units in the hidden state.")
    num_layers: int = Field(1, ge=1, le=64, description="Stacked recurrent layers.")
    bidirectional: bool = Field(False, description="Also read the sequence backwards (BiRNN / BiLSTM).")
    return_sequences: bool = Field(
        True, description="True: output every step (many-to-many); false: only the final state (many-to-one).",
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout between stacked layers (needs num_layers >= 2).")


class RnnParams(RecurrentParams):
    nonlinearity: Literal["tanh", "relu"] = Field("tanh", description="Activation of the hidden state.")


class _Recurrent:
    """Mixin over torch's recurrent modules: batch-first state, many-to-one output, (out, state) result."""

    return_sequences: bool

    def forward(self, x: torch.Tensor, state=None):
        if state is not None:
            state = _map_state(state, lambda t: t.transpose(0, 1).contiguous())
        seq, final = super().forward(x, state)
        out = seq if self.return_sequences else self.last_output(final)
        return out, _map_state(final, lambda t: t.transpose(0, 1))

    def last_output(self, final) -> torch.Tensor:
        """The top layer's final hidden state, both directions joined: the many-to-one summary."""
        h = final[0] if isinstance(final, tuple) else final
        return torch.cat([h[-2], h[-1]], dim=-1) if self.bidirectional else h[-1]


class RNNLayer(_Recurrent, nn.RNN):
    pass


class LSTMLayer(_Recurrent, nn.LSTM):
    pass


class GRULayer(_Recurrent, nn.GRU):
    pass


def _map_state(state, fn):
    return tuple(fn(t) for t in state) if isinstance(state, tuple) else fn(state)


def state_meta(p: RecurrentParams, is_lstm: bool):
    """Meta of the state port: (layers * directions, hidden_size), paired for an LSTM."""
    meta = TensorMeta((p.num_layers * (2 if p.bidirectional else 1), p.hidden_size))
    return (meta, meta) if is_lstm else meta


def _builder(cls: type[nn.Module]):
    is_lstm = cls is LSTMLayer

    def build(p: RecurrentParams, inputs) -> nn.Module:
        shape = first_input(inputs).shape
        if len(shape) != 2:
            raise ValueError(f"expects a sequence (steps, features), got {shape_text(shape)}")
        if p.dropout > 0 and p.num_layers < 2:
            raise ValueError("dropout acts between stacked layers: set num_layers >= 2 or dropout 0")
        state_in = inputs.get("state")
        if state_in:
            want = state_meta(p, is_lstm)
            if state_in[0] != want:
                raise ValueError(f"state input is {_describe(state_in[0])} but this layer's state is {_describe(want)}")
        extra = {"nonlinearity": p.nonlinearity} if cls is RNNLayer else {}
        module = cls(
            shape[1], p.hidden_size, num_layers=p.num_layers, bidirectional=p.bidirectional,
            dropout=p.dropout, batch_first=True, **extra,
        )
        module.return_sequences = p.return_sequences
        return apply_init(module, p)
    return build


def _describe(meta) -> str:
    if isinstance(meta, tuple) and meta and isinstance(meta[0], TensorMeta):
        return "(h, c) of shape " + shape_text(meta[0].shape)
    return f"of shape {shape_text(meta.shape)}" if isinstance(meta, TensorMeta) else str(meta)


RECURRENT_HELPER = helper('''
def swap_batch(state):
    """(layers * directions, N, H) <-> (N, layers * directions, H); an LSTM's state is the pair (h, c)."""
    if isinstance(state, tuple):
        return tuple(t.transpose(0, 1).contiguous() for t in state)
    return state.transpose(0, 1).contiguous()


class Recurrent:
    """Mixin over nn.RNN, nn.LSTM and nn.GRU: batch-first sequences and states, and a many-to-one mode.

    forward returns (output, state). The state is batch first like every other tensor; with
    return_sequences=False the output is the top layer's final hidden state, both directions joined.
    """

    def __init__(self, input_size, hidden_size, return_sequences=True, device=None, **kwargs):
        super().__init__(input_size, hidden_size, batch_first=True, device=device, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x, state=None):
        sequence, final = super().forward(x, None if state is None else swap_batch(state))
        if self.return_sequences:
            out = sequence
        else:
            h = final[0] if isinstance(final, tuple) else final
            out = torch.cat([h[-2], h[-1]], dim=-1) if self.bidirectional else h[-1]
        return out, swap_batch(final)
''')


def _code(cls: type[nn.Module]):
    name = cls.__name__
    defaults = torch_defaults(nn.RNNBase, cls) | {"return_sequences": True}
    doc = f'"""nn.{name} with batch-first states and return_sequences."""'
    subclass = helper(f"class {name}(Recurrent, nn.{name}):\n    {doc}")

    def code(p: RecurrentParams, shape) -> Code:
        values = changed(p.model_dump(exclude={"init", "init_gain", "hidden_size"}), defaults)
        return Construct(name, arguments(shape[-1], p.hidden_size, **values), (RECURRENT_HELPER, subclass))
    return code


def _import(layer_type: str):
    def convert(m) -> Layer:
        require(m.bias, "bias=False is not supported: LayerLoom's recurrent layers have biases")
        require(getattr(m, "proj_size", 0) == 0, "proj_size (a projected LSTM) is not supported")
        params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bidirectional": m.bidirectional,
                  "dropout": m.dropout if m.num_layers > 1 else 0.0}  # torch ignores dropout on a single layer
        if layer_type == "rnn":
            params["nonlinearity"] = m.nonlinearity
        return Layer(layer_type, params)
    return convert


def _import_batch_first(m: nn.RNNBase) -> Layer:
    """A LayerLoom recurrent layer (compiled, or the classes of an exported file): batch-first states, the
    (out, state) pair of its ports, and return_sequences."""
    base = next(cls for cls in TORCH_RECURRENT if isinstance(m, cls))
    require(hasattr(m, "return_sequences") and m.batch_first,
            f"a subclass of torch.nn.{base.__name__}: its forward may compute something else")
    layer = _import(base.__name__.lower())(m)
    return Layer(layer.type, {**layer.params, "return_sequences": m.return_sequences})


TORCH_RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)  # they return (output, final state), the state in torch's layout
_PORTS = (InputPort("in"), InputPort("state", optional=True))
_ALIASES = {"rnn": ("elman", "vanilla rnn", "recurrent"), "lstm": ("long short-term memory",),
            "gru": ("gated recurrent unit",)}
_SEQUENCE = {"in": [(5, 3)]}
for _type, _cls, _torch, _params, _name, _doc, _samples in [
    ("rnn", RNNLayer, nn.RNN, RnnParams, "RNN", "Plain (Elman) recurrent layer: h_t = f(W x_t + U h_(t-1) + b).",
     (Sample(_SEQUENCE, {"hidden_size": 8, "nonlinearity": "relu"}),
      Sample({"in": [(5, 3)], "state": [(2, 8)]}, {"hidden_size": 8, "num_layers": 2}))),
    ("lstm", LSTMLayer, nn.LSTM, RecurrentParams, "LSTM",
     "Long short-term memory: gated cell state that carries long-range memory.",
     (Sample(_SEQUENCE, {"hidden_size": 8, "bidirectional": True}),
      Sample(_SEQUENCE, {"hidden_size": 8, "num_layers": 2, "dropout": 0.1, "return_sequences": False}))),
    ("gru", GRULayer, nn.GRU, RecurrentParams, "GRU", "Gated recurrent unit: a lighter gated alternative to the LSTM.",
     (Sample(_SEQUENCE, {"hidden_size": 8, "bidirectional": True, "return_sequences": False}),
      Sample({"in": [(5, 3)], "state": [(1, 8)]}, {"hidden_size": 8}))),
]:
    register(LayerSpec(
        type=_type, category="Recurrent", params=_params, build=_builder(_cls), inputs=_PORTS,
        outputs=("out", "state"), step_ports=("out",), palette_name=_name, doc=_doc,
        presets={f"Bi{_name}": {"bidirectional": True}}, aliases=_ALIASES[_type],
        export=_code(_torch), card=("hidden_size", "num_layers", "bidirectional"), samples=_samples, sequence=True,
        imports=Patterns(modules={_torch: _import(_type)}, subclasses={_torch: _import_batch_first}),
    ))
