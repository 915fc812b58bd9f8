"""The check worker's cost pass and the GUI thread's garbage collections never overlap: a collection in another
thread while torch runs a fake layer segfaulted the designer (engine/costs/fence.py)."""
import gc
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QTimer

from layerloom.designer.document import DocumentModel
from layerloom.engine.costs import layer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))   # published_models


def test_gui_thread_collections_wait_for_the_workers_fake_layers(qtbot, monkeypatch):
    import published_models
    gui, measures, collections, started = threading.get_ident(), [], [], []
    measure = layer._measure

    def timed(*args):   # the real measurement, timed in the worker thread
        begin = time.perf_counter()
        try:
            return measure(*args)
        finally:
            measures.append((begin, time.perf_counter()))

    def on_start(phase, info):   # after the fence's callback: timed once the collection may begin
        if phase == "start" and threading.get_ident() == gui:
            started.append(time.perf_counter())

    def on_stop(phase, info):    # before the fence's callback: timed while the collection still holds
        if phase == "stop" and threading.get_ident() == gui and started:
            collections.append((started.pop(), time.perf_counter()))

    monkeypatch.setattr(layer, "_cache", {})   # every layer measured afresh
    monkeypatch.setattr(layer, "_measure", timed)
    gc.callbacks.insert(0, on_stop)   # the collector reads this very list
    gc.callbacks.append(on_start)
    document = DocumentModel()
    collector = QTimer(interval=0)
    collector.timeout.connect(lambda: gc.collect(0))   # the GUI thread collects all the while
    document.checked.connect(collector.start)            # from the check's end: the cost pass follows it
    try:
        with qtbot.waitSignal(document.costed, timeout=60_000):
            document.reset(published_models.resnet18())
    finally:
        collector.stop()
        document.close()
        gc.callbacks.remove(on_stop)
        gc.callbacks.remove(on_start)
    assert len(measures) > 10 and len(collections) > 10
    overlaps = [(m, c) for m in measures for c in collections if c[0] < m[1] and m[0] < c[1]]
    assert not overlaps, f"{len(overlaps)} GUI-thread collections ran inside a fake layer"
