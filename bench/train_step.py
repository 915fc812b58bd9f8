"""Benchmark: time per training step of the Trainer against a hand-written PyTorch loop, alternated in one run.

For an MLP, the digits CNN and an LSTM, blocks of steps of three loops take turns, in rotating order, on the
same batches: a plain loop (forward, loss, zero_grad, backward, step), the Trainer with monitoring off
(log_every 0) and the Trainer monitoring every step (log_every 1: per-layer norms, update ratios and clipping
every step; BPTT profile and activation health at their default cadence, once per 50-step block).
The median over rounds of each round's ratio is the result (goals: <= 1.03 off, <= 1.10 every step).
Then the digits CNN template is trained to 0.97 validation accuracy (goal: under 60 s).
The results replace the "## Training step overhead" section of docs/benchmarks.md.

    python bench/train_step.py [--rounds 20] [--block 50] [--threads 1,2] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

import engine
from engine.train.optimizers import make_optimizer
from engine.train.trainer import Trainer, TrainOptions

from report import write_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Training step overhead"
MODELS = {"MLP (spirals)": "mlp_spirals.json", "digits CNN": "cnn_digits.json", "LSTM (adding, T=50)": "lstm_adding.json"}


def trainer_for(arch, log_every: int) -> Trainer:
    """A Trainer set up (model, data on the device, optimizer) but not run."""
    trainer = Trainer(arch, TrainOptions(log_every=log_every, device="cpu"))
    trainer._setup()
    return trainer


def batches(trainer: Trainer, count: int) -> list:
    inputs, target = trainer.train_data
    size = trainer.config.batch_size
    order = torch.randperm(len(target), generator=torch.Generator().manual_seed(1))
    xs, ys = tuple(x[order] for x in inputs), target[order]
    steps = max(len(target) // size, 1)
    return [(tuple(x[i % steps * size:(i % steps + 1) * size] for x in xs), ys[i % steps * size:(i % steps + 1) * size])
            for i in range(count)]


def hand_written(arch, trainer: Trainer, fused: bool = True):
    """The loop a PyTorch user writes, on its own copy of the model and optimizer: the Trainer's own optimizer
    (fused where torch has the kernel), or with `fused=False` torch's default implementation."""
    torch.manual_seed(trainer.config.seed)
    model = engine.compile_model(arch)
    config = trainer.config.optimizer
    assert fused or config.name == "adam", "the default-implementation baseline is written for Adam"
    optimizer = make_optimizer(model.parameters(), config) if fused else (
        torch.optim.Adam(model.parameters(), config.lr, weight_decay=config.weight_decay))
    loss_fn = trainer.objective.loss

    def step(xs, y):
        loss = loss_fn(model(*xs), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def time_block(step, block) -> float:
    start = time.perf_counter()
    for xs, y in block:
        step(xs, y)
    return (time.perf_counter() - start) / len(block)


def overhead(name: str, template: str, rounds: int, block_size: int) -> dict:
    arch = engine.load(ROOT / "templates" / template)
    off, every = trainer_for(arch, 0), trainer_for(arch, 1)
    loops = {"hand": hand_written(arch, off), "off": off._step, "every": every._step,
             "default": hand_written(arch, off, fused=False)}
    block = batches(off, block_size)
    for step in loops.values():  # warm up allocators and lazy initialization
        time_block(step, block[:3])
    times = {key: [] for key in loops}
    order = list(loops)
    for round_ in range(rounds):
        for key in order[round_ % 4:] + order[:round_ % 4]:  # rotate, so no loop always follows the same one
            times[key].append(time_block(loops[key], block))
    ratio = {key: statistics.median(t / h for t, h in zip(times[key], times["hand"])) for key in ("off", "every")}
    speedup = statistics.median(d / t for d, t in zip(times["default"], times["off"]))
    result = {"model": name, "threads": torch.get_num_threads(), "hand_ms": 1e3 * statistics.median(times["hand"]),
              "default_ms": 1e3 * statistics.median(times["default"]), "off": ratio["off"], "every": ratio["every"],
              "speedup": speedup}
    print(f"{name:<22} {result['threads']} threads, hand {result['hand_ms']:.3f} ms/step   off x{ratio['off']:.3f}   "
          f"every step x{ratio['every']:.3f}   default-Adam loop / Trainer x{speedup:.2f}")
    return result


def digits_time_to_accuracy(target: float = 0.97) -> dict:
    arch = engine.load(ROOT / "templates" / "cnn_digits.json")
    reached = []
    trainer = Trainer(arch, TrainOptions(device="cpu"), on_event=lambda e: reached.append(e) if e.event == "epoch" else None)
    result = trainer.run()
    first = next((e for e in reached if e.metrics.get("val_accuracy", 0) >= target), None)
    summary = {"threads": torch.get_num_threads(), "epochs": len(reached),
               "final": result.metrics.get("val_accuracy", 0.0), "seconds": result.seconds,
               "reached_epoch": first.epoch if first else None, "reached_seconds": first.seconds if first else None}
    print(f"digits CNN: val_accuracy {summary['final']:.4f} after {summary['epochs']} epochs in {result.seconds:.1f} s; "
          + (f"{target} first reached at epoch {first.epoch}, {first.seconds:.1f} s" if first else f"{target} not reached"))
    return summary


def section(rows: list[dict], digits: list[dict], rounds: int, block: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        HEADING, "",
        f"`python bench/train_step.py` ({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores, torch {torch.__version__}, load average {load:.1f} at the end). "
        f"Blocks of {block} steps, alternated for {rounds} rounds; each ratio is the median over rounds of "
        "(Trainer time / hand-written loop time) on the same batches. The hand-written loop uses the same "
        "optimizer as the Trainer (torch's fused Adam), so the ratios are the Trainer's own cost. Monitoring every "
        "step is log_every 1: per-layer gradient, weight and update norms and clipping every step, with the BPTT "
        "profile and activation health at their default cadence (profile_every 50). The last column compares the "
        "Trainer (monitoring off) with the loop most users write, `torch.optim.Adam` with its defaults "
        "(a Python loop over the parameters on a CPU).", "",
        "| model | torch threads | hand-written loop | monitoring off (goal <= 1.03) | every step (goal <= 1.10) "
        "| default-Adam loop | Trainer speed-up over it |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['threads']} | {r['hand_ms']:.3f} ms/step | x{r['off']:.3f} | x{r['every']:.3f} "
              f"| {r['default_ms']:.3f} ms/step | x{r['speedup']:.2f} |" for r in rows]
    lines += ["", "What monitoring costs: monitoring off adds one fused finiteness check per step. A monitored step "
              "flattens the gradients, the weights before the step and the update into one vector each and takes "
              "every layer's norms in one fused call: about fifteen small kernels and one read, whatever the layer "
              "count. Against a 0.5 ms step (the MLP) they still weigh; a profiled step (once per 50) runs the "
              "recurrent layer unrolled, several times slower than the fused kernel (the LSTM).",
              "", "Digits CNN template (`templates/cnn_digits.json`, CPU, default log_every 10; goal: 0.97 in under 60 s):", ""]
    for d in digits:
        reached = (f"reaches 0.97 at epoch {d['reached_epoch']} after {d['reached_seconds']:.1f} s"
                   if d["reached_epoch"] else "does not reach 0.97")
        lines.append(f"- {d['threads']} thread{'s' if d['threads'] > 1 else ''}: {reached}; its {d['epochs']} epochs end at val_accuracy "
                     f"{d['final']:.4f} after {d['seconds']:.1f} s (times include compiling and loading the data).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=50, help="steps per block (50: one profiled step per block)")
    parser.add_argument("--threads", default=str(torch.get_num_threads()),
                        help="comma-separated torch CPU thread counts to measure (default: torch's own choice)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    rows, digits = [], []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        rows += [overhead(name, template, args.rounds, args.block) for name, template in MODELS.items()]
        digits.append(digits_time_to_accuracy())
    text = section(rows, digits, args.rounds, args.block)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
