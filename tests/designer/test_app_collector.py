"""The designer collects garbage in its GUI thread only: a collection a worker thread set off could destroy Qt
objects outside the GUI thread (designer/app.collect_in_gui_thread, which run() starts)."""
import gc
import threading

from layerloom.designer.app import collect_in_gui_thread


class _Cycle:
    def __init__(self):
        self.me = self


def test_garbage_is_collected_in_the_gui_thread_only(qtbot):
    gui, collected_in = threading.get_ident(), []

    def record(phase, info):
        if phase == "start":
            collected_in.append(threading.get_ident())

    gc.enable()   # as in a fresh process (the suite's conftest collects between tests)
    gc.callbacks.append(record)
    collector = collect_in_gui_thread()
    try:
        worker = threading.Thread(target=lambda: [_Cycle() for _ in range(50_000)])
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: bool(collected_in), timeout=3000)   # the collector's timer runs once a second
    finally:
        collector.timer.stop()
        gc.callbacks.remove(record)
    assert set(collected_in) == {gui}
