"""A command the designer starts ends when the designer does, however that ends (closed, SIGTERM, killed)."""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT = "LAYERLOOM_PARENT_PID"    # set by a parent whose child commands must not outlive it
PR_SET_PDEATHSIG = 1               # <linux/prctl.h>


def end_with_parent() -> None:
    """When $LAYERLOOM_PARENT_PID names this process's parent, have Linux send SIGINT when the parent goes: the
    trainer then ends as stopped (its run 'cancelled', files whole). Gone already: SIGINT now. The variable is
    taken out of the environment, so processes this one starts answer to it and not to the designer."""
    named = os.environ.pop(PARENT, "")
    if not named.isdigit() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0) != 0:
        return
    if os.getppid() != int(named):      # the parent went before the request was in place
        os.kill(os.getpid(), signal.SIGINT)
