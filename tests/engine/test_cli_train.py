"""`layerloom train | probe | eval | sample`: run folders, event lines on stdout, clear failures."""
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.data import load_dataset
from layerloom.engine.train.events import EndEvent, EpochEvent, StartEvent, StepEvent, StepRows, parse_event
from layerloom.engine.train.monitor import GradientMonitor
from layerloom.engine.progress import TrainingProgress
from layerloom.engine.train.tensorboard import TensorBoardLogger

ROOT = Path(__file__).resolve().parents[2]


def _write(path, nodes, edges, training=None):
    doc = {"format_version": 1, "name": "test", "nodes": nodes, "edges": [{"source": a, "target": b} for a, b in edges]}
    if training:
        doc["training"] = training
    path.write_text(json.dumps(doc))
    return str(path)


def _classifier(tmp_path, training=True):
    return _write(tmp_path / "moons.json", [
        {"id": "x", "type": "input", "params": {"shape": [2]}},
        {"id": "hidden", "type": "linear", "params": {"out_features": 8}},
        {"id": "act", "type": "relu"},
        {"id": "scores", "type": "linear", "params": {"out_features": 2}},
        {"id": "y", "type": "output"},
    ], [("x", "hidden"), ("hidden", "act"), ("act", "scores"), ("scores", "y")], training and {
        "dataset": {"name": "moons", "params": {"n_samples": 200}}, "loss": "cross_entropy", "epochs": 2,
        "optimizer": {"lr": 0.01},
    })


def test_train_writes_the_run_folder_and_events_to_stdout(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", _classifier(tmp_path), "--out", str(out), "--events", "-", "--log-every", "2"]) == 0
    captured = capsys.readouterr()
    events = [parse_event(line) for line in captured.out.splitlines()]
    assert events[0].event == "start" and events[-1].event == "end"
    assert "completed after" in captured.err and "val_accuracy" in captured.err
    assert (out / "events.jsonl").read_text().splitlines() == captured.out.splitlines()
    assert main(["eval", str(out)]) == 0
    report = capsys.readouterr().out
    assert "accuracy" in report and "confusion matrix" in report
    assert main(["eval", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["part"] == "validation" and sum(map(sum, result["confusion"])) == result["samples"] == 40
    assert main(["sample", str(out)]) == 0
    assert "predicted:" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--device", "cuda"], "cuda requested but no CUDA device is available"),
    (["--tensorboard"], "needs the tensorboard package"),
    (["--log-every", "-1"], "--log-every -1: input should be greater than or equal to 0"),
])
def test_train_fails_with_one_clear_line(tmp_path, capsys, args, message):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    if "--tensorboard" in args and importlib.util.find_spec("tensorboard"):
        pytest.skip("tensorboard is installed")
    assert main(["train", _classifier(tmp_path), "--out", str(tmp_path / "run"), *args]) == 1
    assert message in capsys.readouterr().err


def test_resume_needs_the_run_folder(tmp_path, capsys):
    assert main(["train", _classifier(tmp_path), "--resume"]) == 1
    assert "--resume needs --out DIR" in capsys.readouterr().err


def test_train_without_a_training_section_fails_but_probe_uses_random_data(tmp_path, capsys):
    path = _classifier(tmp_path, training=False)
    assert main(["train", path, "--out", str(tmp_path / "run")]) == 1
    assert "has no training section" in capsys.readouterr().err
    assert main(["probe", path]) == 0
    table = capsys.readouterr().out
    assert "hidden" in table and "grad norm" in table and "total gradient norm" in table
    assert main(["probe", path, "--events", "-"]) == 0
    events = [parse_event(line) for line in capsys.readouterr().out.splitlines()]
    assert [e.event for e in events] == ["start", "step", "end"]
    assert events[0].mode == "probe" and set(events[1].activations) == {"hidden", "act", "scores"}


def test_sample_writes_text_from_a_character_model(tmp_path, capsys):
    vocab = len(load_dataset("poetry", {"length": 16, "n_samples": 64}).vocab)
    path = _write(tmp_path / "chars.json", [
        {"id": "chars", "type": "input", "params": {"shape": [16], "dtype": "int64"}},
        {"id": "embed", "type": "embedding", "params": {"num_embeddings": vocab, "embedding_dim": 8}},
        {"id": "gru", "type": "gru", "params": {"hidden_size": 16}},
        {"id": "next", "type": "linear", "params": {"out_features": vocab}},
        {"id": "y", "type": "output"},
    ], [("chars", "embed"), ("embed", "gru"), ("gru", "next"), ("next", "y")], {
        "dataset": {"name": "poetry", "params": {"length": 16, "n_samples": 64}}, "loss": "cross_entropy", "epochs": 1,
    })
    out = str(tmp_path / "run")
    assert main(["train", path, "--out", out]) == 0
    capsys.readouterr()
    assert main(["sample", out, "--prompt", "The ", "--length", "40", "--seed", "1"]) == 0
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("The ") and len(text) == 44
    assert main(["sample", out, "--prompt", "\u00e9"]) == 1
    assert "outside the model's vocabulary" in capsys.readouterr().err


def test_the_installed_command_keeps_stdout_for_events(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "layerloom", "train", _classifier(tmp_path), "--out", str(tmp_path / "run"),
         "--events", "-", "--max-steps", "3"], capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert [parse_event(line).event for line in done.stdout.splitlines()][-1] == "end"
    assert "max_steps after 3 steps" in done.stderr


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _progress_events(progress):
    progress(StartEvent(device="cpu", parameters={"total": 1, "trainable": 1, "per_node": {}}, monitored=[],
                        steps_per_epoch=10, total_steps=40))
    progress(StepRows([], [10, 20], [1, 2], [True, True], np.array([[0.5, 1.0, 1.0], [0.25, 1.0, 1.0]]), {}))
    progress(EpochEvent(epoch=2, step=20, metrics={"train_loss": 0.2, "val_accuracy": 0.9}, seconds=1.0))
    progress.bar.refresh()
    shown = progress.stream.getvalue().split("\r")[-1]
    progress(EndEvent(status="completed", step=40, metrics={}, seconds=2.0))
    return shown


def test_progress_bar_on_a_terminal_shows_steps_epoch_loss_and_validation_metrics():
    stream = _Terminal()
    shown = _progress_events(TrainingProgress(stream))
    assert "20/40" in shown and "epoch=3" in shown and "loss=0.2500" in shown and "val_accuracy=0.9000" in shown
    assert "train_loss" not in shown and stream.getvalue().endswith("\n")


def test_progress_bar_draws_nothing_where_stderr_is_not_a_terminal():
    stream = io.StringIO()
    _progress_events(TrainingProgress(stream))
    assert stream.getvalue() == ""


class _Writer:
    def __init__(self):
        self.scalars, self.histograms, self.closed = {}, {}, False

    def add_scalar(self, tag, value, step):
        self.scalars[(tag, step)] = value

    def add_histogram(self, tag, values, step):
        self.histograms[(tag, step)] = values

    def close(self):
        self.closed = True


def test_tensorboard_logger_writes_scalars_and_gradient_histograms():
    writer = _Writer()
    logger = TensorBoardLogger(Path("unused"), writer=writer)
    logger(StepEvent(step=3, epoch=1, loss=0.5, grad_norm={"fc": 2.0}, weight_norm={"fc": 1.0}, update_ratio={},
                     grad_norm_total=2.0, grad_norm_clipped=1.0, clipped=True))
    logger(EpochEvent(epoch=1, step=3, metrics={"val_loss": 0.4}, seconds=1.0))
    model = engine.compile_model(engine.from_dict({"format_version": 1, "nodes": [
        {"id": "x", "type": "input", "params": {"shape": [2]}}, {"id": "fc", "type": "linear", "params": {"out_features": 3}},
        {"id": "y", "type": "output"}], "edges": [{"source": "x", "target": "fc"}, {"source": "fc", "target": "y"}]}))
    model(torch.randn(4, 2)).sum().backward()
    logger.histograms(3, GradientMonitor(model))
    logger.close()
    assert writer.scalars[("grad_norm/fc", 3)] == 2.0 and writer.scalars[("epoch/val_loss", 1)] == 0.4
    assert writer.scalars[("grad_norm_total/after_clip", 3)] == 1.0
    assert writer.histograms[("gradients/fc", 3)].numel() == 9 and writer.closed
