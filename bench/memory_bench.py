"""The cost model's training memory against the measured peak, for every gallery template.

Each run is a fresh process (so nothing of an earlier run is in its memory) that trains a few steps with the
Trainer and reads the two numbers the run folder records: the `start` event's estimate (engine.costs) and the
`end` event's measured memory (engine/train/peak.py: on a CPU the growth of the peak resident set over what the
process held as the first step began, plus the weights; on CUDA torch.cuda.max_memory_allocated). Each template
runs at its own batch size and at a large one (1024, or the training part's size when smaller), where the
activations dominate and a fixed cost of the first step no longer does. Beside them, what a real forward pass of
the trained model keeps for backward (saved-tensor hooks), against the estimate's activations.

    .venv/bin/python bench/memory_bench.py [NAME ...] [--steps 3] [--device cpu] [--write-docs]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from report import write_section

HEADING = "## Training memory: estimate and measurement"
LARGE = 1024
DIVERGED = 3   # the child's exit status when training stopped on a non-finite step (rnn_exploding does, by design)


def child(name: str, batch: int | None, steps: int, device: str) -> dict:
    """Runs in the child process: train `name` for `steps` steps; return the estimate, the measurement, and the bytes
    a real forward pass of the trained model keeps for backward (saved-tensor hooks, oneDNN on as in training)."""
    from layerloom import engine
    from layerloom.engine.templates import template_path
    from layerloom.engine.train.setup import load_data, split, training_config
    from layerloom.engine.train.trainer import Trainer, TrainOptions

    arch = engine.load(template_path(name))
    config = training_config(arch)
    dataset = load_data(arch, config)
    train_size = len(split(len(dataset), config.val_fraction, config.seed).train)
    size = min(batch or config.batch_size, train_size)
    arch = arch.model_copy(update={"training": config.model_copy(update={"batch_size": size})})
    events = []
    trainer = Trainer(arch, TrainOptions(max_steps=steps, device=device), on_event=events.append, dataset=dataset)
    result = trainer.run()
    if result.error:
        print(result.error, file=sys.stderr)
        raise SystemExit(DIVERGED)
    estimate, measured = events[0].estimate, events[-1].memory
    inputs = tuple(x[:size].clone() for x in trainer.train_data[0])   # a view would keep the whole dataset
    return {"name": name, "batch": size, "estimate": estimate.model_dump(), "measured": measured.model_dump(),
            "kept": kept_bytes(trainer.model.train(), inputs)}


def kept_bytes(model, inputs) -> int:
    """Bytes of the distinct storages autograd keeps in a real forward pass, weights left out."""
    import torch
    from torch.multiprocessing.reductions import StorageWeakRef

    weights = {StorageWeakRef(t.untyped_storage()) for t in [*model.parameters(), *model.buffers()]}
    kept = {}

    def pack(tensor):
        if StorageWeakRef(tensor.untyped_storage()) not in weights:
            kept[StorageWeakRef(tensor.untyped_storage())] = tensor.untyped_storage().nbytes()
        return tensor
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*inputs)
    return sum(kept.values())


def run(name: str, batch: int | None, steps: int, device: str) -> dict:
    """One fresh process; a template that diverges before `steps` is measured over its first step alone."""
    command = [sys.executable, __file__, "--child", name, "--batch", str(batch or 0), "--device", device]
    done = subprocess.run([*command, "--steps", str(steps)], capture_output=True, text=True)
    if done.returncode == DIVERGED:
        done = subprocess.run([*command, "--steps", "1"], capture_output=True, text=True)
        steps = 1
    if done.returncode:
        raise SystemExit(f"{name}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.splitlines()[-1]) | {"steps": steps}


def mib(count: int) -> str:
    return f"{count / 2**20:,.2f}"


def row(result: dict) -> str:
    estimate, measured = result["estimate"], result["measured"]
    return (f"| {result['batch']:,} | {mib(estimate['activation_bytes'])} | {mib(result['kept'])} | "
            f"{mib(estimate['training_bytes'])} | {mib(measured['training_bytes'])} | "
            f"{measured['training_bytes'] / estimate['training_bytes']:.2f} |")


def section(results: list[tuple[dict, dict]], steps: int, device: str) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        HEADING, "",
        f"`bench/memory_bench.py` ({device}, {os.cpu_count()} CPU cores, load average {load:.1f}; each run a fresh "
        f"process training {steps} steps; MiB). *Estimate*: the `start` event's training memory (weights, gradients, "
        "optimizer state and the tensors autograd keeps, counted by torch on fake tensors). *Measured*: the `end` "
        "event's weights plus the growth of the peak resident set over what the process held as the first step "
        "began. Ratio = measured / estimate.", "",
        "| template | batch | kept, estimate | kept, real | training, estimate | training, measured | ratio | "
        "large batch | kept, estimate | kept, real | training, estimate | training, measured | ratio |",
        "|---|" + "---|" * 12,
    ]
    for own, large in results:
        note = " (1 step: it diverges)" if own["steps"] == 1 else ""
        lines.append(f"| {own['name']}{note} " + row(own) + row(large).removeprefix("|"))
    ratios = sorted(r["measured"]["training_bytes"] / r["estimate"]["training_bytes"] for _, r in results)
    exact = [r["name"] for r, _ in results if r["kept"] == r["estimate"]["activation_bytes"]]
    onednn = {r["name"]: r["kept"] / r["estimate"]["activation_bytes"] for _, r in results
              if r["kept"] != r["estimate"]["activation_bytes"]}
    lines += ["", WHY.format(
        exact=len(exact), total=len(results), others=", ".join(f"{n} ({k:.1f} times)" for n, k in onednn.items()),
        low=ratios[0], high=ratios[-1], median=ratios[len(ratios) // 2])]
    return "\n".join(lines) + "\n"


WHY = """What the table shows. *Kept*: for {exact} of the {total} templates a real forward pass of the trained model \
keeps exactly the bytes the cost model counts; the others run torch's CPU LSTM, whose oneDNN kernel keeps more \
than the portable LSTM the model counts: {others}. *Training*: the measured peak is not within 25% of the estimate \
on this CPU, and is not expected to be: at the large batch it is {low:.2f} to {high:.2f} times the estimate (median \
{median:.2f}), at the templates' own batch sizes more. The estimate is what training must hold at once (weights, \
gradients, optimizer state, kept tensors); the resident set also holds the temporary buffers of the backward pass \
(the gradient of each activation while it is computed: about one more copy of the largest activations), what \
glibc's malloc keeps of freed blocks, oneDNN's workspaces and reorders, the gradient monitor's flat copies of the \
gradients and weights on logged steps, and a fixed cost of the first step (autograd's worker thread, kernel \
caches, allocator arenas: about 5 MiB, as the smallest templates show). On CUDA, torch.cuda.max_memory_allocated \
counts tensors only and leaves the allocator's reserve out, so the gap there is the temporaries and cuDNN's \
workspaces; no GPU was lent to this work, so that column is still to be measured (`--device cuda`)."""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="gallery templates (default: all)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write-docs", action="store_true", help=f"write the '{HEADING}' section of docs/benchmarks.md")
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.batch or None, args.steps, args.device)))
        raise SystemExit(0)
    from layerloom.engine.templates import gallery
    names = args.names or [info.path.stem for info in gallery()]
    results = []
    for name in names:
        results.append((run(name, None, args.steps, args.device), run(name, LARGE, args.steps, args.device)))
        print(f"{name}: {row(results[-1][0])} {row(results[-1][1])}", file=sys.stderr, flush=True)
    text = section(results, args.steps, args.device)
    if args.write_docs:
        write_section(text)
    print(text)
