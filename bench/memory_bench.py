"""The cost model's training memory against the measured peak, for every gallery template.

Each run is a fresh process (so nothing of an earlier run is in its memory) that trains a few steps with the
Trainer and reads the two numbers the run folder records: the `start` event's estimate (engine.costs) and the
`end` event's measured memory (engine/train/peak.py: on a CPU the growth of the peak resident set over what the
process held as the first step began, plus the weights; on CUDA torch.cuda.max_memory_allocated). Each template
runs at its own batch size and at a large one (1024, or the training part's size when smaller), where the
activations dominate and a fixed cost of the first step no longer does. Beside them, what a real forward pass of
the trained model keeps for backward (saved-tensor hooks), against the estimate's activations, and the peak of the
tensors alone over the same steps of a second run (every tensor an operation returns, through a TorchDispatchMode,
counted while its storage lives: what torch.cuda.max_memory_allocated counts on CUDA), so that the gap between the
estimate and the resident set splits into the tensors the estimate leaves out and what is not a tensor at all.

    .venv/bin/python bench/memory_bench.py [NAME ...] [--steps 3] [--device cpu] [--write-docs]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

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
    return {"name": name, "batch": size, "estimate": estimate.model_dump(), "resident": measured.training_bytes,
            "kept": kept_bytes(trainer.model.train(), inputs),
            "tensors": tensor_peak(lambda: Trainer(arch, TrainOptions(max_steps=steps, device=device),
                                                   dataset=dataset))}


class LiveTensors(TorchDispatchMode):
    """Bytes of the distinct storages that operations return while it is on and that are still alive, and their
    peak from `mark()` until `frozen` is set."""

    def __init__(self):
        super().__init__()
        self.live, self.now, self.base, self.peak, self.frozen = {}, 0, 0, 0, False

    def mark(self) -> None:
        self.base = self.peak = self.now

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for ref in [ref for ref in self.live if ref.expired()]:
            self.now -= self.live.pop(ref)
        out = func(*args, **(kwargs or {}))
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor) and StorageWeakRef(tensor.untyped_storage()) not in self.live:
                self.live[StorageWeakRef(tensor.untyped_storage())] = tensor.untyped_storage().nbytes()
                self.now += tensor.untyped_storage().nbytes()
        if not self.frozen:
            self.peak = max(self.peak, self.now)
        return out


def tensor_peak(make_trainer) -> int:
    """Weights (and gradients) held as the steps begin plus the peak growth of live tensors over the same steps as
    the trainer's PeakMemory (its start and first stop)."""
    from layerloom.engine.train import trainer as trainer_module

    live, measured = LiveTensors(), trainer_module.PeakMemory

    class Marked(measured):
        def start(self):
            if self._baseline is None:
                live.mark()
            super().start()

        def stop(self):
            live.frozen = live.frozen or self._baseline is not None
            super().stop()

    trainer_module.PeakMemory = Marked
    try:
        trainer = make_trainer()
        with live:
            trainer.run()
    finally:
        trainer_module.PeakMemory = measured
    return trainer.peak.result.training_bytes - trainer.peak.result.growth_bytes + live.peak - live.base


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


def ratio(result: dict, key: str) -> float:
    return result[key] / result["estimate"]["training_bytes"]


def row(result: dict) -> str:
    estimate = result["estimate"]
    note = " (1 step: it diverges)" if result["steps"] == 1 else ""
    return (f"| {result['name']}{note} | {result['batch']:,} | {mib(estimate['activation_bytes'])} | "
            f"{mib(result['kept'])} | {mib(estimate['training_bytes'])} | {mib(result['tensors'])} | "
            f"{ratio(result, 'tensors'):.2f} | {mib(result['resident'])} | {ratio(result, 'resident'):.2f} |")


def spread(results: list[dict], key: str) -> str:
    ratios = sorted(ratio(r, key) for r in results)
    return f"{ratios[0]:.2f} to {ratios[-1]:.2f} times the estimate (median {ratios[len(ratios) // 2]:.2f})"


def section(results: list[tuple[dict, dict]], steps: int, device: str) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        HEADING, "",
        f"`bench/memory_bench.py` ({device}, {os.cpu_count()} CPU cores, load average {load:.1f}; each run a fresh "
        f"process training {steps} steps, at the template's batch size and at a large one; MiB). *Estimate*: the "
        "`start` event's training memory (weights, gradients, optimizer state and the tensors autograd keeps, "
        "counted by torch on fake tensors). *Kept, real*: what a real forward pass of the trained model keeps for "
        "backward. *Tensors*: the weights plus the peak growth of live tensors over the steps (a TorchDispatchMode "
        "on a second run; what torch.cuda.max_memory_allocated counts on CUDA). *Resident*: the `end` event's "
        "measurement, the weights plus the growth of the peak resident set over what the process held as the "
        "first step began. Ratios are measured / estimate.", "",
        "| template | batch | kept, estimate | kept, real | training, estimate | tensors | ratio | resident | ratio |",
        "|---|" + "---|" * 8,
    ]
    lines += [row(result) for pair in results for result in pair]
    own, large = [pair[0] for pair in results], [pair[1] for pair in results]
    exact = [r for r in own if r["kept"] == r["estimate"]["activation_bytes"]]
    onednn = ", ".join(f"{r['name']} ({r['kept'] / r['estimate']['activation_bytes']:.1f} times)" for r in own
                       if r not in exact)
    close = [r for r in own + large if ratio(r, "tensors") <= 1.25]
    lines += ["", WHY.format(
        exact=len(exact), total=len(own), onednn=onednn, close=len(close), runs=len(own + large),
        tensors_large=spread(large, "tensors"), tensors_own=spread(own, "tensors"),
        resident_large=spread(large, "resident"), resident_own=spread(own, "resident"))]
    return "\n".join(lines) + "\n"


WHY = """What the table shows. *Kept*: for {exact} of the {total} templates a real forward pass keeps exactly the \
bytes the cost model counts; the others run torch's CPU LSTM, whose oneDNN kernel keeps more than the portable LSTM \
the model counts: {onednn}. *Tensors*: the estimate is within 25% of the measured tensor peak in {close} of the \
{runs} runs; the peak is {tensors_large} at the large batch and {tensors_own} at the templates' own. What the \
estimate leaves out is the temporary buffers of the backward pass (the gradient of each activation while it is \
computed), the loss, the batch being sliced, the copy of the weights kept for a failed step and the gradient \
monitor's flat copies of the gradients and weights on logged steps; and, in the LSTM templates, what oneDNN keeps \
beyond the portable LSTM. A peak under the estimate is a model whose gradients fill in as its kept tensors are \
freed, so that the two are never all alive at once. *Resident*: the measured peak \
resident set is not within 25% of the estimate on this CPU, and is not expected to be: {resident_large} at the large \
batch, {resident_own} at the templates' own. Beyond the tensors it holds what glibc's malloc keeps of freed blocks, \
oneDNN's workspaces and reorders, and a fixed cost of the first step (autograd's worker thread, kernel caches, \
allocator arenas: about 5 MiB, as the smallest templates show). On CUDA, torch.cuda.max_memory_allocated counts \
tensors only, like the *tensors* column; no GPU was lent to this work: `--device cuda` here, or \
bench/gpu_check.py, measures it where one is."""


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
        print(row(results[-1][0]), row(results[-1][1]), sep="\n", file=sys.stderr, flush=True)
    text = section(results, args.steps, args.device)
    if args.write_docs:
        write_section(text)
    print(text)
