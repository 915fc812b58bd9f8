"""Problems found in a document, and the error that carries them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One user-facing problem, located at a node, an edge or a field when known."""

    message: str
    node: str | None = None
    edge: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.node is not None:
            where.append(f"node '{self.node}'")
        if self.edge is not None:
            where.append(f"edge {self.edge}")
        if self.field is not None:
            where.append(self.field)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class DocumentError(ValueError):
    """A document that cannot be used; `problems` lists every reason at once."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, (str, Problem)):
            problems = [problems if isinstance(problems, Problem) else Problem(problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
