"""CLI commands for training: train, probe, eval and sample. Every option is a field of a model in options.py (the
training section's overrides are TrainingConfig's own fields), so a flag is validated like the document."""
from __future__ import annotations

import json
import time
from pathlib import Path

from .. import files
from ..cliargs import add_options, parse_options
from ..templates import document_argument
from . import distributed, session
from .evaluate import evaluate, format_evaluation, load_run
from .events import EventSink
from .options import EvalOptions, ProbeOptions, SampleOptions, TrainOptions
from .probe import probe
from .sample import is_text_model, predict_sample, sample_text
from .spans import alongside, said

FLAGS = {"out_dir": "--out"}
OVERRIDE = "override training.{}: "
EVENTS_HELP = "also write the event stream here ('-': stdout)"


def register(sub) -> None:
    """Add the training commands to the `layerloom` parser."""
    p = sub.add_parser("train", help="train a document's model on its dataset and write a run folder")
    p.add_argument("file", metavar="FILE", type=document_argument)
    for name in ("epochs", "batch_size", "device", "seed", "dataset"):
        add_options(p, TrainOptions, [name], help_prefix=OVERRIDE.format(name))
    add_options(p, TrainOptions, ["max_steps", "out_dir", "log_every", "profile_every", "resume", "overwrite",
                                  "tensorboard", "data_limit"], FLAGS)
    p.add_argument("--events", metavar="PATH|-", help=EVENTS_HELP)
    distributed.add_arguments(p)
    p.set_defaults(run=_cmd_train)

    p = sub.add_parser("probe", help="one forward and backward pass at initialization: the gradient flow")
    p.add_argument("file", metavar="FILE", type=document_argument)
    for name in ("device", "seed", "batch_size"):
        add_options(p, ProbeOptions, [name], help_prefix=OVERRIDE.format(name))
    add_options(p, ProbeOptions, ["data_limit"])
    p.add_argument("--events", metavar="PATH|-", help="write the events as JSON lines instead of a table")
    p.set_defaults(run=_cmd_probe)

    p = sub.add_parser("eval", help="validation metrics (and confusion matrix) of a finished run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    add_options(p, EvalOptions, EvalOptions.model_fields)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("sample", help="text from a trained character model, or a prediction for one sample")
    p.add_argument("run_dir", metavar="RUN_DIR")
    add_options(p, SampleOptions, SampleOptions.model_fields)
    p.set_defaults(run=_cmd_sample)


def _cmd_train(args) -> int:
    """Train in this process, or launch --nproc processes that each train their share; only rank 0 writes."""
    chosen = any(hasattr(args, name) for name in ("out_dir", "resume", "overwrite"))  # those need --out
    default = {} if chosen else {"out_dir": Path("runs") / f"{Path(args.file).stem}-{time.strftime('%Y%m%d-%H%M%S')}"}
    options = parse_options(TrainOptions, args, FLAGS, **default)
    launch = distributed.parse(args)
    arch = files.load(args.file)
    if launch.requested:
        return distributed.launch(args.file, arch, options, args.events, launch)
    return session.train(arch, options, args.events)


def _cmd_probe(args) -> int:
    options = parse_options(ProbeOptions, args)
    arch = files.load(args.file)
    sink = EventSink(args.events) if args.events else None
    try:
        result = probe(arch, sink, device=options.device, seed=options.seed, batch_size=options.batch_size,
                       data_limit=options.data_limit)
    finally:
        if sink:
            sink.close()
    if sink is None:
        print(_probe_table(result))
    return 0


def _probe_table(result) -> str:
    step = result.step
    rows = [f"{'node':<20} {'act mean':>10} {'act std':>10} {'dead':>6} {'satur.':>6} {'grad norm':>11}  health"]
    for node, stats in (step.activations or {}).items():
        grad = step.grad_norm.get(node)
        health = result.health.get(node)
        rows.append(f"{node:<20} {stats.mean:>10.4f} {stats.std:>10.4f} {_fraction(stats.dead_fraction):>6} "
                    f"{_fraction(stats.saturated_fraction):>6} {'' if grad is None else f'{grad:.3e}':>11}  "
                    f"{health.level if health else ''}")
    rows.append(f"loss {step.loss:.4f}, total gradient norm {step.grad_norm_total:.3e}")
    for name, profile in (step.bptt or {}).items():
        last = len(profile) - 1
        rows.append(f"BPTT '{name}': ||dL/dh_t|| from {profile[0]:.3e} (t=0) to {profile[-1]:.3e} (t={last})")
    for name, profile in (step.grad_by_position or {}).items():
        last = len(profile) - 1
        rows.append(f"by position '{name}': ||dL/dx_t|| from {profile[0]:.3e} (t=0) to {profile[-1]:.3e} (t={last})")
    for name, maps in (step.attention or {}).items():
        shares = ", ".join(f"{e:.2f}" for e in maps.entropy)
        rows.append(f"attention '{name}': entropy per head {shares} of its maximum (0: one key, 1: all alike)")
    rows += [f"{node}: {health.level}, {health.note}" for node, health in result.health.items()
             if health.level != "healthy"]
    rows += [f"{d.kind} ({said(d.nodes, alongside(d.nodes, step.grad_norm, step.activations or {}))}): {d.message}. "
             f"{d.remedy}" for d in result.diagnoses]
    return "\n".join(rows)


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _cmd_eval(args) -> int:
    options = parse_options(EvalOptions, args)
    result = evaluate(args.run_dir, options.device, options.data_limit)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_evaluation(result))
    return 0


def _cmd_sample(args) -> int:
    options = parse_options(SampleOptions, args)
    run = load_run(args.run_dir, options.device, options.data_limit)
    if is_text_model(run):
        print(sample_text(run, options.prompt, options.length, options.temperature, options.seed))
    else:
        print(predict_sample(run, options.index))
    return 0
