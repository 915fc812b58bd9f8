"""Edge routes that keep clear of cards: a direct curve where nothing is in the way, else a lane around what is
(a residual skip runs over the nodes it skips; a wrapped row's edge runs between the rows). No Qt here."""
from __future__ import annotations

from .placement import Rect

PAD = 12.0          # the least distance between a lane and a card
BEND = 32.0         # horizontal room of a bend between a port and its lane


def blocked(start: tuple[float, float], end: tuple[float, float], cards: list[Rect]) -> list[Rect]:
    """Cards inside the box a direct curve from `start` to `end` sweeps."""
    (sx, sy), (ex, ey) = start, end
    left, right = min(sx, ex) + 1, max(sx, ex) - 1
    top, bottom = min(sy, ey) - PAD, max(sy, ey) + PAD
    return [r for r in cards if r[0] < right and r[0] + r[2] > left and r[1] < bottom and r[1] + r[3] > top]


def lane(x0: float, x1: float, wanted: float, cards: list[Rect]) -> float:
    """The height nearest `wanted` where a horizontal line from x0 to x1 keeps PAD away from every card."""
    crossed = [r for r in cards if r[0] < x1 and r[0] + r[2] > x0]

    def clear(y: float) -> bool:
        return all(not (r[1] - PAD < y < r[1] + r[3] + PAD) for r in crossed)
    candidates = [wanted] + [r[1] - PAD for r in crossed] + [r[1] + r[3] + PAD for r in crossed]
    return next(y for y in sorted(candidates, key=lambda y: abs(y - wanted)) if clear(y))


def route(start: tuple[float, float], end: tuple[float, float], cards: list[Rect]) -> float | None:
    """The lane height an edge from output `start` to input `end` takes among `cards` (its own cards included),
    or None when a direct curve is clear."""
    (sx, sy), (ex, ey) = start, end
    if ex > sx + 2 * BEND:
        return lane(sx + BEND, ex - BEND, (sy + ey) / 2, cards) if blocked(start, end, cards) else None
    return lane(ex - BEND, sx + BEND, (sy + ey) / 2, cards)
