"""A run folder is never lost and always consistent: an earlier run is only continued or replaced on request, one
snapshot holds what --resume needs, and a run killed at any moment resumes to the weights of an uninterrupted run
(issue 12, defects 4 and 5)."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from layerloom.engine.fileio import load_torch
from layerloom.engine.train.events import parse_event

from cli_runs import MOONS, cli, one_line_error, small_document

ROOT = Path(__file__).resolve().parents[2]
MANY_SAVES = dict(MOONS, epochs=24)  # 4 steps an epoch: a snapshot every 4 steps


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _trained(tmp_path: Path, *extra) -> tuple[Path, Path]:
    doc, run = small_document(tmp_path / "doc.json"), tmp_path / "run"
    assert cli("train", doc, "--out", run, *extra)[0] == 0
    return doc, run


def test_training_into_a_folder_that_holds_a_run_is_refused_and_touches_nothing(tmp_path):
    doc, run = _trained(tmp_path)
    before = _files(run)
    line = one_line_error(cli("train", doc, "--out", run))
    assert f"{run} already holds files: --resume continues its run, --overwrite replaces it" in line
    assert _files(run) == before


def test_overwrite_replaces_the_run_only_once_the_new_one_has_a_snapshot(tmp_path):
    doc, run = _trained(tmp_path)
    before = _files(run)
    bad = small_document(tmp_path / "bad.json", dict(MOONS, dataset={"name": "moons", "params": {"noise": 9}}))
    line = one_line_error(cli("train", bad, "--out", run, "--overwrite"))
    assert "params.noise" in line and f"the run already in {run} was kept" in line
    assert _files(run) == before and sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "doc.json", "run"]
    assert cli("train", doc, "--out", run, "--overwrite", "--seed", "7")[0] == 0
    events = [parse_event(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert [e.event for e in events].count("start") == 1 and events[0].config["seed"] == 7
    assert events[0].run_dir == str(run) and sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "doc.json",
                                                                                             "run"]


def test_resume_reads_the_one_snapshot_and_cleans_what_a_killed_run_left(tmp_path):
    doc = small_document(tmp_path / "doc.json", MANY_SAVES)
    assert cli("train", doc, "--out", tmp_path / "full")[0] == 0
    assert cli("train", doc, "--out", tmp_path / "part", "--max-steps", "10")[0] == 0
    part = tmp_path / "part"
    # what a kill between the snapshot and model.pt, or in the middle of a write, leaves behind
    torch.save({k: v + 1 for k, v in load_torch(part / "model.pt").items()}, part / "model.pt")
    (part / ".checkpoint.pt.x1y2.tmp").write_bytes(b"half a file")
    with open(part / "events.jsonl", "a") as log:
        log.write('{"event":"step","step":11,"epoch":3,"loss":9.0,"grad_norm":{},"weight_norm":{},"update_ratio":{},'
                  '"grad_norm_total":1.0,"grad_norm_clipped":1.0,"clipped":false}\n')
    assert cli("train", doc, "--out", part, "--resume")[0] == 0
    full, resumed = load_torch(tmp_path / "full" / "model.pt"), load_torch(part / "model.pt")
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    assert not list(part.glob(".*.tmp"))
    losses = [e.loss for e in map(parse_event, (part / "events.jsonl").read_text().splitlines()) if e.event == "step"]
    assert 9.0 not in losses


# ---- the crash test ----

KILLS = 4
STEPS = 96  # MANY_SAVES: 24 epochs of 4 steps


def _train_until_killed(doc: Path, run: Path, at_step: int, delay: float) -> int:
    """Train (resuming when there is a snapshot), SIGKILLed `delay` seconds after its event log shows step
    `at_step`; the exit status."""
    again = ["--resume"] if (run / "checkpoint.pt").exists() else ["--overwrite"] if run.exists() else []
    process = subprocess.Popen(
        [sys.executable, "-m", "layerloom", "train", str(doc), "--out", str(run), "--log-every", "1", *again],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        log = run / "events.jsonl"
        while process.poll() is None and not (log.is_file() and log.read_bytes().count(b'"event":"step"') >= at_step):
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        return process.wait(60)
    finally:
        process.kill()


def _course(run: Path) -> list[tuple]:
    """What a run did, step by step: the step and epoch events without their timings."""
    events = [parse_event(line) for line in (run / "events.jsonl").read_text().splitlines()]
    return [(e.event, e.step, getattr(e, "loss", None), json.dumps(getattr(e, "metrics", None)))
            for e in events if e.event in ("step", "epoch")]


def test_a_run_killed_at_random_moments_resumes_to_the_uninterrupted_weights(tmp_path):
    doc = small_document(tmp_path / "doc.json", MANY_SAVES)
    assert cli("train", doc, "--out", tmp_path / "whole", "--log-every", "1")[0] == 0
    kills = [(step, random.uniform(0, 0.01)) for step in sorted(random.sample(range(2, STEPS), KILLS))]
    run = tmp_path / "killed"
    statuses = [_train_until_killed(doc, run, step, delay) for step, delay in kills]
    code, _, err = cli("train", doc, "--out", run, "--log-every", "1",
                       *(["--resume"] if (run / "checkpoint.pt").exists() else ["--overwrite"]))
    assert code == 0, (kills, statuses, err)
    assert statuses.count(-signal.SIGKILL) >= KILLS - 1, (kills, statuses)  # killed while it ran
    whole, killed = load_torch(tmp_path / "whole" / "model.pt"), load_torch(run / "model.pt")
    assert all(torch.equal(whole[k], killed[k]) for k in whole), kills
    assert _course(run) == _course(tmp_path / "whole"), kills  # the event log too: each step once, as it was
    assert not list(run.glob(".*")) and not list(tmp_path.glob(".killed*"))
