"""Your own data: image folders, colour photos for colorization, a text corpus and a CSV of labelled sentences."""
import numpy as np
import pytest
import torch
from PIL import Image

from layerloom.engine.data import DatasetError, load_dataset
from layerloom.engine.train.setup import split

from user_files import class_folders, color_photos, picture


def error_message(name, params, seed=0) -> str:
    with pytest.raises(DatasetError) as caught:
        load_dataset(name, params, seed)
    return str(caught.value)


# ---- image_folder ----


def test_image_folder_reads_classes_of_mixed_sizes_and_formats(tmp_path):
    root = class_folders(tmp_path / "pets")
    data = load_dataset("image_folder", {"path": str(root), "size": [10, 14]})
    images, labels = data.inputs[0], data.target
    assert images.shape == (8, 3, 10, 14) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert labels.tolist() == [0] * 4 + [1] * 4 and data.info["class_names"] == ["cherry", "sky"]
    red, blue = images[labels == 0].mean(dim=(0, 2, 3)), images[labels == 1].mean(dim=(0, 2, 3))
    assert red[0] > red[2] + 0.2 and blue[2] > blue[0] + 0.2   # channels in RGB order, per class
    assert (images[2] > 0.05).all()   # the RGBA image is laid on white, not on black
    gray = load_dataset("image_folder", {"path": str(root), "size": [10, 14], "grayscale": True})
    assert gray.inputs[0].shape == (8, 1, 10, 14)


def test_image_folder_is_deterministic_and_splits_the_same_way(tmp_path):
    root = class_folders(tmp_path / "pets")
    first, second = (load_dataset("image_folder", {"path": str(root), "size": [8, 8]}, seed=3) for _ in range(2))
    assert torch.equal(first.inputs[0], second.inputs[0]) and torch.equal(first.target, second.target)
    a, b = split(len(first), 0.25, 3), split(len(second), 0.25, 3)
    assert torch.equal(a.val, b.val) and len(a.val) == 2


def test_image_folder_errors_name_the_folder_or_file(tmp_path):
    root = tmp_path / "pets"
    assert "params.path: give the path" in error_message("image_folder", {"path": ""})
    assert f"folder '{root}' not found (params.path)" in error_message("image_folder", {"path": str(root)})
    root.mkdir()
    assert "has no class sub-folders" in error_message("image_folder", {"path": str(root)})
    picture(root / "cherry" / "a.png", (9, 9), (200, 0, 0))
    assert "has only the class 'cherry'" in error_message("image_folder", {"path": str(root)})
    (root / "sky").mkdir()
    assert f"class folder '{root / 'sky'}' holds no images" in error_message("image_folder", {"path": str(root)})
    picture(root / "sky" / "b.png", (9, 9), (0, 0, 200))
    (root / "sky" / "notes.txt").write_text("not a picture")
    assert f"file '{root / 'sky' / 'notes.txt'}' is not an image" in error_message("image_folder", {"path": str(root)})
    (root / "sky" / "notes.txt").write_bytes((root / "sky" / "b.png").read_bytes()[:60])
    assert "is damaged or truncated" in error_message("image_folder", {"path": str(root)})
    (root / "sky" / "notes.txt").unlink()
    (root / "loose.png").write_bytes((root / "sky" / "b.png").read_bytes())
    assert f"file '{root / 'loose.png'}' is not in a class sub-folder" in error_message(
        "image_folder", {"path": str(root)})
    (root / "loose.png").unlink()
    (root / ".DS_Store").write_text("hidden files are left out")
    assert len(load_dataset("image_folder", {"path": str(root), "size": [4, 4]})) == 2
    assert "params.size" in error_message("image_folder", {"path": str(root), "size": [0, 4]})


# ---- image_pairs ----


def test_image_pairs_cut_gray_and_colour_patches_from_photos_of_any_size(tmp_path):
    root = color_photos(tmp_path / "photos")
    Image.new("RGB", (5, 7), (250, 10, 10)).save(root / "tiny.png")   # smaller than a patch: enlarged
    data = load_dataset("image_pairs", {"path": str(root), "patch": 8, "n_samples": 200, "scale": 1})
    gray, color = data.inputs[0], data.target
    assert gray.shape == (200, 1, 8, 8) and color.shape == (200, 3, 8, 8)
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose((color * weights).sum(1, keepdim=True), gray, atol=1e-5)
    assert data.info["baseline_mse"] > 0 and data.info["source"] == str(root)
    again = load_dataset("image_pairs", {"path": str(root), "patch": 8, "n_samples": 200, "scale": 1})
    assert torch.equal(again.target, color)


def test_image_pairs_errors(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    assert f"folder '{root}' holds no images" in error_message("image_pairs", {"path": str(root)})
    picture(root / "old.png", (20, 20), (120, 120, 120), mode="L")
    assert f"image '{root / 'old.png'}' is grayscale" in error_message("image_pairs", {"path": str(root)})


# ---- text and text_csv ----


def test_text_windows_of_any_utf8_file(tmp_path):
    path = tmp_path / "song.txt"
    path.write_text("Frère Jacques, dormez-vous?\r\nSonnez les matines! " * 8, encoding="utf-8")
    data = load_dataset("text", {"path": str(path), "length": 10, "n_samples": 50})
    assert data.inputs[0].shape == data.target.shape == (50, 10) and "è" in data.vocab and "\r" not in data.vocab
    assert torch.equal(data.inputs[0][:, 1:], data.target[:, :-1])
    path.write_bytes(b"caf\xe9 au lait")
    assert "is not UTF-8 text (bad byte at offset 3)" in error_message("text", {"path": str(path)})
    path.write_text("short")
    assert f"file '{path}' has 5 characters" in error_message("text", {"path": str(path), "length": 8})
    assert "is a folder" in error_message("text", {"path": str(tmp_path)})


def test_text_csv_word_ids_padding_and_labels(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('review,stars\n"A great, great film!",good\nawful film,bad\nnot great,bad\n')
    data = load_dataset("text_csv", {"path": str(path), "length": 4, "vocab_size": 5})
    assert data.vocab == ["<pad>", "<unk>", "great", "film", "a"]   # most frequent first, ties alphabetical
    assert data.inputs[0].tolist() == [[4, 2, 2, 3], [0, 0, 1, 3], [0, 0, 1, 2]]
    assert data.target.tolist() == [1, 0, 0] and data.info["class_names"] == ["bad", "good"]
    assert data.info["text_column"] == "review"


def test_text_csv_errors_name_line_and_column(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\nfine,good\n")
    assert "has no column 'text' (params.text)" in error_message("text_csv", {"path": str(path), "text": "text"})
    assert "has only the label 'good'" in error_message("text_csv", {"path": str(path)})
    path.write_text("review,stars\nfine,good\n!!!,bad\n")
    assert f"line 3 of '{path}': the text has no words" in error_message("text_csv", {"path": str(path)})
    path.write_text("review,stars\nfine,good\nbad,\n")
    assert "line 3" in error_message("text_csv", {"path": str(path)})
    path.write_text("review\nfine\n")
    assert "text and label columns are both 'review'" in error_message("text_csv", {"path": str(path)})


def test_pictures_refuse_a_pipe_without_blocking(tmp_path):
    import os
    root = class_folders(tmp_path / "pets", per_class=1)
    os.mkfifo(root / "sky" / "pipe.png")
    assert "it is a named pipe (FIFO), not a regular file" in error_message("image_folder", {"path": str(root)})


def test_sample_photos_patches_need_no_size_check():
    data = load_dataset("colorize", {"patch": 128, "scale": 8, "n_samples": 3})
    assert data.inputs[0].shape == (3, 1, 128, 128)
    assert np.isfinite(data.info["baseline_mse"])
