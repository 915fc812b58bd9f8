"""Whole-process cost of the commands that should answer at once, against `python -c "import torch"`.

    .venv/bin/python bench/startup.py [--rounds N]

Each round runs the baseline and every command once, in an order that rotates each round, and times each process
in CPU time (user + system of the child, from `wait4`) and wall time. A command's ratio is the median over rounds
of (command / baseline of the same round). Writes the "## Command start-up" section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from report import write_section

HEADING = "## Command start-up"
ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.2
LAYERLOOM = shutil.which("layerloom", path=str(Path(sys.executable).parent)) or "layerloom"
COMMANDS = {
    "python -c 'import torch' (baseline)": [sys.executable, "-c", "import torch"],
    "layerloom check templates/cnn_digits.json": [LAYERLOOM, "check", "templates/cnn_digits.json"],
    "layerloom summary templates/cnn_digits.json": [LAYERLOOM, "summary", "templates/cnn_digits.json"],
    "layerloom schema": [LAYERLOOM, "schema"],
}


def timed(command: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `command`; it must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode().strip()}")
    return usage.ru_utime + usage.ru_stime, wall


# Where a check's time goes, phase by phase in one fresh process (CPU seconds of each phase).
PHASES = """
import json, time
marks = [time.process_time()]
import torch
marks.append(time.process_time())
import torch._dynamo
marks.append(time.process_time())
from layerloom.engine import cli, files
from layerloom.engine.validate import check
cli.build_parser()
marks.append(time.process_time())
check(files.load("templates/cnn_digits.json"))
marks.append(time.process_time())
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))
"""
PHASE_NAMES = ("import torch", "import torch._dynamo (what the first shape inference imports: torch's Python meta "
               "kernels are wrapped in torch._disable_dynamo)", "LayerLoom's modules and the command line's "
               "commands (pydantic, networkx, numpy)", "the check itself, once torch._dynamo is imported")


def phases(rounds: int) -> list[float]:
    """Median CPU seconds of each of PHASE_NAMES."""
    runs = [json.loads(subprocess.run([sys.executable, "-c", PHASES], cwd=ROOT, capture_output=True, text=True,
                                      check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout)
            for _ in range(rounds)]
    return [statistics.median(column) for column in zip(*runs)]


def measure(rounds: int) -> dict[str, dict[str, list[float]]]:
    names = list(COMMANDS)
    times = {name: {"cpu": [], "wall": []} for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            cpu, wall = timed(COMMANDS[name])
            times[name]["cpu"].append(cpu)
            times[name]["wall"].append(wall)
    return times


def section(times: dict, split: list[float], rounds: int, loads: tuple) -> str:
    baseline = next(iter(times.values()))
    rows = ["| command | CPU (s) | wall (s) | CPU ratio | wall ratio | goal |", "|---|---:|---:|---:|---:|---|"]
    for name, t in times.items():
        cpu_ratio = statistics.median(c / b for c, b in zip(t["cpu"], baseline["cpu"]))
        wall_ratio = statistics.median(w / b for w, b in zip(t["wall"], baseline["wall"]))
        goal = "" if t is baseline else f"<= {GOAL} ({'met' if cpu_ratio <= GOAL else '**not met**'})"
        rows.append(f"| {name} | {statistics.median(t['cpu']):.2f} | {statistics.median(t['wall']):.2f} | "
                    f"**{cpu_ratio:.2f}** | {wall_ratio:.2f} | {goal} |")
    return "\n".join([
        HEADING, "",
        f"`python bench/startup.py --rounds {rounds}` ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} CPU cores shared with other jobs, load average {loads[0]:.1f} at the start and "
        f"{loads[1]:.1f} at the end, torch {torch.__version__}, Python {platform.python_version()}). Each command is a "
        "whole new process, one torch thread; per round the baseline and every command run once in rotating order; "
        "medians over rounds, each ratio the median of the per-round ratios to the baseline. CPU time (user + system "
        "of the process) is the figure a loaded machine leaves steady; wall time follows the other jobs.", "",
        *rows, "", "Where the CPU time of a check goes (one fresh process per round, medians of each phase):", "",
        *(f"- {name}: {seconds:.2f} s" for name, seconds in zip(PHASE_NAMES, split)), ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of every command (default 7)")
    args = parser.parse_args()
    start_load = os.getloadavg()[0]
    times = measure(args.rounds)
    text = section(times, phases(args.rounds), args.rounds, (start_load, os.getloadavg()[0]))
    print(text)
    write_section(text)


if __name__ == "__main__":
    main()
