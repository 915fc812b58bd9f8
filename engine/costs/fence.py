"""Fake-tensor work and garbage collection never overlap across threads.

The designer counts costs in a worker thread. A garbage collection that another thread (the GUI's) ran while the
worker was inside torch's fake-tensor and autograd machinery crashed the process (a segfault in the collector:
its traversal of the worker's tensors races with torch's C++ code, which runs without the GIL). So a fenced
section and a collection in another thread exclude each other: a section waits for a collection running (or
waiting to run) to end; a collection, automatic or `gc.collect()`, waits in its "start" callback until no other
thread's section is open or about to open (so neither side starves). Both waits release the GIL. A thread's own
collections and nested sections go ahead; the interpreter runs one collection at a time, so waits cannot cycle.
"""
from __future__ import annotations

import gc
import threading
from collections import Counter
from contextlib import contextmanager

_state = threading.Condition()
_sections: Counter[int] = Counter()   # thread id -> fenced sections open in it
_entering: Counter[int] = Counter()   # thread id -> sections waiting to open in it
_collector: int | None = None          # the thread whose collection runs or waits to


def _others(threads: Counter, me: int) -> bool:
    return any(count for thread, count in threads.items() if thread != me)


def _drop(threads: Counter, me: int) -> None:
    threads[me] -= 1
    if not threads[me]:
        del threads[me]


def _on_collection(phase: str, info: dict) -> None:
    global _collector
    me = threading.get_ident()
    with _state:
        if phase == "start":
            _state.wait_for(lambda: not _others(_entering, me))
            _collector = me
            _state.wait_for(lambda: not _others(_sections, me))
        else:
            _collector = None
            _state.notify_all()


@contextmanager
def fenced():
    """Run the body with no garbage collection in any other thread."""
    me = threading.get_ident()
    with _state:
        _entering[me] += 1
        _state.wait_for(lambda: _collector in (None, me) or _sections[me])
        _drop(_entering, me)
        _sections[me] += 1
        _state.notify_all()
    try:
        yield
    finally:
        with _state:
            _drop(_sections, me)
            _state.notify_all()


gc.callbacks.append(_on_collection)
