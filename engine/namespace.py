"""Variable names for generated code: legal, unique, and never a keyword, a builtin or a name the code uses.

The compiler names every fx node with it, so torch.fx has nothing left to rename, and the exported source reads
the same names from the fx graph.
"""
from __future__ import annotations

import builtins
import keyword

# besides keywords and builtins: what fx's generated forward uses (its custom builtins and `self`), and `_`,
# the exported source's name for an output it does not use
RESERVED = frozenset({*keyword.kwlist, *dir(builtins), "self", "_",
                      "torch", "inf", "nan", "NoneType", "device", "fx_pytree", "pytree"})


class Namespace:
    """Hands out names: a wanted name that is free and legal as it is, else the first free `name_2`, `name_3`..."""

    def __init__(self, reserved: frozenset[str] = RESERVED):
        self._taken = set(reserved)

    def usable(self, name: str) -> bool:
        return name.isidentifier() and name not in self._taken

    def take(self, name: str) -> str:
        """`name` itself; raises ValueError when it is not usable (check with `usable` first)."""
        if not self.usable(name):
            raise ValueError(f"'{name}' is not a free identifier")
        self._taken.add(name)
        return name

    def create(self, wanted: str) -> str:
        """`wanted`, or a legal variant of it with the first free numeric suffix."""
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in wanted) or "value"
        base = base if base.isidentifier() else f"_{base}"
        name, number = base, 1
        while not self.usable(name):
            number += 1
            name = f"{base}_{number}"
        return self.take(name)
