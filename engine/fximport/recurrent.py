"""torch's recurrent modules in an imported graph: the (output, state) tuple, states in torch's (layers, N, H)
layout, time-major sequences, all as ports of LayerLoom's batch-first recurrent layers."""
from __future__ import annotations

import dataclasses

from torch import fx, nn

from ..layers.patterns import Layer, Port, require
from .values import Failed, FinalState, TorchRecurrent


class RecurrentCalls:
    """The part of GraphConverter that calls torch's nn.RNN, nn.LSTM and nn.GRU and indexes what they return."""

    def _torch_recurrent(self, node: fx.Node, module: nn.RNNBase, layer: Layer, args: tuple):
        """torch's recurrent module: the sequence time-major unless batch_first, the state (layers, N, H); both
        laid out as LayerLoom's batch-first ports, which the tensors' layouts record."""
        sequence = "batch" if module.batch_first else "time"
        x = args[0]
        require(not isinstance(x, Port) or x.layout == sequence,
                f"batch_first={module.batch_first} reads dimension {0 if module.batch_first else 1} as the batch, "
                f"but the batch is in dimension {1 if module.batch_first else 0} here")
        named = ()
        if len(args) == 2 and args[1] is not None:
            initial = self._state_port(args[1], isinstance(module, nn.LSTM))
            named = (("state", initial),)
        layer = dataclasses.replace(layer, inputs=(x,), named=named)
        value = self._add(node, layer, weights=module, layout=sequence)
        if not isinstance(value, Port) or isinstance(value, Failed):
            return value
        return TorchRecurrent(value.node, isinstance(module, nn.LSTM), module.bidirectional, sequence)

    def _state_port(self, state, lstm: bool):
        """An initial state in torch's layout, as the port that holds it: a GRU's h (a final state or an input
        in (layers, N, H)), or an LSTM's (h, c) pair from another LSTM."""
        if lstm and isinstance(state, tuple) and len(state) == 2 and all(isinstance(s, FinalState) for s in state):
            parts, of = {s.part for s in state}, {s.of for s in state}
            require(parts == {"h", "c"} and len(of) == 1 and state[0].part == "h",
                    "an LSTM's initial state must be another LSTM's final (h, c)")
            return Port(state[0].of.node, "state", layout="time")
        if lstm and isinstance(state, FinalState) and state.part == "pair":
            return Port(state.of.node, "state", layout="time")
        require(not lstm, "an LSTM's initial (h, c) made of separate tensors has no LayerLoom port")
        state = as_tensor(state)
        require(isinstance(state, Port) and state.layout == "time",
                "the initial state must be in torch's (layers * directions, N, H) layout")
        return state

    def _recurrent_item(self, node: fx.Node, container, item):
        """out, state = rnn(x); (h, c) = state; h[-1]: ports, final states, and layers that take one of them."""
        if isinstance(container, TorchRecurrent):
            require(item in (0, 1, -1, -2), f"index {item!r} of a recurrent layer's (output, state) tuple")
            if item in (0, -2):
                info = self.infos.get(node)
                return Port(container.node, shape=self._shape(node), dtype=getattr(info, "dtype", None),
                            layout=container.layout)
            return FinalState(container, "pair" if container.lstm else "h")
        if isinstance(container, FinalState) and container.part == "pair":
            require(item in (0, 1, -1, -2), f"index {item!r} of an LSTM's (h, c) state")
            return FinalState(container.of, "h" if item in (0, -2) else "c")
        require(isinstance(item, int), f"index {item!r} of a final state: only h[i], one layer's, is supported")
        if item == -1 and not container.of.bidirectional and container.part == "h":  # the output's last step
            layer = Layer("last_step", {}, (Port(container.of.node),))
            return self._add(node, layer, f"{container.of.node}_last")
        select = Layer("select", {"dim": 1, "index": item}, (as_tensor(container),))
        return self._add(node, select, f"{container.of.node}_state", layout="batch")


def as_tensor(value):
    """A recurrent module's final state used as a tensor: its state port, in torch's (layers, N, H) layout."""
    if isinstance(value, FinalState):
        require(value.part == "h" and not value.of.lstm or value.part == "pair",
                "uses an LSTM's h or c alone: LayerLoom's LSTM state is the (h, c) pair")
        return Port(value.of.node, "state", layout="time")
    return value
