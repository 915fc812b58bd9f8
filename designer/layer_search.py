"""Fuzzy search over the layer registry for the canvas's search popup: palette names, type names, aliases
("dense", "fc") and one-line docs, best match first (no Qt here).

Scored by hand because the ranking is about our fields (a name beats an alias beats the docs, a prefix beats a
subsequence), which a general string-similarity library does not know; it is a dozen lines.
"""
from __future__ import annotations

from dataclasses import dataclass

from layerloom.engine.layers import CATEGORIES, REGISTRY

NAME, ALIAS, DOC = 1.0, 0.9, 0.4     # weight of a match in each field


@dataclass(frozen=True)
class Choice:
    """One thing the popup can add: a layer type, or a palette preset of one (BiLSTM)."""

    name: str
    category: str
    entry: dict          # {"type": ..., "params": {...}}, as the palette drags it
    doc: str
    aliases: tuple[str, ...]

    @property
    def fields(self) -> list[tuple[float, str]]:
        return [(NAME, self.name), (NAME, self.entry["type"]), *((ALIAS, a) for a in self.aliases), (DOC, self.doc)]


def palette_entries() -> list[tuple[str, str, dict]]:
    """(category, palette name, entry) for every layer type and preset, in palette order."""
    entries = []
    for category in CATEGORIES:
        for spec in (s for s in REGISTRY.values() if s.category == category):
            entries.append((category, spec.palette_name or spec.type, {"type": spec.type, "params": {}}))
            for name, params in spec.presets.items():
                entries.append((category, name, {"type": spec.type, "params": dict(params)}))
    return entries


def choices(types: set[str] | None = None) -> list[Choice]:
    """Every palette entry (of `types` only, when given), in palette order."""
    found = []
    for category, name, entry in palette_entries():
        spec = REGISTRY[entry["type"]]
        if types is None or spec.type in types:
            found.append(Choice(name, category, entry, spec.doc.split("\n")[0], spec.aliases))
    return found


def search(query: str, among: list[Choice]) -> list[Choice]:
    """The choices every word of `query` matches, best first; all of them for an empty query."""
    words = query.lower().split()
    scored = []
    for index, choice in enumerate(among):
        total = 0.0
        for word in words:
            best = max((weight * _match(word, text.lower(), weight == DOC) for weight, text in choice.fields), default=0)
            if best <= 0:
                break
            total += best
        else:
            scored.append((-total, index, choice))
    return [choice for _, _, choice in sorted(scored, key=lambda s: s[:2])]


def _match(word: str, text: str, whole_words_only: bool) -> float:
    """How well `word` matches `text`: exactly, as its prefix, a word's prefix, inside it, or spread through it."""
    if text == word:
        return 100
    if text.startswith(word):
        return 80
    if any(part.startswith(word) for part in text.replace("(", " ").replace("_", " ").split()):
        return 60
    if whole_words_only:
        return 0
    if word in text:
        return 40
    position = 0
    for char in word:   # a subsequence, "cnv2" in "conv2d": fewer gaps score higher
        found = text.find(char, position)
        if found < 0:
            return 0
        position = found + 1
    return max(1.0, 20 - (position - len(word)))
