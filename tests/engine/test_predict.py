"""`layerloom predict`: runs trained a few steps on files made here answer new images, photos, sentences and CSVs."""
import json

import numpy as np
import pytest
from PIL import Image
from user_files import COLORS, chain, class_folders, color_photos, document, image_classifier, picture

from layerloom.engine.cli import main
from layerloom.engine.data.pictures import gray_of
from layerloom.engine.predict import PredictError, Predictor
from layerloom.engine.predict.explain import tile
from layerloom.engine.predict.inputs import digit_input
from layerloom.engine.train.evaluate import load_run


def train(doc, out, steps, capsys, *extra):
    assert main(["train", str(doc), "--out", str(out), "--max-steps", str(steps), "--epochs", "500", *extra]) == 0
    capsys.readouterr()
    return out


def predict(capsys, *args):
    """Exit code, stdout and stderr of `layerloom predict ARGS`."""
    code = main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classes")
    folder = class_folders(root / "pets")
    doc = image_classifier(root / "pets.json", folder)
    out = root / "run"
    assert main(["train", str(doc), "--out", str(out), "--max-steps", "25", "--epochs", "500"]) == 0
    return out, root


def test_image_classifier_predicts_new_images_of_any_size(classifier_run, tmp_path, capsys):
    run, _ = classifier_run
    red = picture(tmp_path / "red.jpg", (33, 21), COLORS["cherry"], seed=99)
    blue = picture(tmp_path / "blue.png", (8, 50), COLORS["sky"], seed=98, mode="L")   # gray for a colour model
    code, out, err = predict(capsys, run, red, blue)
    assert code == 0 and not err
    header, first, second = out.splitlines()
    assert header.split()[:3] == ["input", "class", "prob"]
    assert first.split()[:2] == [str(red), "cherry"] and second.startswith(str(blue))
    code, out, _ = predict(capsys, run, red, "--json", "--top-k", "5", "-o", tmp_path / "answer.json")
    assert code == 0 and out == ""
    (result,) = json.loads((tmp_path / "answer.json").read_text())
    assert result["source"] == str(red) and result["classes"][0] == "cherry" and len(result["classes"]) == 2
    assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-5)


def test_every_bad_input_gets_one_line_naming_it(classifier_run, tmp_path, capsys):
    run, root = classifier_run
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    cases = [
        ((run, tmp_path / "missing.png"), f"cannot read {tmp_path / 'missing.png'}: no such file"),
        ((run, notes), f"file '{notes}' is not an image Pillow can read"),
        ((run, tmp_path), f"cannot read {tmp_path}: it is a folder, not a regular file"),
        ((run, table), f"file '{table}': a model trained on 'image_folder' data reads image files, not CSV files"),
        ((run, notes, "--top-k", "0"), "--top-k must be 1 or more"),
        ((tmp_path, notes), f"{tmp_path} is not a run folder: architecture.json is missing"),
    ]
    for args, expected in cases:
        code, out, err = predict(capsys, *args)
        assert code == 1 and out == "" and len(err.splitlines()) == 1, (args, err)
        assert expected in err, (expected, err)


def test_an_input_that_does_not_fit_the_input_node_is_named(classifier_run):
    predictor = Predictor(classifier_run[0])
    with pytest.raises(PredictError, match=r"file 'x.png' gives an input of shape \(1, 12, 12\) but input node "
                                           r"'image' expects \(3, 12, 12\)"):
        predictor.batch([np.zeros((1, 12, 12), np.float32)], "file 'x.png'")
    with pytest.raises(PredictError, match="gives int64 values but input node 'image' expects float32"):
        predictor.batch([np.zeros((3, 12, 12), np.int64)], "file 'x.png'")


def test_feature_maps_and_saliency_of_an_image(classifier_run, tmp_path):
    predictor = Predictor(classifier_run[0])
    image = picture(tmp_path / "red.png", (30, 30), COLORS["cherry"], seed=5)
    seen = predictor.explain(str(image))
    assert list(seen.maps) == ["conv1", "conv2"]
    assert seen.maps["conv1"].shape == (6, 12, 12) and seen.maps["conv2"].shape == (4, 6, 6)
    assert seen.image.shape == (3, 12, 12) and seen.scores.classes[0] == "cherry"
    assert seen.saliency.shape == (12, 12) and seen.saliency.max() == pytest.approx(1.0) and seen.saliency.min() >= 0
    grid = tile(seen.maps["conv1"])
    assert grid.shape == (12 * 2 + 1, 12 * 3 + 2) and np.nanmax(grid) == pytest.approx(1.0)


def test_the_run_folder_keeps_what_prediction_needs(classifier_run, tmp_path, capsys):
    run, root = classifier_run
    described = json.loads((run / "dataset.json").read_text())
    assert described["info"]["class_names"] == ["cherry", "sky"] and described["num_classes"] == 2
    (root / "pets").rename(root / "moved")   # the training images are gone: predictions still work
    try:
        code, out, _ = predict(capsys, run, picture(tmp_path / "a.png", (9, 9), COLORS["sky"]))
        assert code == 0 and "sky" in out
    finally:
        (root / "moved").rename(root / "pets")


def colorizer(path, folder, fully_convolutional=True):
    if fully_convolutional:
        nodes, edges = chain(
            {"id": "gray", "type": "input", "params": {"shape": [1, 8, 8]}},
            {"id": "enc", "type": "conv2d", "params": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
            {"id": "relu1", "type": "relu"},
            {"id": "down", "type": "conv2d", "params": {"out_channels": 8, "kernel_size": 3, "stride": 2,
                                                         "padding": 1}},
            {"id": "relu2", "type": "relu"},
            {"id": "up", "type": "conv_transpose2d", "params": {"out_channels": 8, "kernel_size": 2, "stride": 2}},
            {"id": "skip", "type": "add"},   # a U-Net skip: the sizes must agree, so odd sizes need padding
            {"id": "to_rgb", "type": "conv2d", "params": {"out_channels": 3, "kernel_size": 3, "padding": 1}},
            {"id": "squash", "type": "sigmoid"},
            {"id": "color", "type": "output"},
        )
        edges.append(("relu1", "skip"))
    else:
        nodes, edges = chain(
            {"id": "gray", "type": "input", "params": {"shape": [1, 8, 8]}},
            {"id": "flat", "type": "flatten"},
            {"id": "fc", "type": "linear", "params": {"out_features": 192}},
            {"id": "shape", "type": "reshape", "params": {"shape": [3, 8, 8]}},
            {"id": "color", "type": "output"},
        )
    dataset = {"name": "image_pairs", "params": {"path": str(folder), "patch": 8, "n_samples": 256, "scale": 1}}
    return document(path, nodes, edges, dataset, loss="mse", lr=0.01, batch_size=32)


def test_colorize_a_photo_larger_than_the_training_patches_at_its_own_size(tmp_path, capsys):
    photos = color_photos(tmp_path / "photos")
    run = train(colorizer(tmp_path / "colorize.json", photos), tmp_path / "run", 40, capsys)
    height, width = 23, 37   # odd sizes: the stride-2 layer needs the photo padded, and cropped back
    rows = np.linspace(0, 1, height)[:, None]
    gray = np.repeat((60 + 150 * rows), width, axis=1).astype(np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "old.png")
    code, out, err = predict(capsys, run, tmp_path / "old.png", "-o", tmp_path / "old_color.png")
    assert code == 0 and not err and f"(23x37) -> {tmp_path / 'old_color.png'}" in out
    color = np.asarray(Image.open(tmp_path / "old_color.png"), dtype=np.float32)
    assert color.shape == (height, width, 3)
    chroma = np.abs(color[..., 0] - color[..., 2]).mean()
    assert chroma > 20, f"the result is nearly gray (mean |R - B| {chroma:.1f})"
    assert np.abs(gray_of(color) - gray).mean() < 1   # brightness is the photo's own (but where a colour clips)
    top, bottom = color[: height // 3].mean(axis=(0, 1)), color[-height // 3:].mean(axis=(0, 1))
    assert top[0] > top[1] + 20 and bottom[1] > bottom[0] + 20   # dark red, light green: as in the photos
    code, out, _ = predict(capsys, run, tmp_path / "old.png", photos / "photo1.png", "-o", tmp_path / "many", "--json")
    assert code == 0 and [item["output"] for item in json.loads(out)] == [
        str(tmp_path / "many" / "old_color.png"), str(tmp_path / "many" / "photo1_color.png")]
    seen = Predictor(run).explain(str(tmp_path / "old.png"))
    assert seen.colorized.shape == (height, width, 3) and list(seen.maps) == ["enc", "down", "up", "to_rgb"]


def test_a_colorizer_that_is_not_fully_convolutional_is_refused_clearly(tmp_path, capsys):
    photos = color_photos(tmp_path / "photos", count=1)
    run = train(colorizer(tmp_path / "dense.json", photos, fully_convolutional=False), tmp_path / "run", 1, capsys)
    picture(tmp_path / "big.png", (20, 20), (90, 90, 90), mode="L")
    code, _, err = predict(capsys, run, tmp_path / "big.png")
    assert code == 1 and f"file '{tmp_path / 'big.png'}' (20x20) cannot be colorized at its own size" in err
    assert "fully convolutional" in err


def test_a_drawn_digit_of_any_size_dark_or_light_reads_like_the_training_digits(tmp_path, capsys):
    run = train("cnn_digits", tmp_path / "run", 120, capsys)
    trained = load_run(run)
    index = trained.split.val[:20]
    predictor = Predictor(run)
    agree, likeness = 0, []
    for i, (digit, label) in enumerate(zip(trained.dataset.inputs[0][index], trained.dataset.target[index])):
        ink = (digit[0].numpy() * 255).astype(np.uint8)
        big = Image.fromarray(ink).resize((90 + i, 120), Image.Resampling.BILINEAR)
        big.save(tmp_path / "light.png")
        Image.fromarray(255 - np.asarray(big)).save(tmp_path / "paper.png")   # dark ink on white paper
        light, paper = digit_input(tmp_path / "light.png", (1, 8, 8)), digit_input(tmp_path / "paper.png", (1, 8, 8))
        assert light.shape == (1, 8, 8) and np.abs(light - paper).max() < 0.02
        likeness.append(np.corrcoef(light.ravel(), digit.numpy().ravel())[0, 1])
        agree += predictor.classify([str(tmp_path / "paper.png")])[0].classes[0] == str(int(label))
    assert np.median(likeness) > 0.85, likeness   # the preprocessing undoes the enlargement and the inversion
    assert agree >= 16, f"{agree} of 20 enlarged, inverted validation digits read as their label"
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    code, _, err = predict(capsys, run, tmp_path / "blank.png")
    assert code == 1 and "is blank: no digit stands out" in err


@pytest.fixture(scope="module")
def sentence_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sentences")
    good, bad = ["great fun", "a lovely film", "great story", "lovely"], ["dull", "a dull film", "boring story"]
    rows = [f"{text},good" for text in good] + [f"{text},bad" for text in bad]
    (root / "reviews.csv").write_text("review,verdict\n" + "\n".join(rows * 4) + "\n")
    nodes, edges = chain(
        {"id": "words", "type": "input", "params": {"shape": [6], "dtype": "int64"}},
        {"id": "embed", "type": "embedding", "params": {"num_embeddings": 16, "embedding_dim": 8}},
        {"id": "gru", "type": "gru", "params": {"hidden_size": 8, "return_sequences": False}},
        {"id": "verdict", "type": "linear", "params": {"out_features": 2}},
        {"id": "logits", "type": "output"},
    )
    dataset = {"name": "text_csv", "params": {"path": str(root / "reviews.csv"), "length": 6, "vocab_size": 16}}
    doc = document(root / "reviews.json", nodes, edges, dataset, lr=0.05)
    assert main(["train", str(doc), "--out", str(root / "run"), "--max-steps", "30", "--epochs", "500"]) == 0
    return root / "run", root


def test_sentences_and_a_csv_of_sentences(sentence_run, tmp_path, capsys):
    run, root = sentence_run
    code, out, _ = predict(capsys, run, "Lovely, great fun!", "dull and boring zzz", "--json")
    first, second = json.loads(out)
    assert code == 0 and first["classes"][0] == "good" and second["classes"][0] == "bad"
    assert second["note"] == "words the model never saw: and, zzz" and first["note"] == ""
    table = tmp_path / "new.csv"
    table.write_text("id,review\n1,great fun\n2,so dull\n")
    code, out, _ = predict(capsys, run, table)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "id,review,prediction,probability"
    assert lines[1].startswith("1,great fun,good,") and lines[2].startswith("2,so dull,bad,")
    code, _, err = predict(capsys, run, root / "reviews.json")
    assert code == 1 and "is a file: give sentences in quotes, or a CSV file" in err
    code, _, err = predict(capsys, run, table, "a sentence")
    assert code == 1 and "give either CSV files or other inputs" in err
    table.write_text("id,words\n1,fine\n")
    code, _, err = predict(capsys, run, table)
    assert code == 1 and "has no column 'review' for the text; columns: id, words" in err


def test_a_table_model_adds_prediction_columns(tmp_path, capsys):
    rows = [f"{x},{y},{int(x > y)}" for x, y in np.random.default_rng(0).uniform(-1, 1, (60, 2)).round(3)]
    (tmp_path / "points.csv").write_text("x,y,label\n" + "\n".join(rows) + "\n")
    nodes, edges = chain({"id": "point", "type": "input", "params": {"shape": [2]}},
                         {"id": "fc", "type": "linear", "params": {"out_features": 2}},
                         {"id": "scores", "type": "output"})
    doc = document(tmp_path / "points.json", nodes, edges, {"name": "csv", "params": {"path": str(tmp_path / "points.csv")}})
    run = train(doc, tmp_path / "run", 5, capsys)
    (tmp_path / "new.csv").write_text("y,x\n0.5,-0.5\n")   # columns found by name, in any order
    code, out, _ = predict(capsys, run, tmp_path / "new.csv", "-o", tmp_path / "answer.csv")
    header, row = (tmp_path / "answer.csv").read_text().splitlines()
    assert code == 0 and header == "y,x,prediction,probability" and row.split(",")[2] in ("0", "1")
    (tmp_path / "bad.csv").write_text("x,z\n1,2\n")
    code, _, err = predict(capsys, run, tmp_path / "bad.csv")
    assert code == 1 and "has no column 'y'; the model reads x, y" in err
    (tmp_path / "bad.csv").write_text("x,y\n1,two\n")
    assert predict(capsys, run, tmp_path / "bad.csv")[2].count("line 2") == 1
    code, _, err = predict(capsys, run, "a sentence")
    assert code == 1 and "this model reads CSV files with the columns x, y" in err


def test_models_of_other_data_say_what_predict_reads(tmp_path, capsys):
    run = train("mlp_spirals", tmp_path / "run", 1, capsys)
    code, _, err = predict(capsys, run, "0.5")
    assert code == 1 and "reads no inputs for a model trained on 'spirals' data" in err


def test_train_dataset_override(tmp_path, capsys):
    photos = color_photos(tmp_path / "photos", count=1)
    override = json.dumps({"name": "image_pairs", "params": {"path": str(photos), "patch": 16, "n_samples": 64}})
    run = train("cnn_colorize", tmp_path / "run", 1, capsys, "--dataset", override)
    assert json.loads((run / "architecture.json").read_text())["training"]["dataset"]["name"] == "image_pairs"
    assert main(["train", "cnn_colorize", "--dataset", '{"name": 3}', "--out", str(tmp_path / "x")]) == 1
    assert '--dataset {"name": 3}: name: input should be a valid string' in capsys.readouterr().err
