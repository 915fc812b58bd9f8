"""The user's inputs made into what a trained model reads: images, drawn digits, photos, sentences, table rows.

Each reader prepares an input the way the model's training data was prepared, so one rule serves both."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..data import DatasetError
from ..data.csv_file import parse_number, read_rows
from ..data.image_folder import resize_image
from ..data.pictures import gray_of, open_image, to_array
from ..data.text_csv import encode_words

DIGIT_GRID = 32   # scikit-learn's digits are 32x32 bitmaps counted in 4x4 blocks (UCI optdigits)
INK = 0.25        # share of the darkest-to-lightest range above which a pixel counts as ink


def image_input(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """An image for an image_folder model: (C, H, W) in [0, 1], resized (stretched) to the model's size."""
    channels, height, width = shape
    return resize_image(path, (height, width), grayscale=channels == 1)


def digit_input(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """A drawn digit of any size, dark on light or light on dark, made to look like scikit-learn's digits.

    1. read as gray in [0, 1]; when the border is mostly light (dark ink on paper), invert it;
    2. subtract the background (the border's median) and stretch the ink to a maximum of 1;
    3. crop to the ink's bounding box, and fit it, aspect kept and centred, into a 32x32 square (as the
       UCI bitmaps were: a digit fills the square's height);
    4. average 4x4 blocks down to 8x8 (the model's size) and stretch to a maximum of 1 again."""
    gray = to_array(open_image(path, "L"))[0]
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:
        gray, border = 1.0 - gray, 1.0 - border
    ink = np.clip(gray - np.median(border), 0.0, None)
    if ink.max() < 0.1:
        raise DatasetError(f"image '{path}' is blank: no digit stands out from its background")
    ink /= ink.max()
    rows, cols = np.flatnonzero((ink > INK).any(1)), np.flatnonzero((ink > INK).any(0))
    ink = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    scale = DIGIT_GRID / max(ink.shape)
    height, width = (max(1, round(side * scale)) for side in ink.shape)
    glyph = Image.fromarray(ink.astype(np.float32), "F").resize((width, height), Image.Resampling.BOX)
    square = Image.new("F", (DIGIT_GRID, DIGIT_GRID), 0.0)
    square.paste(glyph, ((DIGIT_GRID - width) // 2, (DIGIT_GRID - height) // 2))
    _, out_height, out_width = shape
    small = np.asarray(square.resize((out_width, out_height), Image.Resampling.BOX), dtype=np.float32)
    return (small / max(float(small.max()), 1e-6))[None]


def photo_input(path: Path) -> np.ndarray:
    """A photo for a colorization model: its gray (1, H, W) in [0, 1] at full resolution (colour is dropped)."""
    return gray_of(to_array(open_image(path, "RGB")).transpose(1, 2, 0))[None]


def sentence_input(text: str, vocab: list[str], length: int, info: dict) -> tuple[np.ndarray, list[str]]:
    """Word ids (length,) as in training, and the words the vocabulary lacks."""
    ids, missing = encode_words(text, vocab, length, info.get("pad"), info.get("unknown"))
    return np.array(ids, dtype=np.int64), missing


def table_input(path: Path, columns: list[str], delimiter: str = ",") -> tuple[list[str], list, np.ndarray]:
    """A CSV's header, its rows and the float32 (N, F) matrix of the named columns, in the order given."""
    header, rows = read_rows(path, delimiter)
    missing = [name for name in columns if name not in header]
    if missing:
        raise DatasetError(f"file '{path}' has no column {', '.join(repr(m) for m in missing)}; the model reads "
                           f"{', '.join(columns)} (found: {', '.join(header)})")
    where = [header.index(name) for name in columns]
    values = []
    for line, fields in rows:
        if len(fields) != len(header):
            raise DatasetError(f"line {line} of '{path}' has {len(fields)} fields but the header has {len(header)}")
        values.append([parse_number(fields[i], line, header[i], path) for i in where])
    return header, rows, np.array(values, dtype=np.float32).reshape(len(rows), len(columns))
