"""The dashboard streaming a trainer's exact bytes: charts, stop, failures, runs, and a flood it must thin.

The stand-in trainer is a replayer: the test renders the events with the engine's own writer (`to_json`, what
`layerloom train --events -` prints), and the child process writes those lines to stdout and to its run
folder, so the dashboard reads what the real trainer writes, fast paths included, without starting torch.
"""
import json
import sys
import textwrap
import time

import pytest
from PySide6.QtWidgets import QMessageBox

from layerloom import engine
from layerloom.designer.dashboard import DashboardDock, runner
from layerloom.designer.dashboard.stream import STEP_RATE
from layerloom.designer.document import DocumentModel
from layerloom.engine.train.events import (EndEvent, EpochEvent, ErrorEvent, ParameterCounts, StartEvent, StepEvent,
                                           to_json)

REPLAYER = textwrap.dedent('''
    import json, os, signal, sys, time
    plan, args = json.load(open(sys.argv[1])), sys.argv[2:]
    out = args[args.index("--out") + 1] if "--out" in args else None
    log = open(os.path.join(out, "events.jsonl"), "w") if out else None
    if out:
        open(os.path.join(out, "architecture.json"), "w").write("{}")
    def write(line):
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()
        if log:
            log.write(line + "\\n")
            log.flush()
    def stop(*_):
        write(plan["cancel"])
        sys.exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN if plan["stubborn"] else stop)
    if plan["crash"]:
        raise RuntimeError("the trainer fell over")
    for line in plan["lines"]:
        write(line)
        time.sleep(plan["pause"])
    sys.exit(plan["exit"])
''')
LAYERS = ["hidden1", "hidden2", "scores"]
FLOOD = 3500   # step events written at once: fewer than MAX_BACKLOG lines, so only the token bucket thins them
BURST = 2000   # epoch events written just before the process exits: more than one parsing slice takes


def _step(step: int) -> StepEvent:
    grads = {"hidden1": 1e-6, "hidden2": 0.5, "scores": 1.0}
    return StepEvent(step=step, epoch=1 + (step - 1) // 10, loss=1 / step, grad_norm=grads, weight_norm=grads,
                     update_ratio=grads, grad_norm_total=1.0, grad_norm_clipped=1.0, clipped=False)


def plan(mode: str, command: str) -> dict:
    """What the stand-in writes for `layerloom <command>` in each mode, as the trainer's own lines."""
    steps = {"forever": 3000, "stubborn": 3000, "flood": FLOOD, "nan": 3}.get(mode, 20)   # forever: 30 s
    events = [StartEvent(mode=command, config={"epochs": 2}, device="cpu", monitored=LAYERS, steps_per_epoch=10,
                         total_steps=steps, parameters=ParameterCounts(total=10, trainable=10, per_node={}))]
    for step in range(1, steps + 1):
        events.append(_step(step))
        if step % 10 == 0 and mode != "flood":
            events.append(EpochEvent(epoch=step // 10, step=step, metrics={"train_loss": 1 / step, "val_loss": 2 / step},
                                     seconds=1))
    if mode == "burst":
        events += [EpochEvent(epoch=3 + i, step=steps, metrics={"val_loss": 0.5}, seconds=1) for i in range(BURST)]
    if mode == "nan":
        events.append(ErrorEvent(message="the loss became NaN at step 3", step=3, node="hidden2"))
    else:
        events.append(EndEvent(status="probed" if command == "probe" else "completed", step=steps,
                               metrics={"val_loss": 0.1}, seconds=0.2))
    return {"lines": [to_json(e) for e in events], "pause": 0.01 if mode in ("forever", "stubborn") else 0,
            "crash": mode == "crash", "stubborn": mode == "stubborn",
            "exit": 1 if mode == "nan" else 0,
            "cancel": to_json(EndEvent(status="cancelled", step=0, metrics={}, seconds=0.1))}


@pytest.fixture
def dock(qtbot, tmp_path, monkeypatch):
    mode = {"value": "normal"}

    def command(*args):
        path = tmp_path / f"plan-{time.monotonic_ns()}.json"
        path.write_text(json.dumps(plan(mode["value"], args[0])))
        return sys.executable, ["-c", REPLAYER, str(path), *args]
    monkeypatch.setattr(runner, "engine_command", command)
    document = DocumentModel(engine.load("templates/mlp_spirals.json"))
    widget = DashboardDock(document, runs_dir=tmp_path / "runs")
    widget.mode = mode
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.runner.shutdown()
    document.close()


def points(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def finish(qtbot, dock, timeout=10_000):
    qtbot.waitUntil(lambda: not dock.running, timeout=timeout)


def test_a_streamed_run_reaches_the_charts_and_the_canvas(qtbot, dock):
    tints = []
    dock.health_changed.connect(tints.append)
    run = dock.start_training()
    assert not dock.panel.start_button.isEnabled() and dock.panel.stop_button.isEnabled()
    finish(qtbot, dock)
    assert run.status == "completed" and run.steps_seen == 20
    dock.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: points(dock.charts[1].lines[0].items[0]) == 20, timeout=2000)
    assert points(dock.charts[0].curves[0][0]) == 20
    assert tints and tints[-1]["hidden1"].level == "vanishing" and tints[-1]["scores"].level == "healthy"
    assert dock.panel.start_button.isEnabled()
    assert "finished" in dock.panel.progress.format()


def test_stop_ends_the_run_and_a_second_run_can_start(qtbot, dock):
    dock.mode["value"] = "forever"
    first = dock.start_training()
    qtbot.waitUntil(lambda: first.steps_seen > 3, timeout=5000)
    dock.panel.stop_button.click()
    finish(qtbot, dock)
    assert first.status == "cancelled"
    dock.mode["value"] = "normal"
    second = dock.start_training()
    assert second is not first and second.folder != first.folder
    finish(qtbot, dock)
    assert second.status == "completed" and dock.primary is second


def test_a_trainer_that_ignores_the_interrupt_is_killed_after_the_grace_time(qtbot, dock, monkeypatch):
    from layerloom.designer.dashboard import process
    monkeypatch.setattr(process, "STOP_GRACE_MS", 300)
    dock.mode["value"] = "stubborn"
    run = dock.start_training()
    qtbot.waitUntil(lambda: run.steps_seen > 3, timeout=5000)
    dock.panel.stop_button.click()
    finish(qtbot, dock, timeout=5000)
    assert run.status == "cancelled" and run.end is None


def test_finished_comes_once_every_line_the_process_wrote_was_handed_over(qtbot, tmp_path):
    from layerloom.designer.dashboard.process import EngineProcess
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan("burst", "train")))
    received, at_finish = [], []

    def slow_sink(event):   # a consumer slower than the process: it exits long before its lines are read
        time.sleep(0.0005)
        received.append(event)
    process = EngineProcess(slow_sink)
    process.finished.connect(lambda code, stopped: at_finish.append(len(received)))
    process.start(sys.executable, ["-c", REPLAYER, str(path)])
    qtbot.waitUntil(lambda: bool(at_finish), timeout=30_000)
    assert at_finish == [len(plan("burst", "train")["lines"])] and received[-1].event == "end"


def test_a_nan_run_shows_its_error_and_the_editor_stays_usable(qtbot, dock):
    dock.mode["value"] = "nan"
    tints = []
    dock.health_changed.connect(tints.append)
    run = dock.start_training()
    finish(qtbot, dock)
    qtbot.waitUntil(lambda: dock.banner.isVisibleTo(dock), timeout=2000)
    assert run.status == "failed" and "NaN at step 3" in dock.banner.text()
    assert tints[-1]["hidden2"].level == "nonfinite"
    assert dock.panel.start_button.isEnabled()


def test_a_crashing_trainer_reports_its_last_words(qtbot, dock):
    dock.mode["value"] = "crash"
    run = dock.start_training()
    finish(qtbot, dock)
    assert run.status == "failed" and "the trainer fell over" in run.error.message
    qtbot.waitUntil(lambda: "fell over" in dock.banner.text(), timeout=2000)


def test_probe_shows_the_gradient_flow(qtbot, dock):
    run = dock.probe()
    assert dock.tabs.currentWidget() is dock.charts[2]      # the Per layer snapshot
    finish(qtbot, dock)
    assert run.mode == "probe" and run.folder is None


@pytest.mark.parametrize("answer, closes", [(QMessageBox.No, False), (QMessageBox.Yes, True)])
def test_closing_with_a_run_going_asks_first(qtbot, dock, monkeypatch, answer, closes):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: asked.append(args) or answer)
    assert dock.confirm_close() and not asked
    dock.mode["value"] = "forever"
    dock.start_training()
    assert dock.confirm_close() is closes and asked
    if closes:
        finish(qtbot, dock)


def test_runs_can_be_opened_and_compared(qtbot, dock):
    for _ in range(2):
        dock.start_training()
        finish(qtbot, dock)
    view = dock.runs_view
    view.refresh()
    assert view.tree.topLevelItemCount() == 2
    view.tree.topLevelItem(0).setSelected(True)
    view.tree.topLevelItem(1).setSelected(True)
    view.buttons["Compare"].click()
    assert len(dock.runs) == 2 and all(run.folder is not None for run in dock.runs)
    qtbot.waitUntil(lambda: all(run.steps_seen == 20 for run in dock.runs), timeout=3000)
    qtbot.waitUntil(lambda: points(dock.charts[0].curves[1][0]) == 20, timeout=2000)
    assert all(run.name in dock.showing.text() for run in dock.runs)


def test_evaluation_output_shows_a_confusion_matrix(qtbot, dock):
    result = {"part": "validation", "samples": 10, "metrics": {"loss": 0.2, "accuracy": 0.9},
              "class_names": ["a", "b"], "confusion": [[5, 1], [0, 4]]}
    dock.runs_view._show_result(json.dumps(result))
    matrix = dock.runs_view.matrix
    assert matrix.matrix == [[5, 1], [0, 4]] and matrix.labels == ["a", "b"]
    assert "accuracy: 90.0%" in dock.runs_view.output.toPlainText()
    dock.runs_view._show_result("the quick brown fox")
    assert dock.runs_view.output.toPlainText() == "the quick brown fox"


def test_a_hidden_dashboard_still_tints_the_canvas(qtbot, dock):
    dock.hide()
    tints = []
    dock.health_changed.connect(tints.append)
    dock.start_training()
    finish(qtbot, dock)
    qtbot.waitUntil(lambda: bool(tints), timeout=2000)
    assert tints[-1]["hidden1"].level == "vanishing"


def test_many_layers_share_a_few_lines(qtbot, dock):
    from layerloom.designer.dashboard.charts import style
    from layerloom.designer.dashboard.run_store import RunSeries
    from layerloom.engine.train.events import StepEvent
    layers = [f"l{i}" for i in range(50)]
    run = RunSeries("many")
    for number in (1, 2):
        values = {name: 1.0 + i for i, name in enumerate(layers)}
        run.feed(StepEvent(step=number, epoch=1, loss=1.0, grad_norm=values, weight_norm=values, update_ratio=values,
                           grad_norm_total=1.0, grad_norm_clipped=1.0, clipped=False))
    chart = dock.charts[1]
    chart.show_runs(run)
    lines = chart.lines[0]
    assert len(lines.items) == style.GROUPS_MAX
    x, y = lines.items[0].getData()
    assert len(x) == 2 * (lines.bounds[1] - lines.bounds[0])


def test_a_flood_of_steps_is_cut_to_the_step_rate_and_the_run_still_ends(qtbot, dock):
    dock.mode["value"] = "flood"
    run = dock.start_training()
    finish(qtbot, dock, timeout=30_000)
    seconds = time.monotonic() - run.started   # since the start event was read
    assert run.status == "completed" and run.end.step == FLOOD
    # the token bucket: a quarter second of STEP_RATE at once, then STEP_RATE per second
    assert run.steps_seen <= STEP_RATE / 4 + STEP_RATE * seconds and run.steps_seen < FLOOD, (run.steps_seen, seconds)


def test_a_backlog_is_thinned_before_it_is_parsed(qtbot):
    from layerloom.designer.dashboard.stream import MAX_BACKLOG, LineFeed
    events = []
    feed = LineFeed(events.append)   # no step rate: a file read whole
    count = 2 * MAX_BACKLOG + 1
    lines = [to_json(_step(i)) for i in range(1, count + 1)]
    lines.append(to_json(EndEvent(status="completed", step=count, metrics={}, seconds=1.0)))
    with qtbot.waitSignal(feed.drained, timeout=20_000):
        feed.write("".join(line + "\n" for line in lines).encode())
    steps = [e.step for e in events if e.event == "step"]
    assert feed.dropped == count - len(steps) > 0 and len(steps) == count // 2 + 1   # every other step
    assert steps[-1] == count and events[-1].event == "end"   # the newest step and every other event are kept
