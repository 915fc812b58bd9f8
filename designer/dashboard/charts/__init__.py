"""The dashboard's live plots, one widget per tab, each fed by `show_runs(primary, other)` on a timer."""
from .bptt import BpttChart
from .clipping import ClippingChart
from .flow import FlowChart
from .loss import LossChart

__all__ = ["BpttChart", "ClippingChart", "FlowChart", "LossChart"]
