"""Benchmark: `layerloom train --nproc 2` against one process, on the same document and steps, runs alternated.

For mlp_spirals and the digits CNN (their default epochs), the command runs with --nproc 1 and --nproc 2 in turn,
one torch thread per process (OMP_NUM_THREADS=1). Reported, as medians over rounds: the wall time of the whole
command (start-up of the launcher and the workers included), and the time per step between the end of the first
epoch and the end of the last, from the epoch events' clocks (both include rank 0 measuring the whole train and
validation parts after every epoch). The results replace the "## Multi-process training" section of
docs/benchmarks.md.

    python bench/distributed.py [--rounds 3] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from report import write_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Multi-process training"
TEMPLATES = {"MLP (spirals)": "mlp_spirals.json", "digits CNN": "cnn_digits.json"}


def run(template: str, nproc: int) -> dict:
    """One `layerloom train` run: wall seconds, steps, seconds per step after the first epoch, val accuracy."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "layerloom", "train", str(ROOT / "templates" / template), "--nproc",
                        str(nproc), "--out", out], check=True, cwd=ROOT, capture_output=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
        wall = time.perf_counter() - started
        events = [json.loads(line) for line in Path(out, "events.jsonl").read_text().splitlines()]
    epochs = [e for e in events if e["event"] == "epoch"]
    first, last = epochs[0], epochs[-1]
    return {"wall": wall, "steps": last["step"], "accuracy": f"{last['metrics']['val_accuracy']:.4f}",
            "per_step": (last["seconds"] - first["seconds"]) / (last["step"] - first["step"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    rows = []
    for name, template in TEMPLATES.items():
        runs = {1: [], 2: []}
        for round_ in range(args.rounds):
            for nproc in (1, 2) if round_ % 2 == 0 else (2, 1):
                runs[nproc].append(run(template, nproc))
        one, two = ({key: statistics.median(r[key] for r in runs[n]) for key in ("wall", "per_step")} for n in (1, 2))
        steps, accuracy = (f"{runs[1][0][k]} / {runs[2][0][k]}" for k in ("steps", "accuracy"))
        rows.append(f"| {name} | {steps} | {one['wall']:.1f} s | {two['wall']:.1f} s | {one['per_step'] * 1e3:.2f} ms "
                    f"| {two['per_step'] * 1e3:.2f} ms | x{two['per_step'] / one['per_step']:.2f} | {accuracy} |")
        print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    section = "\n".join([
        HEADING, "",
        f"`python bench/distributed.py --rounds {args.rounds}` ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} CPU cores, torch {torch.__version__}, load average {load:.1f} at the end). "
        "`layerloom train TEMPLATE --nproc N` with the template's default epochs, one torch thread per process "
        "(gloo on 127.0.0.1), 1 and 2 processes alternated; medians over rounds. Wall time is the whole command; "
        "a step is timed from the end of the first epoch to the end of the last, rank 0's epoch metrics included.",
        "",
        "Two processes split each step's samples but add two all-reduces per step (the gradients, and the loss with "
        "the cancel flag), at each of which a process waits for the other to be scheduled: on 2 cores shared with "
        "other work, that wait outweighs the halved compute of these small steps.",
        "",
        "| template | steps (1 / 2 processes) | wall, 1 process | wall, 2 processes | per step, 1 | per step, 2 "
        "| step ratio | val accuracy (1 / 2) |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ])
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
