"""The training dashboard: train what is drawn in a child process and watch loss and gradient health live."""
from .dock import DashboardDock

__all__ = ["DashboardDock"]
