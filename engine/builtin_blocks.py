"""Built-in blocks: block definitions shipped as package data (the documents in templates/blocks/), copied into a
document's `blocks` when first used, where they are checked, compiled, exported and monitored like its own."""
from __future__ import annotations

import functools

from .document import Architecture, BlockDef, free_id
from .files import load
from .templates import TEMPLATES_DIR

BLOCKS_DIR = TEMPLATES_DIR / "blocks"


@functools.cache
def builtin_blocks() -> dict[str, BlockDef]:
    """The built-in block definitions by name, from every document in BLOCKS_DIR."""
    return {name: block for path in sorted(BLOCKS_DIR.glob("*.json")) for name, block in load(path).blocks.items()}


def with_builtin(arch: Architecture, name: str) -> tuple[Architecture, str]:
    """`arch` holding the built-in block `name`, and the name it has there: its own, unless the document already
    uses that name for another definition (then `name_2`, ...)."""
    block = builtin_blocks()[name]
    same = [own for own, defined in arch.blocks.items() if defined == block]
    if same:
        return arch, same[0]
    new = free_id(name, arch.blocks)
    return arch.model_copy(update={"blocks": {**arch.blocks, new: block}}), new
