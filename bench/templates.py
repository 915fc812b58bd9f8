"""Trains every gallery template with its default settings and checks that it reaches its targets.

    .venv/bin/python bench/templates.py [FILE ...] [--threads N]

Prints a markdown table (template, target, reached value, seconds) and a table of the twins (templates that
differ in one idea, compared on one metric). Run on the whole gallery, it writes both as the "## Templates"
section of docs/benchmarks.md. Exits 1 when a target is missed: that is a template to fix, not a target to soften.
There is no alternating baseline here: each template's target is its baseline.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from layerloom import engine
from layerloom.engine.cli import main as layerloom
from layerloom.engine.progress import bar
from layerloom.engine.templates import TemplateInfo, Target, gallery
from layerloom.engine.train.events import each_step
from layerloom.engine.train.setup import load_data, training_config
from layerloom.engine.train.trainer import Trainer, TrainOptions

from report import write_section

HEADING = "## Templates"


@dataclass
class Outcome:
    info: TemplateInfo
    values: dict[str, float]  # metric -> value (engine.templates.Metric)
    references: dict[str, float]  # the dataset's info numbers, for relative targets
    diagnoses: set[str] = field(default_factory=set)
    note: str = ""
    sample: str = ""


def train(info: TemplateInfo, run_dir: Path) -> Outcome:
    """One default training run, summarized as the metrics the gallery's targets name."""
    arch = engine.load(info.path)
    dataset = load_data(arch, training_config(arch))
    events = []
    result = Trainer(arch, TrainOptions(out_dir=run_dir), on_event=each_step(events.append), dataset=dataset).run()
    steps = [e for e in events if e.event == "step"]
    values = dict(result.metrics)
    note = ""
    if result.status == "failed":
        last = steps[-1] if steps else None
        if last is None or math.isfinite(last.loss + last.grad_norm_total):
            raise RuntimeError(f"{info.file}: {result.error}")
        values |= {"train_loss": math.inf, "val_loss": math.inf}  # it diverged
        note = f"diverged at step {last.step}"
    if {"train_accuracy", "val_accuracy"} <= values.keys():
        values["accuracy_gap"] = values["train_accuracy"] - values["val_accuracy"]
    first = list(steps[0].grad_norm.values())
    values["grad_ratio"] = first[0] / first[-1] if first[-1] else math.inf
    values["max_grad_norm"] = max(s.grad_norm_total if math.isfinite(s.grad_norm_total) else math.inf for s in steps)
    if steps[0].grad_by_position:
        profile = next(iter(steps[0].grad_by_position.values()))
        values["position_ratio"] = min(profile) / max(profile) if max(profile) > 0 else 0.0
    values["seconds"] = result.seconds
    references = {k: v for k, v in dataset.info.items() if isinstance(v, (int, float))}
    outcome = Outcome(info, values, references, {e.kind for e in events if e.event == "diagnosis"}, note)
    if info.sample:
        with contextlib.redirect_stdout(io.StringIO()) as text:
            layerloom(["sample", str(run_dir)])
        outcome.sample = text.getvalue().strip()
    return outcome


def judge(target: Target, outcome: Outcome, outcomes: dict[str, Outcome]) -> tuple[bool, str]:
    """Whether the target holds, and the reached value in words."""
    reached = outcome.values.get(target.metric, math.nan)
    if target.than:
        reference = outcomes[target.than].values.get(target.metric, math.nan)
        return target.holds(reached, reference), f"{_number(reached)} vs {_number(reference)}"
    if target.relative_to:
        base = outcome.references[target.relative_to]
        return target.holds(reached / base, target.value), f"{_number(reached)} ({reached / base:.3g} x {target.relative_to})"
    return target.holds(reached, target.value), _number(reached)


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 or not math.isfinite(value) else f"{value:.2e}"


def report(outcomes: dict[str, Outcome], load: float = 0.0) -> tuple[str, bool]:
    """The markdown section and whether every target was met."""
    rows = ["| template | target | reached | met | seconds | diagnoses reported |", "|---|---|---|---|---|---|"]
    twins = ["| template | twin | metric | template's | twin's |", "|---|---|---|---|---|"]
    beside = ["| template | beside | val_loss | beside's | seconds | beside's |", "|---|---|---|---|---|---|"]
    samples = []
    all_met = True
    for name, outcome in outcomes.items():
        checks = [(t.describe(), *judge(t, outcome, outcomes)) for t in outcome.info.targets]
        checks += [(f"diagnosis {kind}", kind in outcome.diagnoses, "reported" if kind in outcome.diagnoses else "missing")
                   for kind in outcome.info.diagnoses]
        for index, (target, met, reached) in enumerate(checks):
            all_met &= met
            first = ("", "", "")
            if index == 0:
                first = (Path(name).stem, f"{outcome.values['seconds']:.1f}", ", ".join(sorted(outcome.diagnoses)))
                reached += f", {outcome.note}" if outcome.note else ""
            template, seconds, diagnoses = first
            rows.append(f"| {template} | {target} | {reached} | {'yes' if met else '**NO**'} | {seconds} | {diagnoses} |")
        for target in outcome.info.targets:
            if target.than:
                twin = outcomes[target.than].values.get(target.metric, math.nan)
                twins.append(f"| {Path(name).stem} | {Path(target.than).stem} | {target.metric} | "
                             f"{_number(outcome.values.get(target.metric, math.nan))} | {_number(twin)} |")
        if outcome.info.beside:
            other = outcomes[outcome.info.beside].values
            beside.append(f"| {Path(name).stem} | {Path(outcome.info.beside).stem} | "
                          f"{_number(outcome.values['val_loss'])} | {_number(other['val_loss'])} | "
                          f"{outcome.values['seconds']:.1f} | {other['seconds']:.1f} |")
        if outcome.sample:
            samples.append(f"`layerloom sample` after training {Path(name).stem}:\n\n```\n{outcome.sample}\n```")
    header = (f"{HEADING}\n\n`bench/templates.py` trains each gallery template (templates/GALLERY.json) with its default "
              f"settings: {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
              f"{time.strftime('%Y-%m-%d')}, load average {load:.1f} at the start (other work shared the cores, so "
              "seconds vary from run to run). One row per target; seconds is the training time; the diagnoses are those "
              "the trainer's gradient monitor reported during the run.")
    body = [header, "\n".join(rows), "Twins (templates that differ in one idea):", "\n".join(twins)]
    if len(beside) > 2:
        body += ["Side by side (other architectures on the same data, with the same loss):", "\n".join(beside)]
    body += samples
    return "\n\n".join(body) + "\n", all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", metavar="FILE", help="template files to run (default: the whole gallery)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    infos = {info.file: info for info in gallery()}
    chosen = [Path(f).name for f in args.files] or list(infos)
    unknown = [f for f in chosen if f not in infos]
    if unknown:
        parser.error(f"not in the gallery: {', '.join(unknown)}")
    wanted = set(chosen) | {t.than for f in chosen for t in infos[f].targets if t.than}
    wanted |= {infos[f].beside for f in chosen if infos[f].beside}
    outcomes, load = {}, os.getloadavg()[0]
    names = [f for f in infos if f in wanted]
    with tempfile.TemporaryDirectory() as runs, bar(len(names), "templates", "template") as progress:
        for name in names:
            progress.set_postfix_str(name)
            outcomes[name] = train(infos[name], Path(runs) / Path(name).stem)
            progress.update(1)
    section, all_met = report(outcomes, load)
    print(section)
    if not args.files:
        write_section(section)
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
