"""The `layerloom export` command: weights from a model.pt or a run folder, atomic writes, one line per mistake."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.export import trained_model
from layerloom.engine.export.python_source import class_name

ROOT = Path(__file__).resolve().parents[2]
MLP = str(ROOT / "templates" / "mlp_spirals.json")


def trained_weights(tmp_path: Path) -> tuple[dict, Path]:
    """Weights unlike the fresh ones, saved as a run folder's model.pt."""
    model = engine.compile_model(engine.load(MLP))
    with torch.no_grad():
        for param in model.parameters():
            param.add_(1.0)
    run = tmp_path / "run"
    run.mkdir()
    torch.save(model.state_dict(), run / "model.pt")
    return model.state_dict(), run


def run_cli(capfd, *args) -> tuple[int, str, str]:
    code = main(["export", *map(str, args)])
    out, err = capfd.readouterr()
    return code, out, err


@pytest.mark.parametrize("where", ["folder", "file"])
def test_python_export_writes_the_given_weights_beside_the_source(tmp_path, capfd, where):
    weights, run = trained_weights(tmp_path)
    code, out, err = run_cli(capfd, MLP, "--format", "python", "-o", tmp_path / "net.py",
                             "--weights", run if where == "folder" else run / "model.pt")
    assert (code, err) == (0, "")
    assert out.strip().startswith(f"wrote {tmp_path / 'net.py'}: class ") and f"in {tmp_path / 'net.pt'}" in out
    namespace = {}
    exec((tmp_path / "net.py").read_text(), namespace)
    module = namespace[class_name(engine.load(MLP).name)]()
    module.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True))
    assert all(torch.equal(t, weights[k]) for k, t in module.state_dict().items())


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_export_embeds_the_given_weights(tmp_path, capfd):
    weights, run = trained_weights(tmp_path)
    code, out, err = run_cli(capfd, MLP, "--format", "torchscript", "-o", tmp_path / "net.ts", "--weights", run)
    assert (code, err) == (0, "") and "with the weights of" in out
    loaded = torch.jit.load(str(tmp_path / "net.ts"))
    assert all(torch.equal(t, weights[k]) for k, t in loaded.state_dict().items())
    assert sorted(os.listdir(tmp_path)) == ["net.ts", "run"]


def test_onnx_without_its_packages_says_what_to_install(tmp_path, capfd, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    code, out, err = run_cli(capfd, MLP, "--format", "onnx", "-o", tmp_path / "net.onnx")
    assert code == 1 and out == "" and "pip install 'layerloom[onnx]'" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def _weights_file(tmp_path: Path, change) -> Path:
    state = trained_model(engine.load(MLP)).state_dict()
    change(state)
    torch.save(state, tmp_path / "model.pt")
    return tmp_path / "model.pt"


def _invalid_document(tmp_path: Path) -> Path:
    nodes = [{"id": "x", "type": "input", "params": {"shape": [2]}},
             {"id": "fc", "type": "linear", "params": {"out_features": 0}}, {"id": "y", "type": "output"}]
    edges = [{"source": "x", "target": "fc"}, {"source": "fc", "target": "y"}]
    (tmp_path / "bad.json").write_text(json.dumps({"format_version": 1, "nodes": nodes, "edges": edges}))
    return tmp_path / "bad.json"


def _bytes(tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "model.pt").write_bytes(data)
    return tmp_path / "model.pt"


MISTAKES = [
    ("missing document", lambda t: [t / "nope.json", "--format", "python", "-o", t / "x.py"],
     "nope.json: cannot read: no such file"),
    ("invalid document", lambda t: [_invalid_document(t), "--format", "python", "-o", t / "x.py"],
     "bad.json: node 'fc', params.out_features: Input should be greater than or equal to 1"),
    ("unknown format", lambda t: [MLP, "--format", "keras", "-o", t / "x.py"],
     "unknown format 'keras': use python, torchscript or onnx"),
    ("unwritable folder", lambda t: [MLP, "--format", "python", "-o", t / "missing" / "x.py"],
     "x.py: no such file or directory"),
    ("output is a folder", lambda t: [MLP, "--format", "torchscript", "-o", (t / "dir").mkdir() or t / "dir"],
     "dir: it is a folder, not a regular file"),
    ("weights shape", lambda t: [MLP, "--format", "python", "-o", t / "x.py", "--weights",
                                 _weights_file(t, lambda s: s.update({"hidden2.weight": torch.zeros(3, 64)}))],
     "model.pt: parameter 'hidden2.weight' has shape (3, 64), the model's has (64, 64)"),
    ("weights missing", lambda t: [MLP, "--format", "onnx", "-o", t / "x.onnx", "--weights",
                                   _weights_file(t, lambda s: s.pop("scores.bias"))],
     "model.pt: parameter 'scores.bias' is missing"),
    ("weights surplus", lambda t: [MLP, "--format", "torchscript", "-o", t / "x.ts", "--weights",
                                   _weights_file(t, lambda s: s.update({"extra.weight": torch.zeros(1)}))],
     "model.pt: parameter 'extra.weight' is not in this model"),
    ("weights not a state_dict", lambda t: [MLP, "--format", "python", "-o", t / "x.py", "--weights",
                                            _weights_file(t, lambda s: s.update({"epoch": 3}))],
     "model.pt: it does not hold a model's weights"),
    ("weights garbage", lambda t: [MLP, "--format", "python", "-o", t / "x.py", "--weights",
                                   _bytes(t, b"not a zip file")], "model.pt: it is not a weights file that loads safely"),
    ("weights absent", lambda t: [MLP, "--format", "python", "-o", t / "x.py", "--weights", t / "none.pt"],
     "none.pt: no such file"),
    ("not a run folder", lambda t: [MLP, "--format", "python", "-o", t / "x.py", "--weights", t],
     "not a run folder (model.pt is missing)"),
    ("python named .pt", lambda t: [MLP, "--format", "python", "-o", t / "x.pt", "--weights",
                                    _weights_file(t, lambda s: None)], "x.pt: name the Python file *.py"),
]


@pytest.mark.parametrize("make_args, expected", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_every_mistake_is_one_line_and_exit_1_and_writes_nothing(tmp_path, capfd, make_args, expected):
    args = make_args(tmp_path)
    before = sorted(os.listdir(tmp_path))
    code, out, err = run_cli(capfd, *args)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == before


def test_a_failed_write_keeps_the_previous_file(tmp_path, capfd, monkeypatch):
    target = tmp_path / "net.py"
    target.write_text("previous")

    def fail(*_):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fail)
    code, out, err = run_cli(capfd, MLP, "--format", "python", "-o", target)
    assert code == 1 and err.strip() == f"cannot write {target}: no space left on device"
    assert target.read_text() == "previous" and os.listdir(tmp_path) == ["net.py"]
