"""Where new cards go: the nearest free spot, and room made along the flow for an inserted node (no Qt)."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable

Rect = tuple[float, float, float, float]   # x, y, width, height
CLEARANCE = 20.0     # the least space kept between two cards
STEP = 20.0          # the grid free spots are searched on
REACH = 100          # grid steps searched in each direction


def overlaps(a: Rect, b: Rect, clearance: float = 0.0) -> bool:
    return (a[0] < b[0] + b[2] + clearance and b[0] < a[0] + a[2] + clearance
            and a[1] < b[1] + b[3] + clearance and b[1] < a[1] + a[3] + clearance)


def bounds(rects: Iterable[Rect]) -> Rect:
    rects = list(rects)
    left, top = min(r[0] for r in rects), min(r[1] for r in rects)
    return left, top, max(r[0] + r[2] for r in rects) - left, max(r[1] + r[3] for r in rects) - top


def free_spot(want: Rect, taken: Iterable[Rect]) -> tuple[float, float]:
    """The corner nearest to `want`'s, on the search grid, where a card of its size touches no taken card."""
    x, y, w, h = want
    reach = (REACH + 1) * STEP
    near = [r for r in taken if overlaps(r, (x - reach, y - reach, w + 2 * reach, h + 2 * reach))]
    for dx, dy in _offsets():
        if not any(overlaps((x + dx, y + dy, w, h), r, CLEARANCE) for r in near):
            return x + dx, y + dy
    return x, y + max((r[1] + r[3] for r in near), default=y) + CLEARANCE


@lru_cache(maxsize=1)
def _offsets() -> list[tuple[float, float]]:
    """Every grid offset within REACH steps, nearest first."""
    steps = range(-REACH, REACH + 1)
    return sorted(((i * STEP, j * STEP) for i in steps for j in steps), key=lambda d: _detour(*d))


def _detour(dx: float, dy: float) -> float:
    """How far a spot is from the one wanted; going back against the flow (left, up) counts double."""
    return math.hypot(dx * (2 if dx < 0 else 1), dy * (2 if dy < 0 else 1))


def push_right(rects: dict[str, Rect], first: set[str], room: Rect, dx: float) -> dict[str, tuple[float, float]]:
    """New corners for the cards moved `dx` right so that `room` is free: `first` (the flow after the insertion),
    the cards in `room`, and every card they would then touch."""
    moving = set(first) | {i for i, r in rects.items() if overlaps(r, room, CLEARANCE)}
    while True:
        moved = [(r[0] + dx, r[1], r[2], r[3]) for i, r in rects.items() if i in moving]
        hit = {i for i, r in rects.items() if i not in moving
               and any(overlaps(r, m, CLEARANCE) for m in moved + [room])}
        if not hit:
            return {i: (rects[i][0] + dx, rects[i][1]) for i in moving}
        moving |= hit


class CardIndex:
    """The cards' rects by grid cell, for the many small rect queries of edge routing (the scene's own index
    also returns every port and edge, sorted by stacking order)."""

    CELL = 320.0

    def __init__(self):
        self._rects: dict[str, Rect] = {}
        self._cells: dict[tuple[int, int], set[str]] = {}

    def _cells_of(self, rect: Rect):
        x0, y0 = int(rect[0] // self.CELL), int(rect[1] // self.CELL)
        x1, y1 = int((rect[0] + rect[2]) // self.CELL), int((rect[1] + rect[3]) // self.CELL)
        return [(i, j) for i in range(x0, x1 + 1) for j in range(y0, y1 + 1)]

    def set(self, key: str, rect: Rect) -> None:
        self.remove(key)
        self._rects[key] = rect
        for cell in self._cells_of(rect):
            self._cells.setdefault(cell, set()).add(key)

    def remove(self, key: str) -> None:
        rect = self._rects.pop(key, None)
        if rect is not None:
            for cell in self._cells_of(rect):
                self._cells[cell].discard(key)

    def query(self, rect: Rect) -> list[Rect]:
        """The rects that overlap `rect`."""
        keys = set().union(*(self._cells.get(cell, ()) for cell in self._cells_of(rect)))
        return [self._rects[k] for k in keys if overlaps(self._rects[k], rect)]
