"""Card geometry without Qt items: a node card's size, and free places for new cards."""
from __future__ import annotations

from layerloom.engine import NodeBase
from . import style


def card_size(node: NodeBase) -> tuple[float, float]:
    """The width and height of `node`'s card, as NodeItem draws it."""
    spec = node.spec
    height = style.HEADER_HEIGHT + style.ID_ROW + max(len(spec.inputs), len(spec.outputs), 1) * style.PORT_ROW + 6
    rows = len(style.key_params(node))
    if rows:
        height += 4 + rows * style.PARAM_ROW
    if has_footer(node):
        height += style.PARAM_ROW + 2
    return float(style.NODE_WIDTH), float(height + 4)


def has_footer(node: NodeBase) -> bool:
    """Cards of weighted layers count their parameters; the output card shows what it receives."""
    return node.spec.initializable or node.type == "output"
