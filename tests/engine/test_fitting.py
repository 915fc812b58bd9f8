"""Which bundled datasets fit a document, for the designer's first run and `layerloom datasets FILE`."""
from layerloom import engine
from layerloom.engine.cli import main
from layerloom.engine.train.fitting import fitting_datasets


def test_the_datasets_that_fit_come_first_with_their_loss_and_the_others_say_why(tmp_path):
    arch = engine.load("templates/lstm_adding.json").model_copy(update={"training": None})
    fits = fitting_datasets(arch)
    assert [(f.name, f.loss) for f in fits if f.fits] == [("adding", "mse")] and fits[0].name == "adding"
    reasons = {f.name: f.reason for f in fits if not f.fits}
    assert reasons["digits"] == "gives inputs of shape (1, 8, 8) but input node 'sequence' expects (50, 2)"
    assert reasons["csv"].startswith("reads a file of your own")
    classifier = engine.load("templates/mlp_spirals.json")
    assert {f.name for f in fitting_datasets(classifier) if f.fits} == {"spirals", "moons", "circles", "xor"}
    assert "the output must have the target's shape" in {f.name: f.reason for f in fitting_datasets(classifier)}["sine"]


def test_the_datasets_command(capsys, tmp_path):
    assert main(["datasets", "cnn_digits"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("digits") and "fits, with loss cross_entropy" in out[0]
    assert any(line.startswith("spirals") and "does not fit: gives inputs of shape (2,)" in line for line in out)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": 1, "nodes": [{"id": "x", "type": "input", "params": {"shape": [2]}}]}')
    assert main(["datasets", str(broken)]) == 1
    assert capsys.readouterr().out == ""
