"""`layerloom import MODULE:CLASS`: the document and weights it writes, and one clear line per bad input."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from layerloom import engine
import import_models as models
from layerloom.engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).with_name("import_models.py")


def test_import_writes_a_document_and_the_original_weights(tmp_path, capsys):
    doc, weights = tmp_path / "tagger.json", tmp_path / "tagger.pt"
    torch.manual_seed(0)
    args = ["import", "import_models:BiLSTMTagger", "--args", '{"vocab": 40, "tags": 3}', "--input-shape", "9",
            "-o", str(doc), "--weights", str(weights)]
    assert main(args) == 0
    assert capsys.readouterr().out == f"{doc}: 5 nodes imported from import_models:BiLSTMTagger; weights in {weights}\n"
    torch.manual_seed(0)  # the same initial weights as the module the command constructed
    original = models.BiLSTMTagger(vocab=40, tags=3).eval()
    model = engine.compile_model(engine.load(doc))
    model.load_state_dict(torch.load(weights, weights_only=True))
    tokens = torch.randint(0, 40, (4, 9))
    torch.testing.assert_close(model.eval()(tokens), original(tokens), rtol=0, atol=1e-6)
    assert main(["check", str(doc)]) == 0
    count = sum(p.numel() for p in original.parameters())
    assert capsys.readouterr().out == f"{doc}: valid, 5 nodes, {count:,} parameters\n"


def test_a_python_file_path_names_the_module(tmp_path, capsys):
    doc = tmp_path / "cnn.json"
    assert main(["import", f"{FIXTURES}:CNN", "--input-shape", "1,16,16", "-o", str(doc)]) == 0
    assert [n.type for n in engine.load(doc).nodes][:3] == ["input", "conv2d", "batchnorm"]


def _broken_module(tmp_path: Path) -> str:
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('needs a GPU')\n")
    return f"{path}:Net"


BAD = {
    "no colon": (["nocolon"], ["expected MODULE:CLASS (e.g. mypackage.models:Net or models.py:Net), got 'nocolon'"]),
    "missing module": (["no_such_module_xyz:Net"],
                       ["cannot import module 'no_such_module_xyz': No module named 'no_such_module_xyz'"]),
    "missing file": (["missing_dir/models.py:Net"], ["no Python file 'missing_dir/models.py'"]),
    "missing class": (["import_models:Nope"], ["module 'import_models' has no class 'Nope'"]),
    "not a module class": (["import_models:swish"],
                           ["'swish' in module 'import_models' is not a torch.nn.Module class"]),
    "bad JSON": (["import_models:MLP", "--args", "{hidden: 3}"],
                 ["--args is not valid JSON: Expecting property name enclosed in double quotes at column 2"]),
    "JSON not an object": (["import_models:MLP", "--args", "[3]"],
                           ['--args must be a JSON object of keyword arguments, like {"hidden": 32}, got [3]']),
    "wrong argument": (["import_models:MLP", "--args", '{"hiden": 3}'],
                       ["constructing MLP(**{\"hiden\": 3}) failed: TypeError: "
                        "MLP.__init__() got an unexpected keyword argument 'hiden'"]),
    "bad shape": (["import_models:MLP", "--input-shape", "20,x"],
                  ["--input-shape '20,x' is not a list of positive sizes such as 1,28,28"]),
    "shape needed": (["import_models:CNN"], [
        "input 'x' needs its shape per sample, without the batch dimension (--input-shape, e.g. 1,28,28): "
        "only an input read by linear layers alone has one inferred"]),
    "untraceable": (["import_models:DataDependent"], [
        "cannot trace DataDependent with torch.fx: TraceError: "
        "symbolically traced variables cannot be used as inputs to control flow"]),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_one_clear_line_and_exit_1(tmp_path, capsys, case):
    args, lines = BAD[case]
    doc = tmp_path / "out.json"
    assert main(["import", *args, "-o", str(doc)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines() == [f"{args[0]}: {line}" for line in lines]
    assert not doc.exists()


def test_a_module_that_fails_to_load_is_named(tmp_path, capsys):
    spec = _broken_module(tmp_path)
    assert main(["import", spec, "-o", str(tmp_path / "out.json")]) == 1
    assert capsys.readouterr().err == f"{spec}: importing module '{spec[:-4]}' failed: RuntimeError: needs a GPU\n"


def test_unsupported_parts_get_one_line_each_and_no_document(tmp_path, capsys):
    doc = tmp_path / "out.json"
    assert main(["import", "import_models:Unsupported", "--input-shape", "4,10", "-o", str(doc)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 7 and all(line.startswith("import_models:Unsupported: ") for line in lines)
    assert "import_models:Unsupported: prelu (self.prelu, torch.nn.PReLU) at import_models.py:194: " \
           "no LayerLoom layer for this module" in lines
    assert not doc.exists()


def test_parameters_forward_never_uses_are_named_and_the_rest_imported(tmp_path, capsys):
    doc = tmp_path / "unused.json"
    assert main(["import", "import_models:UnusedLayer", "-o", str(doc)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("import_models:UnusedLayer: self.unused (torch.nn.Linear): 5,000 parameter values that "
                            "forward never uses are left out\n")
    assert captured.out == f"{doc}: 3 nodes imported from import_models:UnusedLayer\n"


def test_an_unwritable_output_is_one_line(tmp_path, capsys):
    doc = tmp_path / "missing" / "out.json"
    assert main(["import", "import_models:MLP", "-o", str(doc)]) == 1
    assert capsys.readouterr().err == f"cannot write {doc}: no such file or directory\n"


def test_command_line_in_a_subprocess(tmp_path):
    doc, weights = tmp_path / "mlp.json", tmp_path / "mlp.pt"
    commands = [  # run side by side: most of each one's time is starting Python and torch
        ["import", "tests.engine.import_models:MLP", "--args", '{"hidden": 8}', "-o", str(doc),
         "--weights", str(weights)],
        ["import", "tests.engine.import_models:Missing", "-o", str(tmp_path / "missing.json")],
    ]
    runs = [subprocess.Popen([sys.executable, "-m", "layerloom", *args], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in commands]
    (good_out, good_err), (bad_out, bad_err) = [run.communicate(timeout=120) for run in runs]
    assert runs[0].returncode == 0 and good_err == ""
    assert good_out == f"{doc}: 8 nodes imported from tests.engine.import_models:MLP; weights in {weights}\n"
    assert engine.check(engine.load(doc))[0] == []
    engine.compile_model(engine.load(doc)).load_state_dict(torch.load(weights, weights_only=True))
    assert runs[1].returncode == 1 and bad_out == ""
    assert bad_err == ("tests.engine.import_models:Missing: "
                       "module 'tests.engine.import_models' has no class 'Missing'\n")
