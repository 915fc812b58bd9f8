"""Shared by the reliability tests: a small document that trains in a second, and the CLI run in this process."""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from layerloom.engine.cli import main

MOONS = {"dataset": {"name": "moons", "params": {"n_samples": 64}}, "loss": "cross_entropy", "epochs": 2,
         "batch_size": 16, "optimizer": {"lr": 0.01}}


def small_document(path: Path, training: dict | None = None, nodes: list | None = None) -> Path:
    """A two-layer classifier of moons (or `nodes` in a chain) written to `path`."""
    nodes = nodes or [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "hidden", "type": "linear", "params": {"out_features": 8}},
        {"id": "act", "type": "relu"},
        {"id": "scores", "type": "linear", "params": {"out_features": 2}},
        {"id": "y", "type": "output"},
    ]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    path.write_text(json.dumps({"format_version": 1, "name": "small", "nodes": nodes, "edges": edges,
                                "training": MOONS if training is None else training}))
    return path


def cli(*argv, seconds: float = 20) -> tuple[int, str, str]:
    """`layerloom ARGV` in this process: (exit status, stdout, stderr). A command still running after `seconds`
    (a hang, such as opening a FIFO) is interrupted and reported as status None."""
    out, err = io.StringIO(), io.StringIO()

    def hung(*_):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exit:
                code = exit.code
    except TimeoutError:
        code = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


WRITER = """import os, sys, time
time.sleep(float(sys.argv[2]))
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))
except OSError:  # ENXIO: nobody is reading
    pass"""


def waits_on(fifo: Path, call, seconds: float = 3.0) -> bool:
    """Whether `call()` waited for a writer to come to the named pipe `fifo`. One comes after `seconds`, from another
    process: a reader blocked in open() goes on then, even in Qt's C++ holding the GIL, where no signal reaches Python."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(fifo), str(seconds)])
    started = time.monotonic()
    try:
        call()
    finally:
        writer.kill()
        writer.wait()
    return time.monotonic() - started >= seconds


def one_line_error(result: tuple[int, str, str]) -> str:
    """The single stderr line of a command that failed cleanly (exit 1, nothing else); fails the test otherwise."""
    code, _, err = result
    assert code == 1, f"exit status {code} (None: it hung), stderr {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]
