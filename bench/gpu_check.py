"""GPU check: one prepared run (under 10 minutes) of everything that needs a CUDA device, written to docs/benchmarks.md.

1. Speed-up: three templates' training steps per second on CUDA and on the CPU (monitoring off, the same batches),
   and each template trained end to end on CUDA (run folder, evaluate and probe on the device).
2. Every-step monitoring on CUDA: steps per second with log_every 1 against monitoring off, and again without the
   per-step finiteness read (the one scalar a step that could serialise the GPU).
3. `layerloom train --nproc 1 --device cuda`: the nccl process group, end to end.
4. Training memory: the cost model's estimate beside the measured peak (torch.cuda.max_memory_allocated).

Anywhere without CUDA it says so in one line and exits 0, so CPU-only CI can call it. `--rehearse` runs every
part with the CPU standing in for CUDA (gloo for nccl), to try the script where no GPU is, and writes nothing.

    python bench/gpu_check.py [--max-steps 300] [--seconds 2] [--no-write] [--rehearse]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from layerloom import engine
from layerloom.engine.train.evaluate import evaluate
from layerloom.engine.train.probe import probe
from layerloom.engine.train.trainer import Trainer, TrainOptions

from report import write_section
from train_step import batches, trainer_for

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## GPU check"
TEMPLATES = ("mlp_spirals.json", "cnn_digits.json", "lstm_adding.json")
BUDGET_SECONDS = 540  # parts still to run are skipped past this, so the whole check stays under 10 minutes


def steps_per_second(template: str, device: str, log_every: int, seconds: float, finite_check: bool = True) -> float:
    """Training steps a second of the Trainer's own step on `device`, over at least `seconds` of steps."""
    trainer = trainer_for(engine.load(ROOT / "templates" / template), log_every, device)
    if not finite_check:
        trainer.monitor.recorder.check_finite = False
    block = batches(trainer, 50)
    for xs, y in block[:5]:
        trainer._step(xs, y)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for xs, y in block:
            trainer._step(xs, y)
        count += len(block)
        if device == "cuda":
            torch.cuda.synchronize()
    return count / (time.perf_counter() - started)


def end_to_end(template: str, device: str, max_steps: int, folder: Path) -> dict:
    """Train with the CLI's defaults, evaluate and probe the run on the device; estimate and peak memory."""
    arch = engine.load(ROOT / "templates" / template)
    events = []
    result = Trainer(arch, TrainOptions(device=device, max_steps=max_steps, out_dir=folder),
                     on_event=lambda e: events.append(e) if e.event in ("start", "end") else None).run()
    if result.status == "failed":
        raise SystemExit(f"{template} on {device}: {result.error}")
    start, end = events[0], events[-1]
    return {"template": template, "steps": result.step, "seconds": result.seconds,
            "metrics": dict(evaluate(folder, device).metrics), "probe_loss": probe(arch, device=device).step.loss,
            "estimate": start.estimate.training_bytes if start.estimate else None,
            "measured": end.memory.training_bytes if end.memory else None}


def nccl_run(device: str, max_steps: int, folder: Path) -> dict:
    """`layerloom train mlp_spirals --nproc 1 --device cuda` in a fresh process: the nccl group end to end."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "layerloom", "train", str(ROOT / "templates" / "mlp_spirals.json"),
                           "--nproc", "1", "--device", device, "--max-steps", str(max_steps), "--out", str(folder)],
                          capture_output=True, text=True, timeout=240, env=dict(os.environ, OMP_NUM_THREADS="1"))
    said = (done.stdout + done.stderr).strip().splitlines()
    return {"code": done.returncode, "seconds": time.perf_counter() - started, "said": said[0] if said else ""}


def section(speed: list[dict], monitoring: list[dict], nccl: dict | None, runs: list[dict], skipped: list[str],
            device_name: str) -> str:
    lines = [HEADING, "", f"`python bench/gpu_check.py` ({time.strftime('%Y-%m-%d')}, {device_name}, "
             f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads). Steps a second are the Trainer's own "
             "step on the same batches, timed over at least the given seconds after warm-up.", "",
             "| template | CPU steps/s | CUDA steps/s | speed-up | end to end on CUDA (steps, seconds) | evaluated | probe loss |",
             "|---|---|---|---|---|---|---|"]
    for s, r in zip(speed, runs + [None] * len(speed)):
        run = (f"{r['steps']}, {r['seconds']:.1f} s | " + ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items())
               + f" | {r['probe_loss']:.4f}") if r else "- | - | -"
        lines.append(f"| {s['template']} | {s['cpu']:.1f} | {s['cuda']:.1f} | x{s['cuda'] / s['cpu']:.2f} | {run} |")
    lines += ["", "Every-step monitoring on CUDA (log_every 1; the finiteness check reads one scalar a step):", "",
              "| template | off, steps/s | every step | every / off | every step, no finiteness read | its / off |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {m['template']} | {m['off']:.1f} | {m['every']:.1f} | x{m['off'] / m['every']:.3f} | "
              f"{m['unchecked']:.1f} | x{m['off'] / m['unchecked']:.3f} |" for m in monitoring]
    if nccl:
        lines += ["", f"`layerloom train mlp_spirals --nproc 1 --device cuda` (nccl): exit {nccl['code']} after "
                      f"{nccl['seconds']:.1f} s: {nccl['said']}"]
    measured = [r for r in runs if r["estimate"] and r["measured"]]
    if measured:
        lines += ["", "Training memory on CUDA, the cost model's estimate beside torch.cuda.max_memory_allocated's growth "
                      "plus the weights:", "", "| template | estimated | measured | measured / estimated |", "|---|---|---|---|"]
        lines += [f"| {r['template']} | {r['estimate'] / 2**20:.2f} MiB | {r['measured'] / 2**20:.2f} MiB | "
                  f"x{r['measured'] / r['estimate']:.2f} |" for r in measured]
    if skipped:
        lines += ["", f"Skipped to stay within {BUDGET_SECONDS} s: {', '.join(skipped)}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=300, help="steps of each end-to-end run (default 300)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of steps per rate (default 2)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--rehearse", action="store_true", help="the CPU stands in for CUDA; nothing is written")
    args = parser.parse_args(argv)
    if not (torch.cuda.is_available() or args.rehearse):
        print("no CUDA device: skipping the GPU check")
        return 0
    gpu = "cpu" if args.rehearse else "cuda"
    device_name = "a rehearsal: the CPU stands in for CUDA" if args.rehearse else torch.cuda.get_device_name(0)
    started, skipped = time.perf_counter(), []

    def in_time(part: str) -> bool:
        if time.perf_counter() - started < BUDGET_SECONDS:
            print(f"{time.perf_counter() - started:6.1f} s  {part}", file=sys.stderr)
            return True
        skipped.append(part)
        return False

    speed, monitoring, runs, nccl = [], [], [], None
    with tempfile.TemporaryDirectory() as scratch:
        for template in TEMPLATES:
            if in_time(f"speed-up of {template}"):
                speed.append({"template": template, "cpu": steps_per_second(template, "cpu", 0, args.seconds),
                              "cuda": steps_per_second(template, gpu, 0, args.seconds)})
        for template in TEMPLATES:
            if in_time(f"monitoring of {template}"):
                rate = lambda every, check=True: steps_per_second(template, gpu, every, args.seconds, check)
                monitoring.append({"template": template, "off": rate(0), "every": rate(1), "unchecked": rate(1, False)})
        for template in TEMPLATES:
            if in_time(f"{template} end to end"):
                runs.append(end_to_end(template, gpu, args.max_steps, Path(scratch) / template))
        if in_time("--nproc 1 with nccl"):
            nccl = nccl_run(gpu, args.max_steps, Path(scratch) / "nccl")
    text = section(speed, monitoring, nccl, runs, skipped, device_name)
    print(text)
    if not (args.no_write or args.rehearse):
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
