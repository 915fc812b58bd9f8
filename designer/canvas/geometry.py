"""Card geometry without Qt items: a node card's size, and free places for new cards."""
from __future__ import annotations

from layerloom.engine import NodeBase
from layerloom.engine.document import BLOCK_CATEGORY
from . import style


def card_size(node: NodeBase, spec=None) -> tuple[float, float]:
    """The width and height of `node`'s card, as NodeItem draws it (`spec`: the node's, `Architecture.spec`; a
    layer's own by default)."""
    spec = spec or node.spec
    height = style.HEADER_HEIGHT + style.ID_ROW + max(len(spec.inputs), len(spec.outputs), 1) * style.PORT_ROW + 6
    rows = len(style.key_params(node, spec))
    if rows:
        height += 4 + rows * style.PARAM_ROW
    if has_footer(node, spec):
        height += style.PARAM_ROW + 2
    if spec.attention:
        height += style.MAP_BAND
    return float(style.NODE_WIDTH), float(height + 4)


def sizer(arch):
    """`card_size` for the nodes of `arch` (a block instance's card depends on its block), as layouts take it."""
    return lambda node: card_size(node, arch.spec(node))


def has_footer(node: NodeBase, spec=None) -> bool:
    """Cards of weighted layers and block instances count their parameters; the output card shows what it
    receives."""
    spec = spec or node.spec
    return spec.initializable or node.type == "output" or spec.category == BLOCK_CATEGORY
