"""Each node's gradient health from a run's latest numbers and diagnoses, for tinting the canvas."""
from __future__ import annotations

import math

from designer.health import NodeHealth

from .run_store import RunSeries

VANISHING_RATIO = 1e-3     # a layer whose gradient is this far below the largest one is starving
EXPLODING_NORM = 1e3
DIAGNOSIS_LEVELS = {"vanishing": "vanishing", "exploding": "exploding", "dead_relu": "dead", "saturation": "saturated"}


def node_health(run: RunSeries | None) -> dict[str, NodeHealth]:
    """node id -> NodeHealth for every layer the run measured or diagnosed."""
    if run is None:
        return {}
    health = _from_norms(run.latest.grad_norm if run.latest else {})
    for diagnosis in run.diagnoses.values():
        level = DIAGNOSIS_LEVELS[diagnosis.kind]
        for node in diagnosis.nodes:
            current = health.get(node)
            if current is None or current.level != "nonfinite":
                norm = current.grad_norm if current else None
                health[node] = NodeHealth(level, norm, diagnosis.message)
    if run.error is not None and run.error.node:
        norm = health[run.error.node].grad_norm if run.error.node in health else None
        health[run.error.node] = NodeHealth("nonfinite", norm, run.error.message)
    return health


def _from_norms(grads: dict[str, float]) -> dict[str, NodeHealth]:
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
