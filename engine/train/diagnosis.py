"""Diagnosis: rules that read a logged step's numbers, name the problem and give the remedy that fits the model."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ..config import TrainingConfig
from ..document import Architecture
from .events import DiagnosisEvent, StepEvent

EXPLODING_NORM = 1e3
VANISHING_RATIO = 1e-3
DEAD_FRACTION = 0.5
SATURATED_FRACTION = 0.5


@dataclass(frozen=True)
class ModelFacts:
    """What the remedies depend on: layer types, initializations and the training settings."""

    types: dict[str, str]
    inits: dict[str, tuple[str, float]]
    clipping: bool = False
    weight_decay: float = 0.0

    @classmethod
    def of(cls, arch: Architecture, config: TrainingConfig | None = None) -> "ModelFacts":
        return cls(
            types={n.id: n.type for n in arch.nodes},
            inits={n.id: (n.params.init, n.params.init_gain) for n in arch.nodes if n.spec.initializable},
            clipping=bool(config and config.grad_clip),
            weight_decay=config.optimizer.weight_decay if config else 0.0,
        )

    def has(self, *types: str) -> bool:
        return any(t in types for t in self.types.values())

    @property
    def small_init(self) -> bool:
        return any(init == "normal_0.01" or gain < 1 for init, gain in self.inits.values())

    @property
    def large_init(self) -> bool:
        return any(gain > 1 for _, gain in self.inits.values())


@dataclass(frozen=True)
class Diagnosis:
    """A problem: its kind, the layers concerned, what the numbers say and what to change."""

    kind: str
    nodes: tuple[str, ...]
    message: str
    remedy: str


def _remedy(*parts: str | None) -> str:
    text = "; ".join(p for p in parts if p)
    return text[:1].upper() + text[1:] + "."


def _exploding_remedy(facts: ModelFacts) -> str:
    return _remedy(
        None if facts.clipping else 'clip the gradient (training.grad_clip: {"max_norm": 1.0})',
        "use an LSTM or GRU instead of a plain RNN" if facts.has("rnn") else None,
        "start from smaller weights (init_gain 1 or below, lecun_normal or orthogonal init)" if facts.large_init
        else "lower the learning rate",
        "add weight decay to keep the weights small" if facts.weight_decay == 0 else None,
    )


def exploding(event: StepEvent, facts: ModelFacts) -> list[Diagnosis]:
    total = event.grad_norm_total
    found = []
    if not math.isfinite(total) or total > EXPLODING_NORM:
        nodes = [n for n, g in event.grad_norm.items() if not math.isfinite(g) or g > EXPLODING_NORM]
        if not nodes and event.grad_norm:
            nodes = [max(event.grad_norm, key=event.grad_norm.get)]
        size = "not finite" if not math.isfinite(total) else f"{total:.3g}, above {EXPLODING_NORM:g}"
        found.append(Diagnosis("exploding", tuple(nodes), f"the gradient norm is {size} at step {event.step}",
                               _exploding_remedy(facts)))
    for name, profile in _profiles(event):
        typical = statistics.median(profile)   # not the last step alone: it may be trivially easy (an end marker)
        if typical > 0 and profile[0] / typical > EXPLODING_NORM:
            found.append(Diagnosis("exploding", (name,), (
                f"in '{name}' ||dL/dh_t|| at the first step is {profile[0] / typical:.1e} times its median over time"),
                _exploding_remedy(facts)))
    return found


def vanishing(event: StepEvent, facts: ModelFacts) -> list[Diagnosis]:
    found = []
    norms = list(event.grad_norm.items())
    if len(norms) >= 2 and 0 < norms[-1][1] < math.inf:
        (first, low), (last, high) = norms[0], norms[-1]
        if low / high < VANISHING_RATIO:
            nodes = tuple(n for n, g in norms[:-1] if g < VANISHING_RATIO * high)
            found.append(Diagnosis("vanishing", nodes, (
                f"the gradient at '{first}' is {low / high:.1e} times that at '{last}': the first layers barely learn"),
                _remedy(
                    "use ReLU instead of sigmoid or tanh" if facts.has("sigmoid", "tanh") else None,
                    "use kaiming init for ReLU layers (lecun_normal before tanh or sigmoid) with init_gain 1"
                    if facts.small_init else None,
                    None if facts.has("batchnorm", "layernorm") else "add batchnorm between layers",
                    None if facts.has("add") else "add residual (skip) connections",
                )))
    for name, profile in _profiles(event):
        early, late = profile[0], profile[-1]
        if late > 0 and early / late < VANISHING_RATIO:
            gated = facts.types.get(name) in ("lstm", "gru")
            found.append(Diagnosis("vanishing", (name,), (
                f"in '{name}' ||dL/dh_t|| at the first step is {early / late:.1e} times its value at the last: "
                "it cannot learn from early inputs"),
                _remedy("use orthogonal init for the recurrent weights, or shorter sequences" if gated
                        else "use an LSTM or GRU, whose gated memory carries the gradient back through time")))
    return found


def _profiles(event: StepEvent):
    """(layer, ||dL/dh_t|| from the earliest step processed to the last) per profiled direction."""
    for name, profile in (event.bptt or {}).items():
        if len(profile) >= 2:
            yield name, list(profile)
    for name, profile in (event.bptt_reverse or {}).items():
        if len(profile) >= 2:
            yield name, list(reversed(profile))


def unhealthy_activations(event: StepEvent, facts: ModelFacts) -> list[Diagnosis]:
    found = []
    stats = event.activations or {}
    dead = {n: s.dead_fraction for n, s in stats.items() if (s.dead_fraction or 0) > DEAD_FRACTION}
    if dead:
        worst = max(dead, key=dead.get)
        found.append(Diagnosis("dead_relu", tuple(dead), (
            f"{dead[worst]:.0%} of the units of '{worst}' output zero for every sample, so they no longer learn"),
            _remedy("use leaky ReLU or ELU", "use kaiming init", "lower the learning rate",
                    None if facts.has("batchnorm") else "add batchnorm before the ReLU")))
    saturated = {n: s.saturated_fraction for n, s in stats.items() if (s.saturated_fraction or 0) > SATURATED_FRACTION}
    if saturated:
        worst = max(saturated, key=saturated.get)
        found.append(Diagnosis("saturation", tuple(saturated), (
            f"{saturated[worst]:.0%} of the outputs of '{worst}' sit at their bounds, where the slope is almost zero"),
            _remedy("start from smaller weights (lecun_normal or xavier init, init_gain below 1)",
                    None if facts.has("batchnorm") else "add batchnorm before the activation", "use ReLU instead")))
    return found


RULES = (exploding, vanishing, unhealthy_activations)


def diagnose(event: StepEvent, facts: ModelFacts) -> list[Diagnosis]:
    """Every problem the step's numbers show."""
    return [d for rule in RULES for d in rule(event, facts)]


class Diagnoser:
    """Turns logged steps into diagnosis events, each (kind, layers) reported once per run."""

    def __init__(self, facts: ModelFacts):
        self.facts = facts
        self._reported: set[tuple[str, tuple[str, ...]]] = set()

    def __call__(self, event: StepEvent) -> list[DiagnosisEvent]:
        events = []
        for d in diagnose(event, self.facts):
            if (d.kind, d.nodes) not in self._reported:
                self._reported.add((d.kind, d.nodes))
                events.append(DiagnosisEvent(kind=d.kind, nodes=list(d.nodes), message=d.message, remedy=d.remedy,
                                             step=event.step))
        return events
