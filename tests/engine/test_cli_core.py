"""The `layerloom` check, summary and schema commands: exit codes, one line per problem, never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layerloom import engine
from layerloom.engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
CNN = {"format_version": 1, "name": "Small CNN", "nodes": [
    {"id": "image", "type": "input", "params": {"shape": [1, 8, 8]}},
    {"id": "conv1", "type": "conv2d", "params": {"out_channels": 4, "padding": 1}},
    {"id": "pool", "type": "maxpool2d"},
    {"id": "flat", "type": "flatten"},
    {"id": "fc", "type": "linear", "params": {"out_features": 10}},
    {"id": "logits", "type": "output"},
], "edges": [{"source": a, "target": b} for a, b in
             [("image", "conv1"), ("conv1", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "logits")]]}
VALID_LINE = "valid, 6 nodes, 690 parameters"
MISMATCH = {"format_version": 1, "nodes": [
    {"id": "x", "type": "input", "params": {"shape": [16]}},
    {"id": "fc", "type": "linear", "params": {"out_features": 32}},
    {"id": "merge", "type": "add"},
    {"id": "loose", "type": "relu"},
    {"id": "y", "type": "output"},
], "edges": [{"source": "x", "target": "fc"}, {"source": "x", "target": "merge"}, {"source": "fc", "target": "merge"},
             {"source": "merge", "target": "y"}, {"source": "x", "target": "loose"}]}


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def layer_doc(layer: dict, shape=(8,)) -> dict:
    return {"format_version": 1, "nodes": [{"id": "x", "type": "input", "params": {"shape": list(shape)}}, layer,
                                           {"id": "y", "type": "output"}],
            "edges": [{"source": "x", "target": layer["id"]}, {"source": layer["id"], "target": "y"}]}


@pytest.fixture
def cnn(tmp_path) -> Path:
    return write(tmp_path, "cnn.json", CNN)


def test_check_valid_file_exits_0(cnn, capsys):
    assert main(["check", str(cnn)]) == 0
    assert capsys.readouterr().out == f"{cnn}: {VALID_LINE}\n"


def test_check_prints_one_line_per_problem_naming_file_and_node(tmp_path, cnn, capsys):
    path = write(tmp_path, "mismatch.json", MISMATCH)
    assert main(["check", str(path), str(cnn)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: node 'loose': is not connected to an output",
        f"{path}: node 'merge': inputs have shapes (16,) and (32,); add needs them all the same",
        f"{cnn}: {VALID_LINE}",
    ]


BAD_INPUTS = {
    "not_json.json": "format_version = 1",
    "binary.json": bytes(range(256)),
    "empty.json": "",
    "wrong_types.json": {"format_version": 1, "nodes": [{"id": 3, "type": ["linear"]}], "edges": "none"},
    "negative.json": layer_doc({"id": "fc", "type": "linear", "params": {"out_features": -5}}),
    "absurd.json": layer_doc({"id": "fc", "type": "linear", "params": {"out_features": 2**31 - 1}}, shape=(2**31 - 1,)),
    "absurd_input.json": layer_doc({"id": "act", "type": "relu"}, shape=(2**31 - 1,) * 8),
    "unknown_type.json": layer_doc({"id": "att", "type": "attention"}),
    "nested.json": "[" * 50_000 + "]" * 50_000,
    "nested_params.json": layer_doc({"id": "fc", "type": "linear", "params": {"bias": json.loads("[" * 500 + "]" * 500)}}),
    "huge_number.json": '{"format_version": 1, "nodes": [{"id": "x", "type": "input", "params": {"shape": [1e999]}}]}',
    "huge_int.json": '{"format_version": ' + "7" * 10_000 + "}",
}


@pytest.mark.parametrize("name", [*BAD_INPUTS, "folder", "missing.json"])
@pytest.mark.parametrize("command", ["check", "summary"])
def test_bad_input_gets_clear_lines_and_exit_1(tmp_path, capsys, name, command):
    path = tmp_path / name if name in ("folder", "missing.json") else write(tmp_path, name, BAD_INPUTS[name])
    if name == "folder":
        path.mkdir()
    assert main([command, str(path)]) == 1
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert lines and all(line.startswith(f"{path}: ") for line in lines), lines
    assert "Traceback" not in captured.out + captured.err


def test_summary_table_and_json(cnn, capsys):
    assert main(["summary", str(cnn)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["node", "type", "output", "shape", "params", "MACs", "activations", "(batch", "64)"]
    assert table[3].split() == ["conv1", "conv2d", "(4,", "8,", "8)", "40", "2,304", "64", "KiB"]
    assert table[-3:] == ["total params: 690  trainable: 690", "MACs per sample: 2,944",
                          "training memory at batch 64: 139 KiB (activations 128, parameters 2.7, gradients 2.7, "
                          "Adam state 5.41)"]
    assert main(["summary", str(cnn), "--json", "--batch-size", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == engine.summarize(engine.from_dict(CNN), batch_size=3)
    assert summary["nodes"][1] == {"id": "conv1", "type": "conv2d", "output_shape": [4, 8, 8], "params": 40,
                                   "macs": 2304, "activation_bytes": 3 * 4 * 8 * 8 * 4}
    assert {"total_macs", "param_bytes", "grad_bytes", "optimizer_bytes", "activation_bytes", "training_bytes",
            "batch_size"} <= summary.keys()


@pytest.mark.parametrize("value", ["0", "-3", "1000001", "99999999999999999999", "1e9", "2.5", "many", ""])
def test_summary_refuses_a_bad_batch_size_in_one_line(cnn, capsys, value):
    assert main(["summary", str(cnn), f"--batch-size={value}"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"layerloom summary: --batch-size: a batch holds 1 to 1,000,000 samples, not {value}\n"


def test_summary_warns_with_the_number_when_training_would_not_fit_in_memory(cnn, capsys, monkeypatch):
    monkeypatch.setattr(engine.cli, "machine_memory", lambda: 100 * 2**10)
    assert main(["summary", str(cnn), "--batch-size", "1000"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1].startswith("training memory at batch 1,000: 1.96 MiB")
    assert captured.err == f"{cnn}: warning: training at batch 1,000 needs 1.96 MiB, more than this machine's 100 KiB\n"


def test_summary_of_an_invalid_file_names_each_problem(tmp_path, capsys):
    path = write(tmp_path, "mismatch.json", MISMATCH)
    assert main(["summary", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{path}: node 'loose': is not connected to an output",
        f"{path}: node 'merge': inputs have shapes (16,) and (32,); add needs them all the same",
    ]


def test_schema_prints_the_json_schema(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == engine.json_schema()


def test_an_unexpected_error_is_one_line_naming_the_log_that_holds_its_traceback(cnn, monkeypatch, capsys, tmp_path):
    def broken(_):
        raise RuntimeError("boom")
    monkeypatch.setattr(engine.cli, "check", broken)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert main(["check", str(cnn)]) == 1
    line = capsys.readouterr().err
    prefix = "layerloom: internal error (RuntimeError: boom); please report it with the traceback in "
    assert line.startswith(prefix) and line.count("\n") == 1
    log = Path(line.removeprefix(prefix).strip())
    assert log.parent == tmp_path / "state" / "layerloom" / "crashes"
    assert "Traceback" in log.read_text() and "in broken" in log.read_text()


def test_command_line_in_a_subprocess(tmp_path, cnn):
    bad = write(tmp_path, "mismatch.json", MISMATCH)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    (tmp_path / "folder").mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "layerloom", "check", str(cnn), str(bad), str(pipe), str(tmp_path / "folder")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert run.returncode == 1 and run.stderr == ""
    assert run.stdout.splitlines() == [
        f"{cnn}: {VALID_LINE}",
        f"{bad}: node 'loose': is not connected to an output",
        f"{bad}: node 'merge': inputs have shapes (16,) and (32,); add needs them all the same",
        f"{pipe}: cannot read: it is a named pipe (FIFO), not a regular file",
        f"{tmp_path / 'folder'}: cannot read: it is a folder, not a regular file",
    ]

