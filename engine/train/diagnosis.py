"""Diagnosis: one set of rules reads a run's latest numbers; every view of gradient health comes from them.

The rules (RULES) read the Evidence, the newest of each measurement (gradient norms at every logged step,
BPTT profiles and activation statistics at profiled steps), and return Findings. `node_health` turns the
findings into each node's level with the number behind it (canvas tints, tooltips, `layerloom probe`); the
Diagnoser turns them into diagnosis events with the remedy that fits the model, and into cleared events
once a problem is gone (the banner, events.jsonl).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .events import ActivationStats, ClearedEvent, DiagnosisEvent, DiagnosisKind, StepEvent, StepRows

EXPLODING_NORM = 1e3
VANISHING_RATIO = 1e-3
DEAD_FRACTION = 0.5
SATURATED_FRACTION = 0.5
COLLAPSED_ENTROPY = 0.05   # attention entropy, as a share of its maximum: every query looks at one key
UNIFORM_ENTROPY = 0.99     # ... every query looks at all keys alike
UNIFORM_AFTER = 200        # attention starts near uniform: it is a problem only once training has had time
CLEAR_AFTER = 2    # fresh measurements in a row without the problem before it counts as cleared

Level = Literal["healthy", "vanishing", "exploding", "dead", "saturated", "attention", "nonfinite"]
SEVERITY = ("healthy", "attention", "saturated", "dead", "vanishing", "exploding", "nonfinite")   # mildest first


@dataclass(frozen=True)
class NodeHealth:
    """One node's gradient health: its level and the number behind it, said in words by `note`."""

    level: Level
    value: float | None
    note: str


@dataclass
class Evidence:
    """The newest of each measurement of a run; `fresh` names those the latest step measured."""

    step: int = 0
    grad_norm: dict[str, float] = field(default_factory=dict)
    grad_total: float = 0.0
    profiles: dict[tuple[str, str], list[float]] = field(default_factory=dict)   # earliest time step first
    activations: dict[str, ActivationStats] = field(default_factory=dict)
    attention: dict[str, list[float]] = field(default_factory=dict)   # each head's entropy share, per layer
    fresh: frozenset[str] = frozenset()

    def update(self, event: StepEvent) -> "Evidence":
        self.step, self.grad_norm, self.grad_total = event.step, event.grad_norm, event.grad_norm_total
        fresh = {"gradients"}
        if event.bptt or event.bptt_reverse:
            fresh.add("bptt")
            self.profiles = {(name, "forward"): list(p) for name, p in (event.bptt or {}).items() if len(p) >= 2}
            self.profiles |= {(name, "reverse"): p[::-1] for name, p in (event.bptt_reverse or {}).items() if len(p) >= 2}
        if event.activations:
            fresh.add("activations")
            self.activations = dict(event.activations)
        if event.attention:
            fresh.add("attention")
            self.attention = {name: list(maps.entropy) for name, maps in event.attention.items()}
        self.fresh = frozenset(fresh)
        return self

    @classmethod
    def of(cls, event: StepEvent) -> "Evidence":
        return cls().update(event)


@dataclass(frozen=True)
class Finding:
    """A problem the evidence shows: a stable key, what it rests on, the nodes it touches and why."""

    kind: DiagnosisKind
    key: str
    source: Literal["gradients", "bptt", "activations", "attention"]
    nodes: dict[str, NodeHealth]
    message: str


def _finite(value: float) -> bool:
    return math.isfinite(value)


def exploding(ev: Evidence) -> list[Finding]:
    total = ev.grad_total
    if _finite(total) and total <= EXPLODING_NORM:
        return []
    big = {n: g for n, g in ev.grad_norm.items() if not _finite(g) or g > EXPLODING_NORM}
    if not big and ev.grad_norm:
        name = max(ev.grad_norm, key=ev.grad_norm.get)
        big = {name: ev.grad_norm[name]}
    nodes = {n: NodeHealth("exploding", g, f"gradient norm {g:.3g}, above {EXPLODING_NORM:g}") if _finite(g)
             else NodeHealth("nonfinite", g, f"gradient norm is {g}") for n, g in big.items()}
    size = "not finite" if not _finite(total) else f"{total:.3g}, above {EXPLODING_NORM:g}"
    return [Finding("exploding", "exploding:total", "gradients", nodes, f"the gradient norm is {size} at step {ev.step}")]


def vanishing(ev: Evidence) -> list[Finding]:
    norms = list(ev.grad_norm.items())
    if len(norms) < 2 or not 0 < norms[-1][1] < math.inf:
        return []
    (first, low), (last, high) = norms[0], norms[-1]
    if not low / high < VANISHING_RATIO:
        return []
    nodes = {n: NodeHealth("vanishing", g, f"gradient norm {g:.2g}, {g / high:.1e} times that of '{last}'")
             for n, g in norms[:-1] if g < VANISHING_RATIO * high}
    return [Finding("vanishing", "vanishing:depth", "gradients", nodes, (
        f"the gradient at '{first}' is {low / high:.1e} times that at '{last}': the first layers barely learn"))]


def through_time(ev: Evidence) -> list[Finding]:
    """A recurrent layer whose ||dL/dh_t|| explodes toward the first step (against its median over time: the last
    step may be trivially easy, an end marker) or fades there (against the last step)."""
    found = []
    for (name, direction), profile in ev.profiles.items():
        typical, early, late = statistics.median(profile), profile[0], profile[-1]
        if typical > 0 and early / typical > EXPLODING_NORM:
            note = f"||dL/dh_t|| at the first step is {early / typical:.1e} times its median over time"
            found.append(Finding("exploding", f"exploding:bptt:{name}:{direction}", "bptt",
                                 {name: NodeHealth("exploding", early / typical, note)}, f"in '{name}' {note}"))
        elif late > 0 and early / late < VANISHING_RATIO:
            note = f"||dL/dh_t|| at the first step is {early / late:.1e} times its value at the last"
            found.append(Finding("vanishing", f"vanishing:bptt:{name}:{direction}", "bptt",
                                 {name: NodeHealth("vanishing", early / late, note)},
                                 f"in '{name}' {note}: it cannot learn from early inputs"))
    return found


def unhealthy_activations(ev: Evidence) -> list[Finding]:
    found = []
    stats = ev.activations
    dead = {n: s.dead_fraction for n, s in stats.items() if (s.dead_fraction or 0) > DEAD_FRACTION}
    if dead:
        worst = max(dead, key=dead.get)
        nodes = {n: NodeHealth("dead", f, f"{f:.0%} of its units output zero for every sample") for n, f in dead.items()}
        found.append(Finding("dead_relu", "dead_relu:activations", "activations", nodes, (
            f"{dead[worst]:.0%} of the units of '{worst}' output zero for every sample, so they no longer learn")))
    saturated = {n: s.saturated_fraction for n, s in stats.items() if (s.saturated_fraction or 0) > SATURATED_FRACTION}
    if saturated:
        worst = max(saturated, key=saturated.get)
        nodes = {n: NodeHealth("saturated", f, f"{f:.0%} of its outputs sit at their bounds") for n, f in saturated.items()}
        found.append(Finding("saturation", "saturation:activations", "activations", nodes, (
            f"{saturated[worst]:.0%} of the outputs of '{worst}' sit at their bounds, where the slope is almost zero")))
    return found


def unfocused_attention(ev: Evidence) -> list[Finding]:
    """An attention layer all of whose heads look at one key only (collapsed: its softmax saturated, the gradient
    through it near zero), or, once training has had UNIFORM_AFTER steps, still at every key alike (uniform)."""
    found = []
    for name, shares in ev.attention.items():
        if shares and max(shares) < COLLAPSED_ENTROPY:
            note = f"attention entropy at most {max(shares):.2f} of its maximum in every head"
            found.append(Finding("collapsed_attention", f"collapsed_attention:{name}", "attention",
                                 {name: NodeHealth("attention", max(shares), note)},
                                 f"in '{name}' every head's attention has collapsed onto one position ({note})"))
        elif shares and min(shares) > UNIFORM_ENTROPY and ev.step >= UNIFORM_AFTER:
            note = f"attention entropy at least {min(shares):.3f} of its maximum in every head"
            found.append(Finding("uniform_attention", f"uniform_attention:{name}", "attention",
                                 {name: NodeHealth("attention", min(shares), note)},
                                 f"in '{name}' every head still attends to all positions alike at step {ev.step} "
                                 f"({note}): it has not learned where to look"))
    return found


RULES = {"gradients": (exploding, vanishing), "bptt": (through_time,), "activations": (unhealthy_activations,),
         "attention": (unfocused_attention,)}


def findings(evidence: Evidence, sources=RULES) -> list[Finding]:
    """Every problem the evidence shows (only from the measurements named by `sources`)."""
    return [f for source in sources for rule in RULES[source] for f in rule(evidence)]


def node_health(evidence: Evidence) -> dict[str, NodeHealth]:
    """Every measured node's health: healthy with its number unless a finding says worse."""
    health = {n: NodeHealth("healthy", g, f"gradient norm {g:.3g}") for n, g in evidence.grad_norm.items()}
    for node, stats in evidence.activations.items():
        if node not in health:
            health[node] = _activation_health(stats)
    for finding in findings(evidence):
        for node, found in finding.nodes.items():
            if node not in health or SEVERITY.index(found.level) > SEVERITY.index(health[node].level):
                health[node] = found
    return health


def inside(health: dict[str, NodeHealth], path: str) -> dict[str, NodeHealth]:
    """The health of the layers inside the block instance at `path` (or a copy of one), by path below it."""
    prefix = path + "."
    return {node[len(prefix):]: found for node, found in health.items() if node.startswith(prefix)}


def worst(health: dict[str, NodeHealth]) -> tuple[str, NodeHealth] | None:
    """The (node, health) of the worst level among `health` (the first of equals, in its order), or None."""
    return max(health.items(), key=lambda item: SEVERITY.index(item[1].level), default=None)


def _activation_health(stats: ActivationStats) -> NodeHealth:
    if stats.dead_fraction is not None:
        return NodeHealth("healthy", stats.dead_fraction, f"{stats.dead_fraction:.0%} of its units output zero")
    if stats.saturated_fraction is not None:
        return NodeHealth("healthy", stats.saturated_fraction, f"{stats.saturated_fraction:.0%} of its outputs at their bounds")
    return NodeHealth("healthy", None, f"output mean {stats.mean:.3g}, std {stats.std:.3g}")


@dataclass(frozen=True)
class Diagnosis:
    """A finding told for one model: the layers concerned, what the numbers say, what to change and which
    one-change variants (engine.remedies kinds) would test that."""

    kind: str
    nodes: tuple[str, ...]
    message: str
    remedy: str
    key: str = ""
    source: str = "gradients"
    remedies: tuple[str, ...] = ()


def may_fire(rows: StepRows) -> list[int]:
    """The rows of a batch on which a gradient rule could fire, found in numpy with the rules' thresholds (a
    non-finite or large total: exploding; a first layer far below the last: vanishing), and profiled rows."""
    table, n = rows.table, len(rows.nodes)
    total, first, last = table[:, 1], table[:, 3], table[:, 2 + n]
    with np.errstate(all="ignore"):
        flagged = ~np.isfinite(total) | (total > EXPLODING_NORM)
        if n >= 2:
            flagged |= (last > 0) & np.isfinite(last) & (first / last < VANISHING_RATIO)
    return sorted({*np.flatnonzero(flagged).tolist(), *rows.extras})


class Diagnoser:
    """Turns logged steps into diagnosis events when a problem appears (again) and cleared events when it has
    been absent from CLEAR_AFTER fresh measurements in a row."""

    def __init__(self, facts):
        self.facts = facts
        self.evidence = Evidence()
        self.active: dict[str, Diagnosis] = {}
        self._found: dict[str, dict[str, Finding]] = {}
        self._misses: dict[str, int] = {}

    def __call__(self, event: StepEvent) -> list[DiagnosisEvent | ClearedEvent]:
        self.evidence.update(event)
        for source in self.evidence.fresh:     # the rest still stands on the measurements it was made from
            self._found[source] = {f.key: f for f in findings(self.evidence, (source,))}
        found = {key: f for by_key in self._found.values() for key, f in by_key.items()}
        events: list[DiagnosisEvent | ClearedEvent] = []
        for key, finding in found.items():
            self._misses.pop(key, None)
            if key not in self.active:
                d = self.active[key] = self.facts.diagnosis(finding)
                events.append(DiagnosisEvent(kind=d.kind, nodes=list(d.nodes), message=d.message, remedy=d.remedy,
                                             step=event.step, key=key, remedies=list(d.remedies)))
        for key, d in list(self.active.items()):
            if key in found or d.source not in self.evidence.fresh:
                continue
            self._misses[key] = self._misses.get(key, 0) + 1
            if self._misses[key] >= CLEAR_AFTER:
                del self.active[key], self._misses[key]
                events.append(ClearedEvent(key=key, kind=d.kind, nodes=list(d.nodes), step=event.step))
        return events

    def rows(self, rows: StepRows) -> list[DiagnosisEvent | ClearedEvent]:
        """The events of a batch of steps, as if each step came in turn. A step on which no rule can fire
        (may_fire) changes nothing while no gradient problem is active, so only the others are read."""
        events, candidates = [], set(may_fire(rows))
        for index in range(len(rows)):
            if index in candidates or any(d.source == "gradients" for d in self.active.values()):
                events += self(rows.event_at(index))
        return events
