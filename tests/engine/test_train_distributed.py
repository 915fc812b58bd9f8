"""`layerloom train --nproc 2`: two gloo processes on 127.0.0.1 train like one process, keep identical replicas,
stop together, resume, and fail with one line."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.fileio import load_torch as load_weights
from layerloom.engine.train.distributed import _first_reason
from layerloom.engine.train.events import each_step, parse_event
from layerloom.engine.train.group import Group
from layerloom.engine.train.trainer import Trainer, TrainOptions

ROOT = Path(__file__).resolve().parents[2]
SPIRALS = ROOT / "templates" / "mlp_spirals.json"
TIMEOUT = 120
# Imported by every worker (it is on their PYTHONPATH): each rank also saves its final weights, so that the
# test sees the replicas themselves while the command under test stays the production one.
SAVE_REPLICAS = """
import os
if "RANK" in os.environ:
    import torch
    from layerloom.engine.train import trainer

    def run_and_save(self, run=trainer.Trainer.run):
        result = run(self)
        state = {"step": result.step, "weights": self.model.state_dict()}
        torch.save(state, os.path.join(os.environ["REPLICAS"], f"rank{os.environ['RANK']}.pt"))
        return result

    trainer.Trainer.run = run_and_save
"""


def _environment(folder: Path) -> dict:
    (folder / "sitecustomize.py").write_text(SAVE_REPLICAS)
    path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path, REPLICAS=str(folder))


def _single_process(out: Path, max_steps: int) -> list:
    events = []
    Trainer(engine.load(SPIRALS), TrainOptions(max_steps=max_steps, log_every=10, out_dir=out),
            on_event=each_step(events.append)).run()
    return events


def _replicas(folder: Path) -> list[dict]:
    return [torch.load(folder / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]


def _assert_close_weights(actual: dict, expected: dict) -> None:
    assert list(actual) == list(expected)  # the unwrapped module's keys: no "module." prefix
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A two-process run of mlp_spirals, interrupted by SIGINT to the launcher once rank 0 logged step 20."""
    folder = tmp_path_factory.mktemp("interrupted")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "layerloom", "train", str(SPIRALS), "--nproc", "2", "--epochs", "100",
         "--out", str(folder / "run"), "--events", "-", "--log-every", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_environment(folder))
    try:
        lines = []
        for line in launcher.stdout:
            lines.append(line)
            event = parse_event(line)
            if event.event == "step" and event.step >= 20:
                launcher.send_signal(signal.SIGINT)
                break
        out = launcher.stdout.read()  # from the same reader: step lines come in batches, some already buffered
        err = launcher.stderr.read()
        launcher.wait(timeout=TIMEOUT)
    finally:
        launcher.kill()  # the workers die with it
    return folder, [parse_event(line) for line in lines + out.splitlines()], err, launcher.returncode


def test_interrupted_processes_stop_together_with_identical_replicas_and_a_single_process_run_folder(
        interrupted, tmp_path):
    folder, events, err, status = interrupted
    run, end = folder / "run", events[-1]
    assert status == 130 and (end.event, end.status) == ("end", "cancelled")
    assert err.splitlines()[0].startswith(f"cancelled after {end.step} steps") and len(err.splitlines()) == 2
    reference = _single_process(tmp_path, end.step)
    assert [(e.event, getattr(e, "step", None)) for e in events] == [
        (e.event, getattr(e, "step", None)) for e in reference]
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in tmp_path.iterdir())
    assert [parse_event(line) for line in (run / "events.jsonl").read_text().splitlines()] == events
    for ours, theirs in zip(events, reference):  # each step takes the samples of the single-process step
        if ours.event == "step":
            assert ours.loss == pytest.approx(theirs.loss, rel=1e-4)
    replicas = _replicas(folder)
    assert [r["step"] for r in replicas] == [end.step] * 2
    assert all(torch.equal(replicas[0]["weights"][k], replicas[1]["weights"][k]) for k in replicas[0]["weights"])
    saved = torch.load(run / "model.pt", weights_only=True)
    engine.compile_model(engine.load(run / "architecture.json")).load_state_dict(saved)
    _assert_close_weights(saved, replicas[0]["weights"])
    _assert_close_weights(saved, load_weights(tmp_path / "model.pt"))


def test_two_processes_resume_where_the_interrupted_run_stopped(interrupted, tmp_path, monkeypatch, capfd):
    folder, events, _, _ = interrupted
    stopped = events[-1].step
    run = shutil.copytree(folder / "run", tmp_path / "run")
    for name, value in _environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    assert main(["train", str(SPIRALS), "--nproc", "2", "--resume", "--out", str(run),
                 "--max-steps", str(stopped + 20)]) == 0
    out, err = capfd.readouterr()
    assert out.startswith(f"max_steps after {stopped + 20} steps") and not err
    log = [parse_event(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert [e.first_step for e in log if e.event == "start"] == [0, stopped]
    replicas = _replicas(tmp_path)
    assert all(torch.equal(replicas[0]["weights"][k], replicas[1]["weights"][k]) for k in replicas[0]["weights"])
    _single_process(tmp_path / "one", stopped + 20)  # the optimizer state went to both ranks: same course as one
    _assert_close_weights(load_weights(run / "model.pt"), load_weights(tmp_path / "one" / "model.pt"))


def test_a_failing_worker_gives_one_line_and_exit_1(tmp_path, capfd):
    document = json.loads(SPIRALS.read_text())
    document["training"]["dataset"]["params"] = {"n_samples": "many"}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    handler = signal.getsignal(signal.SIGINT)
    assert main(["train", str(path), "--nproc", "2", "--out", str(tmp_path / "run")]) == 1
    out, err = capfd.readouterr()  # the workers' output too: they write to the same file descriptors
    assert not out and err.splitlines() == [f"{path}: dataset 'spirals': params.n_samples: Input should be a valid "
                                            "integer"]
    assert signal.getsignal(signal.SIGINT) is handler


def test_the_reason_reported_is_that_of_the_process_that_failed_first(tmp_path):
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    def failure(rank, exitcode, message=None, time=None):
        error_file = tmp_path / f"{rank}-{time}.json"
        if message:
            error_file.write_text(json.dumps({"message": message, "timestamp": int(time), "time": time}))
        return ProcessFailure(local_rank=rank, pid=100 + rank, exitcode=exitcode, error_file=str(error_file))

    assert _first_reason({0: failure(0, 1, "out of memory", 10.5), 1: failure(1, 1, "connection closed", 10.7),
                          2: failure(2, -signal.SIGTERM)}) == "out of memory"
    assert _first_reason({1: failure(1, 1, "out of memory", 10.9), 0: failure(0, 1, "connection closed", 11.2)}) \
        == "out of memory"
    assert _first_reason({1: failure(1, -signal.SIGKILL)}) == "training process 1 was killed by SIGKILL"


def test_shards_are_disjoint_and_equal_so_every_rank_takes_as_many_steps():
    for count in (10, 11, 12):
        order = torch.randperm(count)
        shares = [Group(rank, 3).shard(order) for rank in range(3)]
        assert [len(s) for s in shares] == [count // 3] * 3
        assert len(set(torch.cat(shares).tolist())) == 3 * (count // 3)


@pytest.mark.parametrize("args, message", [
    (["--nproc", "0"], "--nproc 0: input should be greater than or equal to 1"),
    (["--nproc", "2", "--nnodes", "2"], "--nnodes needs --rdzv-endpoint HOST:PORT"),
    (["--nproc", "2", "--device", "mps"], "not on mps: use --device cpu"),
    (["--nproc", "3", "--device", "cuda"], "--nproc 3 needs a CUDA device per process, and this machine has 2"),
])
def test_launch_problems_are_one_clear_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert main(["train", str(SPIRALS), "--out", str(tmp_path / "run"), *args]) == 1
    err = capsys.readouterr().err
    flag = message.startswith(("--nproc 0", "--nnodes"))  # a flag's own problem names the flag, the rest the document
    assert err.startswith("--" if flag else f"{SPIRALS}: ") and message in err and err.count("\n") == 1
