"""Long lists of layers said briefly: a block copy whose measured layers are all listed goes by its path
(`layers.3`), and names that count up one by one (`linear1` ... `linear96`, `layers.0` ... `layers.87`) as a range.

A diagnosis of a 200-layer network can name 90 layers; the banner, `layerloom probe` and `layerloom compare`
say them with these spans."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

RANGE_MIN = 3    # names counting up in a row before they are said as a range
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Span:
    """One name, or RANGE_MIN or more that count up one by one (said `first … last (N layers)`)."""

    names: tuple[str, ...]
    blocks: bool = False     # the names are block instances or copies, not layers

    @property
    def first(self) -> str:
        return self.names[0]

    @property
    def last(self) -> str:
        return self.names[-1]

    @property
    def count(self) -> str:
        """'88 layers', '9 blocks'."""
        return f"{len(self.names)} {'blocks' if self.blocks else 'layers'}"

    def __str__(self) -> str:
        return self.first if len(self.names) == 1 else f"{self.first} … {self.last} ({self.count})"


def spans(nodes: Iterable[str], among: Iterable[str] = ()) -> list[Span]:
    """`nodes` in their order as spans: block copies (and instances) all of whose layers in `among` (the layers
    measured alongside) are listed go by their path, then names counting up one by one become ranges."""
    names, blocks = _collapsed(list(nodes), list(among))
    found: list[Span] = []
    run: list[str] = []
    place = None     # which number of the name counts up in the current run
    for name in names:
        step = _counts_up(run[-1], name) if run else None
        if step is not None and place in (None, step):
            run.append(name)
            place = step
            continue
        found += _close(run, blocks)
        run, place = [name], None
    return found + _close(run, blocks)


def said(nodes: Iterable[str], among: Iterable[str] = (), shown: int | None = None) -> str:
    """The spans as text, 'linear1 … linear96 (96 layers), fc'; past `shown` spans, '… and N more'."""
    found = spans(nodes, among)
    kept = found if shown is None else found[:shown]
    hidden = sum(len(span.names) for span in found[len(kept):])
    return ", ".join(map(str, kept)) + (f" … and {hidden} more" if hidden else "")


def alongside(nodes: Iterable[str], monitored: Iterable[str], with_stats: Iterable[str]) -> list[str]:
    """The layers measured as `nodes` were (the `among` of `spans`): the monitored layers when a gradient finding
    names them, else the layers with output statistics."""
    monitored = list(monitored)
    return monitored if set(nodes) <= set(monitored) else list(with_stats)


def _close(run: list[str], blocks: set[str]) -> list[Span]:
    if len(run) >= RANGE_MIN:
        return [Span(tuple(run), run[0] in blocks)]
    return [Span((name,), name in blocks) for name in run]


def _prefixes(name: str) -> list[str]:
    """The block paths a dotted layer path lies in, outermost first: 'a', 'a.0' for 'a.0.conv'."""
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _collapsed(nodes: list[str], among: list[str]) -> tuple[list[str], set[str]]:
    """`nodes` with every block path whose measured layers are all among them said once, as that path."""
    if not among:
        return list(dict.fromkeys(nodes)), set()
    listed = set(nodes) & set(among)
    total, chosen = Counter(), Counter()
    for name in among:
        for path in _prefixes(name):
            total[path] += 1
            chosen[path] += name in listed
    names, blocks = [], set()
    for name in nodes:
        path = next((p for p in _prefixes(name) if chosen[p] == total[p]), name) if name in listed else name
        if path != name:
            blocks.add(path)
        names.append(path)
    return list(dict.fromkeys(names)), blocks


def _counts_up(before: str, after: str) -> int | None:
    """Which number of `after` is one more than in `before` when nothing else differs, else None."""
    a, b = _NUMBER.split(before), _NUMBER.split(after)
    if len(a) != len(b) or len(a) < 2:
        return None
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(differ) != 1 or differ[0] % 2 == 0 or int(b[differ[0]]) != int(a[differ[0]]) + 1:
        return None
    return differ[0]
