"""The node-editor canvas: a scene that observes the document and a view that zooms, pans and accepts drops."""
from .scene import GraphScene, positions
from .view import LAYER_MIME, GraphView

__all__ = ["LAYER_MIME", "GraphScene", "GraphView", "positions"]
