"""Every template validates, compiles and learns; the gallery lists each once, in the order GALLERY.json gives."""
import dataclasses
import json
import math

import pytest
import torch

from layerloom import engine
from layerloom.engine.inline import flatten
from layerloom.engine.templates import GALLERY_FILE, TEMPLATES_DIR, Target, gallery
from layerloom.engine.train.events import each_step
from layerloom.engine.train.setup import build_model, load_data, training_config
from layerloom.engine.train.trainer import Trainer, TrainOptions

GALLERY = gallery()
IDS = [info.path.stem for info in GALLERY]
SUBSET = 320  # samples: 20 steps of every template's batch size, quick to measure

# What each twin changes, as node types added or removed, params changed on shared nodes ("type" when the layer
# type itself changes) and training fields changed. Names and descriptions may differ too.
TWIN_CHANGES = {
    ("birnn_context_tagging.json", "rnn_context_tagging.json"): {"bidirectional"},
    ("lstm_adding.json", "rnn_adding.json"): {"type"},
    ("deep_relu_lecun_init.json", "deep_sigmoid_small_init.json"): {"relu", "sigmoid", "init"},
    ("deep_batchnorm.json", "deep_plain.json"): {"batchnorm"},
    ("deep_residual.json", "deep_plain.json"): {"add"},
    ("rnn_exploding_clipped.json", "rnn_exploding.json"): {"grad_clip.max_norm"},
    ("mlp_weight_decay.json", "mlp_overfit.json"): {"optimizer.weight_decay"},
    # attention instead of recurrence: an embedding, self-attention and a mean over positions for the LSTM; the
    # transformer's learning rate (and, at T = 400, the 2 epochs of batches of 32 it needs where the LSTM fails in 10)
    ("transformer_adding.json", "lstm_adding.json"): {"linear", "multihead_attention", "mean", "lstm", "optimizer.lr"},
    ("transformer_adding_long.json", "lstm_adding_long.json"): {"linear", "multihead_attention", "mean", "lstm",
                                                                "optimizer.lr", "epochs", "batch_size"},
    ("seq2seq_attention_dates.json", "seq2seq_dates.json"): {"multihead_attention", "concat"},
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread trains them fastest, and more threads on shared cores wait on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_gallery_lists_every_template_once_in_file_order():
    listed = [info.file for info in GALLERY]
    order = [e["file"] for s in json.loads(GALLERY_FILE.read_text())["sections"] for e in s["templates"]]
    on_disk = {p.name for p in TEMPLATES_DIR.glob("*.json")} - {GALLERY_FILE.name}
    assert listed == order
    assert sorted(listed) == sorted(on_disk)


def test_every_template_has_a_name_and_a_description_of_a_few_sentences():
    for info in GALLERY:
        assert info.name.strip() and info.name != "Untitled", info.file
        assert info.description.count(". ") >= 1, info.file


def test_targets_name_templates_of_the_gallery():
    files = {info.file for info in GALLERY}
    for info in GALLERY:
        assert all(t.than in files for t in info.targets if t.than), info.file
        assert info.beside is None or info.beside in files, info.file


def test_target_needs_exactly_one_reference():
    assert Target(metric="val_loss", op="<", value=0.1).holds(0.05, 0.1)
    with pytest.raises(ValueError):
        Target(metric="val_loss", op="<", value=0.1, than="rnn_adding.json")
    with pytest.raises(ValueError):
        Target(metric="val_loss", op="<")


def test_a_target_met_exactly_holds_whatever_the_float_rounding():
    gap = 0.93 - 0.88  # 200 validation points: ten more right in training, 0.050000000000000044 in floats
    assert Target(metric="accuracy_gap", op="<=", value=0.05).holds(gap, 0.05)
    assert Target(metric="accuracy_gap", op=">=", value=0.05).holds(0.05, gap)
    assert not Target(metric="accuracy_gap", op="<", value=0.05).holds(gap, 0.05)
    assert not Target(metric="accuracy_gap", op="<=", value=0.05).holds(0.0501, 0.05)


def _changes(a: dict, b: dict) -> set[str]:
    """What differs between two documents, in the vocabulary of TWIN_CHANGES."""
    nodes_a, nodes_b = ({n["id"]: n for n in doc["nodes"]} for doc in (a, b))
    changed = {nodes[i]["type"] for nodes, other in ((nodes_a, nodes_b), (nodes_b, nodes_a)) for i in nodes.keys() - other.keys()}
    for node_id in nodes_a.keys() & nodes_b.keys():
        x, y = nodes_a[node_id], nodes_b[node_id]
        if x["type"] != y["type"]:
            changed.add("type")
        px, py = x.get("params", {}), y.get("params", {})
        changed |= {k for k in px.keys() | py.keys() if px.get(k) != py.get(k)}
    ta, tb = _flat(a["training"]), _flat(b["training"])
    return changed | {k for k in ta.keys() | tb.keys() if ta.get(k) != tb.get(k)}


def _flat(data: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in data.items():
        flat |= _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value}
    return flat


def test_twins_differ_in_the_one_idea_they_show():
    pairs = {(info.file, t.than) for info in GALLERY for t in info.targets if t.than}
    assert pairs == set(TWIN_CHANGES)
    for (a, b), expected in TWIN_CHANGES.items():
        docs = [flatten(engine.load(TEMPLATES_DIR / name)).to_dict() for name in (a, b)]  # blocks inlined
        assert _changes(*docs) == expected, (a, b)


@pytest.mark.parametrize("info", GALLERY, ids=IDS)
def test_template_validates_and_compiles(info):
    arch = engine.load(info.path)
    problems, _ = engine.check(arch)
    assert problems == []
    assert arch.training is not None
    engine.compile_model(arch)


@pytest.mark.parametrize("info", GALLERY, ids=IDS)
def test_twenty_steps_lower_the_loss(info):
    """Templates built to explode must instead stop on a non-finite loss with the exploding diagnosis."""
    arch = engine.load(info.path)
    full = load_data(arch, training_config(arch))
    assert all(t.relative_to in full.info for t in info.targets if t.relative_to)
    data = dataclasses.replace(full, inputs=tuple(x[:SUBSET] for x in full.inputs), target=full.target[:SUBSET])
    events = []
    trainer = Trainer(arch, TrainOptions(epochs=20, max_steps=20), on_event=each_step(events.append), dataset=data)
    result = trainer.run()
    if "exploding" in info.diagnoses:
        assert result.status == "failed" and "exploding" in {e.kind for e in events if e.event == "diagnosis"}
        return
    assert result.status == "max_steps", result.error
    before = _training_loss(build_model(arch, trainer.config.seed), trainer)
    assert math.isfinite(before) and _training_loss(trainer.model, trainer) < before


@torch.no_grad()
def _training_loss(model, trainer) -> float:
    """The loss on the training part as training sees it (batch norm uses the batch's statistics)."""
    inputs, target = trainer.train_data
    return float(trainer.objective.loss(model.train()(*inputs), target))
