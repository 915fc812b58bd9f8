"""The dashboard's live plots, one widget per tab, each fed by `frame(runs)` on a timer."""
from .attention import AttentionChart
from .bptt import BpttChart
from .clipping import ClippingChart
from .flow import FlowChart
from .layers import LayersChart
from .loss import LossChart

__all__ = ["AttentionChart", "BpttChart", "ClippingChart", "FlowChart", "LayersChart", "LossChart"]
