"""GPU check: train two templates on CUDA and on the CPU, end to end, and print a markdown table of results.

Runs unattended on a machine with a CUDA device; anywhere else it prints "no CUDA device" and exits 0, so
CPU-only CI can call it. Each run trains with the CLI's defaults (log_every 10) for at most --max-steps steps,
then the run folder is evaluated and probed on the same device, so `device: cuda` is exercised end to end.

    python bench/gpu_check.py [--max-steps 400] [--out results.md]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from layerloom import engine
from layerloom.engine.train.evaluate import evaluate
from layerloom.engine.train.events import each_step
from layerloom.engine.train.probe import probe
from layerloom.engine.train.trainer import Trainer, TrainOptions

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ("cnn_digits.json", "lstm_adding.json")


def train_once(template: str, device: str, max_steps: int, folder: Path) -> dict:
    """Train, evaluate and probe on `device`; steps per second come from the step events' arrival times."""
    arch = engine.load(ROOT / "templates" / template)
    stamps = []
    trainer = Trainer(arch, TrainOptions(device=device, max_steps=max_steps, out_dir=folder),
                      on_event=each_step(lambda e: stamps.append((e.step, time.perf_counter())) if e.event == "step" else None))
    result = trainer.run()
    if result.status == "failed":
        raise SystemExit(f"{template} on {device}: {result.error}")
    (first_step, first_time), (last_step, last_time) = stamps[0], stamps[-1]
    evaluation = evaluate(folder, device)
    probed = probe(arch, device=device)
    return {
        "template": template, "device": device, "steps": result.step, "seconds": result.seconds,
        "steps_per_second": (last_step - first_step) / max(last_time - first_time, 1e-9),
        "val": dict(evaluation.metrics), "probe_loss": probed.step.loss,
    }


def table(rows: list[dict]) -> str:
    lines = ["| template | device | steps | seconds | steps/s | speedup | validation | probe loss |",
             "|---|---|---|---|---|---|---|---|"]
    cpu_rate = {r["template"]: r["steps_per_second"] for r in rows if r["device"] == "cpu"}
    for r in rows:
        speedup = r["steps_per_second"] / cpu_rate[r["template"]]
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in r["val"].items())
        lines.append(f"| {r['template']} | {r['device']} | {r['steps']} | {r['seconds']:.1f} | "
                     f"{r['steps_per_second']:.1f} | x{speedup:.2f} | {metrics} | {r['probe_loss']:.4f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--out", type=Path, help="also write the table (with the device name) to this file")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: skipping the GPU check")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for template in TEMPLATES:
            for device in ("cuda", "cpu"):
                rows.append(train_once(template, device, args.max_steps, Path(scratch) / f"{template}-{device}"))
                print(f"{template} on {device}: {rows[-1]['steps_per_second']:.1f} steps/s", file=sys.stderr)
    text = (f"GPU check on {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} CPU threads, at most {args.max_steps} steps per run.\n\n{table(rows)}\n")
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
