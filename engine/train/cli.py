"""CLI commands for training: train, probe, eval and sample."""
from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from .. import files
from ..config import DatasetRef
from ..templates import document_argument
from ..data import DatasetError
from . import distributed
from .evaluate import evaluate, format_evaluation, load_run
from .events import EventSink
from .losses import LossMismatch
from .probe import probe
from .progress import ProgressBar
from .sample import is_text_model, predict_sample, sample_text
from .setup import TrainingError, training_config
from .trainer import TrainOptions, Trainer

FAILURES = (TrainingError, DatasetError, LossMismatch)


def register(sub) -> None:
    """Add the training commands to the `layerloom` parser."""
    p = sub.add_parser("train", help="train a document's model on its dataset and write a run folder")
    p.add_argument("file", metavar="FILE", type=document_argument)
    p.add_argument("--epochs", type=int, metavar="N", help="override training.epochs")
    p.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="override training.device")
    p.add_argument("--seed", type=int, metavar="S", help="override training.seed")
    p.add_argument("--dataset", metavar="JSON", help="override training.dataset: a name, or an object such as "
                   "'{\"name\": \"image_pairs\", \"params\": {\"path\": \"photos\"}}'")
    p.add_argument("--out", metavar="DIR", help="run folder (default: runs/<name>-<date>-<time>)")
    p.add_argument("--events", metavar="PATH|-", help="also write the event stream here ('-': stdout)")
    p.add_argument("--log-every", type=int, default=10, metavar="K",
                   help="a step event with gradient statistics every K steps (0: none; default 10)")
    p.add_argument("--profile-every", type=int, default=50, metavar="K",
                   help="BPTT profiles and activation health ride on the first step event past every K steps "
                        "(default 50)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--tensorboard", action="store_true", help="also log to DIR/tensorboard (needs tensorboard)")
    distributed.add_arguments(p)
    p.set_defaults(run=_guard(_cmd_train))

    p = sub.add_parser("probe", help="one forward and backward pass at initialization: the gradient flow")
    p.add_argument("file", metavar="FILE", type=document_argument)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--seed", type=int, metavar="S")
    p.add_argument("--batch-size", type=int, metavar="N")
    p.add_argument("--events", metavar="PATH|-", help="write the events as JSON lines instead of a table")
    p.set_defaults(run=_guard(_cmd_probe))

    p = sub.add_parser("eval", help="validation metrics (and confusion matrix) of a finished run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_guard(_cmd_eval))

    p = sub.add_parser("sample", help="text from a trained character model, or a prediction for one sample")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--prompt", help="start of the text (text models; default: the start of a validation window)")
    p.add_argument("--length", type=int, default=300, metavar="N", help="characters to generate (default 300)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 picks the likeliest character (default 0.8)")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--index", type=int, default=0, metavar="I", help="validation sample to predict (non-text models)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "mps"))
    p.set_defaults(run=_guard(_cmd_sample))


def _guard(command):
    """Turn the engine's user-facing errors into one line on stderr and exit status 1."""
    def run(args) -> int:
        try:
            return command(args)
        except FAILURES as error:
            source = getattr(args, "file", None) or getattr(args, "run_dir", None)
            print(f"{source}: {error}", file=sys.stderr)
            return 1
    return run


def _fanout(callbacks):
    def emit(event) -> None:
        for callback in callbacks:
            callback(event)
    return emit


def _open_events(target: str | None, exclude: Path | None = None) -> EventSink | None:
    if target is None or (exclude is not None and target != "-" and Path(target).resolve() == exclude.resolve()):
        return None
    return EventSink(target)


def with_dataset(arch, text: str | None):
    """`arch` with its training dataset replaced by --dataset: a dataset name, or a JSON object like
    training.dataset ({"name": ..., "params": {...}})."""
    if text is None:
        return arch
    example = 'give a name or a JSON object such as {"name": "image_folder", "params": {"path": "photos"}}'
    try:
        value = json.loads(text) if text.lstrip().startswith("{") else {"name": text}
    except json.JSONDecodeError as error:
        raise TrainingError(f"--dataset: not valid JSON ({error.msg} at column {error.colno}); {example}") from None
    try:
        dataset = DatasetRef.model_validate(value)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())
        raise TrainingError(f"--dataset: {problems}; {example}") from None
    training = training_config(arch)
    return arch.model_copy(update={"training": training.model_copy(update={"dataset": dataset})})


def _cmd_train(args) -> int:
    """Train in this process, or launch --nproc processes that each come back here; only rank 0 writes."""
    arch = with_dataset(files.load(args.file), args.dataset)
    if args.log_every < 0 or args.profile_every < 1:
        raise TrainingError("--log-every must be 0 or more and --profile-every 1 or more")
    if args.resume and not args.out:
        raise TrainingError("--resume needs --out DIR, the run folder to continue")
    args.out = args.out or str(Path("runs") / f"{Path(args.file).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    if distributed.requested(args):
        return distributed.launch(arch, args)
    out, lead = Path(args.out), distributed.rank() == 0
    options = TrainOptions(epochs=args.epochs, max_steps=args.max_steps, device=args.device, seed=args.seed,
                           log_every=args.log_every, profile_every=args.profile_every, out_dir=out, resume=args.resume,
                           tensorboard=args.tensorboard)
    sink = _open_events(args.events, out / "events.jsonl") if lead else None
    callbacks = [sink] if sink else []
    if lead and sys.stderr.isatty():
        callbacks.append(ProgressBar(sys.stderr))
    trainer = Trainer(arch, options, on_event=_fanout(callbacks))

    def cancel_once(*_) -> None:
        """A first Ctrl-C stops after the current step and saves; a second one interrupts."""
        trainer.cancel()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, cancel_once)
    try:
        result = trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        if sink:
            sink.close()
    if result.status == "failed":
        raise TrainingError(result.error)
    if not lead:
        return 0
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    report = sys.stderr if args.events == "-" else sys.stdout
    print(f"{result.status} after {result.step} steps in {result.seconds:.1f} s: {metrics}", file=report)
    print(f"run folder: {out}", file=report)
    return 0


def _cmd_probe(args) -> int:
    arch = files.load(args.file)
    sink = _open_events(args.events)
    try:
        result = probe(arch, sink, device=args.device, seed=args.seed, batch_size=args.batch_size)
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
    rows += [f"{node}: {health.level}, {health.note}" for node, health in result.health.items()
             if health.level != "healthy"]
    rows += [f"{d.kind} ({', '.join(d.nodes)}): {d.message}. {d.remedy}" for d in result.diagnoses]
    return "\n".join(rows)


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _cmd_eval(args) -> int:
    result = evaluate(args.run_dir, args.device)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_evaluation(result))
    return 0


def _cmd_sample(args) -> int:
    run = load_run(args.run_dir, args.device)
    if is_text_model(run):
        print(sample_text(run, args.prompt, args.length, args.temperature, args.seed))
    else:
        print(predict_sample(run, args.index))
    return 0
