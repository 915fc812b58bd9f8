"""Each node's gradient health now, from the run's latest logged numbers, for tinting the canvas.

The thresholds are the engine's own (engine.train.diagnosis), so a tint and the banner never disagree on
what counts as vanishing or exploding. Diagnosis events say when a problem first appeared; the tints say
whether it is still there.
"""
from __future__ import annotations

import math

from layerloom.designer.health import NodeHealth
from layerloom.engine.train.diagnosis import DEAD_FRACTION, EXPLODING_NORM, SATURATED_FRACTION, VANISHING_RATIO

from .run_store import RunSeries


def node_health(run: RunSeries | None) -> dict[str, NodeHealth]:
    """node id -> NodeHealth for every layer, recurrent layer and troubled activation the run measured."""
    if run is None:
        return {}
    health = from_norms(run.latest.grad_norm if run.latest else {})
    for node, profile in run.bptt.items():
        health.update(from_profile(node, profile[-1], health.get(node)))
    for node, stats in run.activations.items():
        if (stats.dead_fraction or 0) > DEAD_FRACTION:
            health[node] = NodeHealth("dead", None, f"{stats.dead_fraction:.0%} of its units output zero for every sample")
        elif (stats.saturated_fraction or 0) > SATURATED_FRACTION:
            health[node] = NodeHealth("saturated", None, f"{stats.saturated_fraction:.0%} of its outputs sit at their bounds")
    if run.error is not None and run.error.node:
        known = health.get(run.error.node)
        health[run.error.node] = NodeHealth("nonfinite", known.grad_norm if known else None, run.error.message)
    return health


def from_norms(grads: dict[str, float]) -> dict[str, NodeHealth]:
    """Non-finite, exploding (above EXPLODING_NORM), vanishing (VANISHING_RATIO below the largest) or healthy."""
    finite = [value for value in grads.values() if math.isfinite(value)]
    largest = max(finite, default=0.0)
    health = {}
    for node, norm in grads.items():
        if not math.isfinite(norm):
            health[node] = NodeHealth("nonfinite", norm, f"gradient norm is {norm}")
        elif norm > EXPLODING_NORM:
            health[node] = NodeHealth("exploding", norm, f"gradient norm {norm:.3g} is above {EXPLODING_NORM:g}")
        elif largest > 0 and norm < VANISHING_RATIO * largest:
            health[node] = NodeHealth("vanishing", norm, f"gradient norm {norm:.3g} is {norm / largest:.1g} x the largest")
        else:
            health[node] = NodeHealth("healthy", norm, f"gradient norm {norm:.3g}")
    return health


def from_profile(node: str, profile, current: NodeHealth | None) -> dict[str, NodeHealth]:
    """A recurrent layer whose gradient fades (or grows) through time, however healthy its norm."""
    if current is not None and current.level != "healthy":
        return {}
    norm = current.grad_norm if current else None
    for values, early_index, late_index in ((profile.forward, 0, -1), (profile.reverse, -1, 0)):
        if values is None or len(values) < 2 or not values[late_index] > 0:
            continue
        ratio = values[early_index] / values[late_index]
        if ratio < VANISHING_RATIO:
            return {node: NodeHealth("vanishing", norm, f"||dL/dh_t|| fades {1 / ratio:.1e} times back through time")}
        if ratio > EXPLODING_NORM:
            return {node: NodeHealth("exploding", norm, f"||dL/dh_t|| grows {ratio:.1e} times back through time")}
    return {}
