"""Tests for the built-in and user datasets of engine.data."""

import datetime
import math

import numpy as np
import pytest
import torch
from annotated_types import Ge, Le

from layerloom.engine.data import DATASETS, Dataset, DatasetError, check_fits, load_dataset
from layerloom.engine.data.dates import FORMATS
from layerloom.engine.data.dates import written as written_date
from layerloom.engine.data.text import CORPUS_PATH
from layerloom.engine.data.sentiment import NEGATION, NEGATIVE, POSITIVE
from layerloom.engine.data.tagging import ENTITIES, PREFIX_CUES, SUFFIX_CUES

USER_FILES = ("csv", "npz", "image_folder", "image_pairs", "text", "text_csv")   # read from the user's files
GENERATED = [name for name in DATASETS if name not in USER_FILES]

# name -> (input shapes, input dtypes, target shape per sample, task, num_classes) for default params
DEFAULT_SHAPES = {
    "digits": ([(1, 8, 8)], [torch.float32], (), "classification", 10),
    "spirals": ([(2,)], [torch.float32], (), "classification", 2),
    "moons": ([(2,)], [torch.float32], (), "classification", 2),
    "circles": ([(2,)], [torch.float32], (), "classification", 2),
    "xor": ([(2,)], [torch.float32], (), "classification", 2),
    "colorize": ([(1, 16, 16)], [torch.float32], (3, 16, 16), "regression", None),
    "sine": ([(2,)], [torch.float32], (20, 1), "regression", None),
    "sentiment": ([(12,)], [torch.int64], (), "classification", 2),
    "tagging": ([(12,)], [torch.int64], (12,), "classification", 4),
    "context_tagging": ([(12,)], [torch.int64], (12,), "classification", 4),
    "reverse": ([(8,), (9,)], [torch.int64, torch.int64], (9,), "classification", 12),
    "adding": ([(50, 2)], [torch.float32], (1,), "regression", None),
    "poetry": ([(64,)], [torch.int64], (64,), "classification", 75),
    "dates": ([(30,), (11,)], [torch.int64, torch.int64], (11,), "classification", 47),
}


def error_message(name, params=None, seed=0) -> str:
    with pytest.raises(DatasetError) as caught:
        load_dataset(name, params, seed)
    return str(caught.value)


# ---- registry and params ----


def test_registry_covers_every_dataset():
    assert set(DATASETS) == {*DEFAULT_SHAPES, *USER_FILES}
    for name, spec in DATASETS.items():
        assert spec.name == name and spec.doc and "\n" not in spec.doc


@pytest.mark.parametrize("name", list(DATASETS))
def test_params_models_are_strict_documented_and_bounded(name):
    model = DATASETS[name].params
    assert model.model_config.get("extra") == "forbid"
    for field_name, field in model.model_fields.items():
        assert not field.is_required(), field_name
        assert field.description, field_name
        if field.annotation in (int, float):
            kinds = {type(item) for item in field.metadata}
            assert {Ge, Le} <= kinds, f"{name}.{field_name} needs ge/le bounds"


def test_unknown_name_lists_choices():
    message = error_message("mnist")
    assert "unknown dataset 'mnist'" in message and "digits" in message and "poetry" in message


def test_bad_params_name_the_field():
    assert error_message("sine", {"length": 1}) == (
        "dataset 'sine': params.length: Input should be greater than or equal to 2"
    )
    assert "params.lenght: Extra inputs are not permitted" in error_message("sine", {"lenght": 5})
    assert "params.n_samples" in error_message("adding", {"n_samples": "many"})
    assert "params must map" in error_message("sine", [1, 2])
    assert "seed must be a non-negative integer" in error_message("sine", seed=-1)


# ---- every generated dataset ----


@pytest.mark.parametrize("name", GENERATED)
def test_default_shapes_dtypes_and_task(name):
    shapes, dtypes, target_shape, task, num_classes = DEFAULT_SHAPES[name]
    data = load_dataset(name)
    assert isinstance(data, Dataset) and data.name == name
    assert data.input_shapes == shapes
    assert [tensor.dtype for tensor in data.inputs] == dtypes
    assert all(len(tensor) == len(data) for tensor in data.inputs)
    assert tuple(data.target.shape[1:]) == target_shape
    assert data.task == task and data.num_classes == num_classes
    if task == "classification":
        assert data.target.dtype == torch.int64
        assert 0 <= int(data.target.min()) and int(data.target.max()) < num_classes
    else:
        assert data.target.dtype == torch.float32
        assert data.info["baseline_mse"] > 0
    for tensor in data.inputs:
        if tensor.dtype == torch.int64:
            assert data.vocab and 0 <= int(tensor.min()) and int(tensor.max()) < len(data.vocab)
        else:
            assert torch.isfinite(tensor).all()


@pytest.mark.parametrize("name", GENERATED)
def test_same_seed_same_data_other_seed_other_data(name):
    params = {} if name == "digits" else {"n_samples": 50}
    first, again, other = (load_dataset(name, params, seed) for seed in (3, 3, 4))
    assert len(first) == (1797 if name == "digits" else 50)
    assert torch.equal(first.target, again.target)
    assert all(torch.equal(a, b) for a, b in zip(first.inputs, again.inputs))
    assert not all(torch.equal(a, b) for a, b in zip(first.inputs, other.inputs))


def test_digits_pixels_and_classes():
    data = load_dataset("digits")
    images = data.inputs[0]
    assert len(data) == 1797 and float(images.min()) == 0.0 and float(images.max()) == 1.0
    assert torch.bincount(data.target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@pytest.mark.parametrize("name", ["spirals", "moons", "circles", "xor"])
def test_toy_points_are_standardized_and_balanced(name):
    data = load_dataset(name)
    points = data.inputs[0]
    assert torch.allclose(points.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(points.std(0), torch.ones(2), atol=1e-2)
    assert torch.bincount(data.target).min() > 0.4 * len(data) / data.num_classes


def test_spirals_classes_param():
    data = load_dataset("spirals", {"classes": 5, "n_samples": 500})
    assert data.num_classes == 5 and set(data.target.tolist()) == set(range(5))
    assert "params.classes" in error_message("spirals", {"classes": 1})


def test_colorize_patches_gray_matches_color():
    data = load_dataset("colorize", {"patch": 8, "n_samples": 300})
    gray, color = data.inputs[0], data.target
    assert gray.shape == (300, 1, 8, 8) and color.shape == (300, 3, 8, 8)
    assert 0.0 <= float(color.min()) and float(color.max()) <= 1.0
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose((color * weights).sum(1, keepdim=True), gray, atol=1e-5)
    mean_color = color.mean(dim=(0, 2, 3), keepdim=True)
    assert data.info["baseline_mse"] == pytest.approx(float(((color - mean_color) ** 2).mean()), rel=1e-5)


def test_sine_waves_follow_their_inputs():
    data = load_dataset("sine", {"length": 7, "n_samples": 40})
    inputs, waves = data.inputs[0], data.target
    assert waves.shape == (40, 7, 1) and float(inputs.abs().max()) <= 1.0
    assert float(waves.abs().max()) <= 1.0
    phase = (inputs[:, 1] + 1.0) * math.pi
    assert torch.allclose(waves[:, 0, 0], torch.sin(phase), atol=1e-5)


def test_sentiment_labels_follow_word_polarity():
    data = load_dataset("sentiment", {"vocab_size": 20, "length": 9, "n_samples": 500})
    assert len(data.vocab) == 20 and len(set(data.vocab)) == 20 and NEGATION in data.vocab
    assert data.info["class_names"] == ["bad", "good"]
    for sentence, label in zip(data.inputs[0].tolist(), data.target.tolist()):
        words = [data.vocab[i] for i in sentence]
        score = 0
        for previous, word in zip([None, *words], words):
            polarity = (word in POSITIVE) - (word in NEGATIVE)
            score += -polarity if previous == NEGATION else polarity
        assert score != 0 and label == int(score > 0)
    assert 0.3 < data.target.float().mean() < 0.7


@pytest.mark.parametrize("vocab_size", [8, 33, 80])
@pytest.mark.parametrize("negation", [True, False])
def test_sentiment_vocab_size(vocab_size, negation):
    data = load_dataset("sentiment", {"vocab_size": vocab_size, "negation": negation, "n_samples": 20})
    assert len(data.vocab) == len(set(data.vocab)) == vocab_size and (NEGATION in data.vocab) == negation


def expected_tag(word, near, far, cues):
    """The documented rule: an entity word takes the type of a cue next to it, or one further across an entity."""
    cue_type = {cue: tag for tag, words in cues.items() for cue in words.split()}
    if word not in ENTITIES:
        return "O"
    if near in cue_type:
        return cue_type[near]
    return cue_type.get(far, "O") if near in ENTITIES else "O"


@pytest.mark.parametrize("name, cues, step", [("tagging", PREFIX_CUES, -1), ("context_tagging", SUFFIX_CUES, 1)])
def test_tagging_rule(name, cues, step):
    data = load_dataset(name, {"n_samples": 200, "length": 10})
    assert data.info["class_names"] == ["O", "PER", "LOC", "ORG"] and data.info["per_token"]
    seen = set()
    for sentence, tags in zip(data.inputs[0].tolist(), data.target.tolist()):
        words = [data.vocab[i] for i in sentence]
        padded = [None, None, *words, None, None]
        for t, tag in enumerate(tags):
            near, far = padded[t + 2 + step], padded[t + 2 + 2 * step]
            assert data.info["class_names"][tag] == expected_tag(words[t], near, far, cues)
            seen.add(tag)
    assert seen == {0, 1, 2, 3}


def test_reverse_targets_and_teacher_forcing_input():
    data = load_dataset("reverse", {"length": 5, "vocab_size": 4, "n_samples": 100})
    source, decoder_input = data.inputs
    start, end = data.info["start_token"], data.info["end_token"]
    assert data.vocab == ["<start>", "<end>", "a", "b", "c", "d"] and data.num_classes == 6
    assert torch.equal(data.target[:, :-1], source.flip(1))
    assert (data.target[:, -1] == end).all() and (decoder_input[:, 0] == start).all()
    assert torch.equal(decoder_input[:, 1:], data.target[:, :-1])
    assert int(source.min()) >= 2


def test_dates_in_words_become_their_iso_form():
    data = load_dataset("dates", {"n_samples": 400})
    source, decoder_input = data.inputs
    vocab, info = data.vocab, data.info
    text = lambda ids: "".join(vocab[i] for i in ids.tolist() if vocab[i] not in ("<pad>", "<end>", "<start>"))
    for row in range(len(data)):
        iso, written = text(data.target[row]), text(source[row])
        date = datetime.date.fromisoformat(iso)
        assert written in [written_date(date, style) for style in range(len(FORMATS))], written
    assert (data.target[:, -1] == info["end_token"]).all() and (decoder_input[:, 0] == info["start_token"]).all()
    assert torch.equal(decoder_input[:, 1:], data.target[:, :-1])
    styles = {next(s for s in range(len(FORMATS)) if written_date(datetime.date.fromisoformat(text(t)), s) == text(x))
              for x, t in zip(source, data.target)}
    assert styles == set(range(len(FORMATS)))       # every way of writing a date is drawn
    longest = datetime.date(2026, 9, 30)              # a Wednesday in the longest month name
    assert max(len(written_date(longest, s)) for s in range(len(FORMATS))) == source.shape[1] - 2
    assert [written_date(datetime.date(2026, 12, 3), s) for s in (2, 4)] == ["Dec 3rd, 2026",
                                                                              "Thursday, 3 December 2026"]


def test_adding_problem_markers_and_sums():
    data = load_dataset("adding", {"length": 10, "n_samples": 4000})
    values, markers = data.inputs[0][..., 0], data.inputs[0][..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert (markers.sum(1) == 2).all() and (markers[:, :5].sum(1) == 1).all()
    assert torch.allclose((values * markers).sum(1, keepdim=True), data.target, atol=1e-6)
    assert data.info["baseline_mse"] == pytest.approx(1 / 6, abs=0.02)


def test_poetry_corpus_windows_and_baseline():
    raw = CORPUS_PATH.read_bytes()
    assert 20_000 <= len(raw) <= 60_000 and raw.isascii()
    data = load_dataset("poetry", {"length": 32, "n_samples": 300})
    assert data.vocab == sorted(set(raw.decode()))
    assert torch.equal(data.inputs[0][:, 1:], data.target[:, :-1])
    text = "".join(data.vocab[i] for i in data.inputs[0][0].tolist())
    assert text in raw.decode()
    assert 2.0 < data.info["unigram_loss"] < math.log(len(data.vocab))


def test_poetry_stride_gives_non_overlapping_windows():
    data = load_dataset("poetry", {"length": 50, "stride": 50, "n_samples": 100_000})
    text = CORPUS_PATH.read_text()
    assert len(data) == (len(text) - 1) // 50
    firsts = {"".join(data.vocab[i] for i in row) for row in data.inputs[0].tolist()}
    assert text[:50] in firsts and text[50:100] in firsts


# ---- csv ----


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def test_csv_classification_with_string_labels(tmp_path):
    path = write(tmp_path, "\ufeffa,label,b\n1,cat,2.5\n\n3,dog,-1\n5,cat,0\n")
    data = load_dataset("csv", {"path": path, "target": "label"})
    assert data.inputs[0].tolist() == [[1.0, 2.5], [3.0, -1.0], [5.0, 0.0]]
    assert data.target.tolist() == [0, 1, 0] and data.num_classes == 2
    assert data.info["class_names"] == ["cat", "dog"] and data.info["feature_names"] == ["a", "b"]


def test_csv_integer_labels_sort_numerically_and_default_target_is_last(tmp_path):
    path = write(tmp_path, "x;y\n1;10\n2;2\n3;9\n", name="semi.csv")
    data = load_dataset("csv", {"path": path, "delimiter": ";"})
    assert data.info["class_names"] == ["2", "9", "10"] and data.target.tolist() == [2, 0, 1]


def test_csv_regression(tmp_path):
    path = write(tmp_path, "x1,x2,price\n1,2,3.5\n4,5,6\n")
    data = load_dataset("csv", {"path": path, "target": "price", "task": "regression"})
    assert data.task == "regression" and data.target.shape == (2, 1) and data.target.dtype == torch.float32
    assert data.input_shapes == [(2,)]


@pytest.mark.parametrize(
    "content, params, expected",
    [
        (None, {"path": "missing.csv"}, "missing.csv: no such file (params.path)"),
        ("", {}, "is empty"),
        ("\n\n", {}, "is empty"),
        ("a,b\n", {}, "no data rows"),
        (b"a,b\n1,\xff\n", {}, "not UTF-8"),
        ("a,b\n1,2\n", {"target": "c"}, "no column 'c' (params.target); columns: a, b"),
        ("a,b\n1,2\nx,3\n", {}, "line 3 of '{path}', column 'a': 'x' is not a finite number"),
        ("a,b\n1,2\nnan,3\n", {}, "column 'a': 'nan' is not a finite number"),
        ("a,b\n1,2\n3,4,5\n", {}, "line 3 of '{path}' has 3 fields but the header has 2"),
        ("a,b\n1,2\n3\n", {}, "line 3 of '{path}' has 1 fields"),
        ("a,b\n1,\n", {}, "line 2 of '{path}', column 'b': the target value is missing"),
        ("a,b\n1,x\n", {"task": "regression"}, "column 'b': 'x' is not a finite number"),
        ("y\n1\n", {}, "only the target column"),
        ("a,a\n1,2\n", {}, "repeats a column name"),
    ],
)
def test_csv_errors(tmp_path, content, params, expected):
    path = str(tmp_path / "missing.csv") if content is None else write(tmp_path, content)
    message = error_message("csv", {"path": path, **{k: v for k, v in params.items() if k != "path"}})
    assert message.startswith("dataset 'csv': ")
    assert expected.format(path=path) in message


def test_csv_path_errors(tmp_path):
    assert "params.path: give the path" in error_message("csv")
    assert "is a folder" in error_message("csv", {"path": str(tmp_path)})
    assert "params.delimiter" in error_message("csv", {"path": "x", "delimiter": ";;"})
    assert "params.task" in error_message("csv", {"path": "x", "task": "clustering"})


# ---- npz ----


def test_npz_classification_and_regression(tmp_path):
    path = tmp_path / "cls.npz"
    np.savez(path, x=np.arange(12, dtype=np.float64).reshape(4, 3), y=np.array([0, 2, 1, 2]))
    data = load_dataset("npz", {"path": str(path)})
    assert data.inputs[0].dtype == torch.float32 and data.input_shapes == [(3,)]
    assert data.task == "classification" and data.num_classes == 3 and data.target.dtype == torch.int64

    path = tmp_path / "reg.npz"
    np.savez(path, x=np.zeros((5, 7), dtype=np.uint8), y=np.linspace(0, 1, 5))
    data = load_dataset("npz", {"path": str(path)})
    assert data.inputs[0].dtype == torch.int64
    assert data.task == "regression" and data.target.shape == (5, 1) and data.target.dtype == torch.float32


def test_npz_errors(tmp_path):
    def npz(name, **arrays):
        path = tmp_path / name
        np.savez(path, **arrays)
        return {"path": str(path)}

    assert "none.npz: no such file (params.path)" in error_message("npz", {"path": str(tmp_path / "none.npz")})
    assert "not a NumPy .npz archive" in error_message("npz", {"path": write(tmp_path, "hello", "text.npz")})
    assert "not a NumPy .npz archive" in error_message("npz", {"path": write(tmp_path, b"PK\x03\x04junk", "z.npz")})
    np.save(tmp_path / "single.npy", np.zeros(3))
    assert "single .npy array" in error_message("npz", {"path": str(tmp_path / "single.npy")})
    message = error_message("npz", npz("names.npz", features=np.zeros(3), labels=np.zeros(3)))
    assert "no array 'x'; arrays present: features, labels" in message
    objects = np.array([1, "a", None], dtype=object)
    assert "holds Python objects" in error_message("npz", npz("obj.npz", x=objects, y=np.zeros(3)))
    message = error_message("npz", npz("len.npz", x=np.zeros((4, 2)), y=np.zeros(3, dtype=np.int64)))
    assert "x has 4 samples but y has 3" in message
    assert "dtype <U1" in error_message("npz", npz("str.npz", x=np.zeros(2), y=np.array(["a", "b"])))
    assert "negative class ids" in error_message("npz", npz("neg.npz", x=np.zeros(2), y=np.array([-1, 1])))
    assert "NaN or infinite" in error_message("npz", npz("nan.npz", x=np.array([np.nan, 1.0]), y=np.zeros(2)))


# ---- check_fits ----


def test_check_fits_accepts_matching_inputs():
    check_fits(load_dataset("digits"), ["image"], [(1, 8, 8)], [torch.float32])
    check_fits(load_dataset("reverse", {"n_samples": 4}), ["src", "dec"], [(8,), (None,)], [torch.int64] * 2)


def test_check_fits_names_both_shapes():
    with pytest.raises(DatasetError) as caught:
        check_fits(load_dataset("digits"), ["in1"], [(1, 28, 28)], [torch.float32])
    assert str(caught.value) == (
        "dataset 'digits' gives inputs of shape (1, 8, 8) but input node 'in1' expects (1, 28, 28)"
    )


def test_check_fits_count_and_dtype_mismatch():
    data = load_dataset("reverse", {"n_samples": 4})
    with pytest.raises(DatasetError, match=r"gives 2 inputs but the model has 1 input node \('src'\)"):
        check_fits(data, ["src"], [(8,)], [torch.int64])
    with pytest.raises(DatasetError, match=r"input node 'dec' \(input 2 of 2\) expects \(5,\)"):
        check_fits(data, ["src", "dec"], [(8,), (5,)], [torch.int64] * 2)
    with pytest.raises(DatasetError, match="gives int64 inputs but input node 'x' expects float32"):
        check_fits(load_dataset("sentiment", {"n_samples": 4}), ["x"], [(12,)], [torch.float32])
