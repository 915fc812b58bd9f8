"""Format migrations: small functions, one per version step, run on the raw dict before validation."""
from __future__ import annotations

from typing import Callable

from .document import FORMAT_VERSION
from .errors import DocumentError, Problem

Migration = Callable[[dict], dict]
MIGRATIONS: dict[int, Migration] = {}  # from_version -> function returning the data at from_version + 1


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register the step from `from_version` to `from_version + 1`."""
    def register(fn: Migration) -> Migration:
        MIGRATIONS[from_version] = fn
        return fn
    return register


def migrate(raw: dict, current: int = FORMAT_VERSION) -> dict:
    """Bring a raw document up to `current`, or explain why it cannot be."""
    version = raw.get("format_version")
    if version is None:
        raise DocumentError(Problem("missing 'format_version' (this file is not a LayerLoom document)", field="format_version"))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DocumentError(Problem(f"must be a positive integer, got {version!r}", field="format_version"))
    if version > current:
        raise DocumentError(Problem(
            f"is {version}: the file was made by a newer LayerLoom (this one reads up to {current})",
            field="format_version",
        ))
    while version < current:
        raw = {**MIGRATIONS[version](raw), "format_version": version + 1}
        version += 1
    return raw


@migration(from_version=1)
def _layout_holds_nodes_and_frames(raw: dict) -> dict:
    """Version 2 moved the node positions into `layout.nodes`, beside the new `layout.frames`, and added `blocks`
    (reusable subgraphs) and instances of them, which need nothing of a version-1 document."""
    return {**raw, "layout": {"nodes": raw["layout"]}} if "layout" in raw else raw
