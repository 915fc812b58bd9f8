"""The advice a diagnosis gives: the remedy text that fits the model, and the one-change variants to test it."""
from __future__ import annotations

from dataclasses import dataclass

from ..document import Architecture, is_instance
from ..validate import check
from ..config import TrainingConfig
from .diagnosis import Diagnosis, Finding

# Which remedy kinds (engine.remedies) address each problem, in the order the advice gives them.
ADDRESSES = {
    ("vanishing", "gradients"): ("relu", "init", "batchnorm", "residual"),
    ("vanishing", "bptt"): ("lstm",),
    ("exploding", "gradients"): ("clip", "lstm", "weight_decay"),
    ("exploding", "bptt"): ("clip", "lstm", "weight_decay"),
    ("dead_relu", "activations"): ("init", "batchnorm"),
    ("saturation", "activations"): ("init", "batchnorm", "relu"),
    ("uniform_attention", "attention"): ("positions",),
}


@dataclass(frozen=True)
class ModelFacts:
    """What the advice depends on: layer types, initializations, training settings and the variants that apply."""

    types: dict[str, str]
    inits: dict[str, tuple[str, float]]
    clipping: bool = False
    weight_decay: float = 0.0
    applicable: tuple[str, ...] = ()

    @classmethod
    def of(cls, arch: Architecture, config: TrainingConfig | None = None) -> "ModelFacts":
        from ..remedies import applicable
        layers = [(path, node) for path, node, _ in check(arch)[1].paths() if not is_instance(node)]
        return cls(
            types={path: n.type for path, n in layers},
            inits={path: (n.params.init, n.params.init_gain) for path, n in layers if n.spec.initializable},
            clipping=bool(config and config.grad_clip),
            weight_decay=config.optimizer.weight_decay if config else 0.0,
            applicable=tuple(applicable(arch)),
        )

    def has(self, *types: str) -> bool:
        return any(t in types for t in self.types.values())

    @property
    def small_init(self) -> bool:
        return any(init == "normal_0.01" or gain < 1 for init, gain in self.inits.values())

    @property
    def large_init(self) -> bool:
        return any(gain > 1 for _, gain in self.inits.values())

    def diagnosis(self, finding: Finding) -> Diagnosis:
        """The finding told for this model."""
        kinds = ADDRESSES.get((finding.kind, finding.source), ())
        return Diagnosis(finding.kind, tuple(finding.nodes), finding.message, self._remedy(finding), finding.key,
                         finding.source, tuple(k for k in kinds if k in self.applicable))

    def _remedy(self, finding: Finding) -> str:
        if finding.kind == "exploding":
            return _sentence(
                None if self.clipping else 'clip the gradient (training.grad_clip: {"max_norm": 1.0})',
                "use an LSTM or GRU instead of a plain RNN" if self.has("rnn") else None,
                "start from smaller weights (init_gain 1 or below, lecun_normal or orthogonal init)" if self.large_init
                else "lower the learning rate",
                "add weight decay to keep the weights small" if self.weight_decay == 0 else None)
        if finding.kind == "vanishing" and finding.source == "bptt":
            gated = any(self.types.get(n) in ("lstm", "gru") for n in finding.nodes)
            return _sentence("use orthogonal init for the recurrent weights, or shorter sequences" if gated
                             else "use an LSTM or GRU, whose gated memory carries the gradient back through time")
        if finding.kind == "vanishing":
            return _sentence(
                "use ReLU instead of sigmoid or tanh" if self.has("sigmoid", "tanh") else None,
                "use kaiming init for ReLU layers (lecun_normal before tanh or sigmoid) with init_gain 1"
                if self.small_init else None,
                None if self.has("batchnorm", "layernorm") else "add batchnorm between layers",
                None if self.has("add") else "add residual (skip) connections")
        if finding.kind == "collapsed_attention":
            return _sentence("scale the attention logits down: start from smaller weights (init_gain below 1)",
                             None if self.has("layernorm", "transformer_encoder_layer")
                             else "add a layer norm before the attention",
                             "lower the learning rate, or warm it up over the first steps")
        if finding.kind == "uniform_attention":
            return _sentence(None if self.has("positional_encoding", "positional_embedding") else
                             "give it positional information: a positional_encoding or positional_embedding before it",
                             "start from larger weights (init_gain 1 or above)" if self.small_init else None,
                             "train longer, or warm the learning rate up so that it can rise")
        if finding.kind == "dead_relu":
            return _sentence("use leaky ReLU or ELU", "use kaiming init", "lower the learning rate",
                             None if self.has("batchnorm") else "add batchnorm before the ReLU")
        return _sentence("start from smaller weights (lecun_normal or xavier init, init_gain below 1)",
                         None if self.has("batchnorm") else "add batchnorm before the activation", "use ReLU instead")


def _sentence(*parts: str | None) -> str:
    text = "; ".join(p for p in parts if p)
    return text[:1].upper() + text[1:] + "."
