"""A finished run answering new inputs: classes for images and sentences, colour for photos, columns for tables.

What the model was trained on (dataset.json in the run folder) says how to read an input; every input is then
checked against the model's input node, so a misfit is a message naming the file and the node."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data import DATASETS, DatasetError
from ..errors import UserError
from ..data.csv_file import read_rows
from ..data.fit import dtype_name, shape_matches
from ..data.pictures import gray_of
from ..shapes import infer_shapes
from ..config import CLASSIFICATION_LOSSES
from ..train.runfolder import RunFolder
from ..train.setup import build_model, input_nodes, load_data, resolve_device, training_config
from .explain import conv_nodes, feature_maps, saliency
from .inputs import digit_input, image_input, photo_input, sentence_input, table_input

READERS = {"image": "image files", "digit": "images of a drawn digit", "photo": "photos to colorize",
           "sentence": "sentences (or CSV files with a text column)", "table": "CSV files"}
FULL_SIZE_MULTIPLES = (1, 2, 4, 8, 16, 32, 64)  # a photo is padded up to the first multiple the network keeps
MAP_SIDE = 160


class PredictError(UserError):
    """An input a run cannot answer; the message names the file, sentence or node at fault."""


@dataclass
class Scores:
    """The likeliest classes for one input, best first, with their probabilities."""

    source: str
    classes: list[str]
    probabilities: list[float]
    note: str = ""

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class Explanation:
    """One image input and what the model made of it: what the designer's Predict panel shows."""

    source: str
    image: np.ndarray                       # the input as the model reads it: (C, H, W) in [0, 1]
    scores: Scores | None = None            # classifiers
    colorized: np.ndarray | None = None     # colorizers: (H, W, 3) uint8
    maps: dict[str, np.ndarray] = field(default_factory=dict)   # convolution node -> (C, H, W)
    saliency: np.ndarray | None = None      # classifiers: (H, W) in [0, 1]


class Predictor:
    """The trained model of a run folder, with what it needs to read new inputs (`kind`, see READERS)."""

    def __init__(self, run_dir: str | Path, device: str = "cpu"):
        folder = RunFolder(run_dir)
        self.arch = folder.architecture()
        self.config = training_config(self.arch)
        self.device = resolve_device(device)
        self.model = build_model(self.arch, self.config.seed)
        folder.load_model(self.model)
        self.model.to(self.device).eval()
        name = self.config.dataset.name
        spec = DATASETS.get(name)
        self.kind = spec.user_input if spec else None
        if self.kind is None:
            raise PredictError(f"layerloom predict reads no inputs for a model trained on '{name}' data; it reads "
                               "images (image_folder, digits), photos (colorize, image_pairs), sentences "
                               "(sentiment, text_csv) and tables (csv)")
        self.data = folder.data_description() or load_data(self.arch, self.config).describe()
        nodes = input_nodes(self.arch)
        if len(nodes) != 1:
            raise PredictError(f"layerloom predict needs a model with one input node, this one has {len(nodes)}")
        self.node = nodes[0]
        self.shape = tuple(self.node.params.shape)
        if self.kind in ("image", "digit", "photo") and not (len(self.shape) == 3 and self.shape[0] in (1, 3)):
            raise PredictError(f"input node '{self.node.id}' has shape {self.shape}; an image model reads "
                               "(channels, height, width) with 1 or 3 channels")

    @property
    def classifies(self) -> bool:
        return self.kind != "photo" and self.config.loss in CLASSIFICATION_LOSSES

    @property
    def delimiter(self) -> str:
        """The CSV delimiter the training data used."""
        return self.config.dataset.params.get("delimiter", ",")

    @property
    def class_names(self) -> list[str]:
        names = self.data.get("info", {}).get("class_names")
        return list(names) if names else [str(i) for i in range(self.data.get("num_classes") or 0)]

    # reading -------------------------------------------------------------------------------------------
    def read(self, source: str) -> tuple[np.ndarray, str]:
        """One input as the model reads it, and a note (words the vocabulary lacks)."""
        if self.kind == "sentence":
            ids, missing = sentence_input(source, self.data["vocab"], self.shape[0], self.data.get("info", {}))
            return ids, f"words the model never saw: {', '.join(missing)}" if missing else ""
        try:
            if self.kind == "image":
                return image_input(Path(source), self.shape), ""
            if self.kind == "digit":
                return digit_input(Path(source), self.shape), ""
            if self.kind == "photo":
                return photo_input(Path(source)), ""
        except DatasetError as error:
            raise PredictError(str(error)) from None
        raise PredictError(f"a model trained on '{self.config.dataset.name}' data reads {READERS[self.kind]}")

    def batch(self, arrays: list[np.ndarray], source: str, free_size: bool = False) -> torch.Tensor:
        """Inputs stacked into a batch, once they fit the input node in shape and dtype."""
        tensor = torch.as_tensor(np.stack(arrays))
        expected = (self.shape[0], None, None) if free_size else self.shape
        actual = tuple(tensor.shape[1:])
        if not shape_matches(actual, expected):
            raise PredictError(f"{source} gives an input of shape {actual} but input node '{self.node.id}' "
                               f"expects {self.shape}")
        wanted = getattr(torch, self.node.params.dtype)
        if tensor.dtype != wanted:
            raise PredictError(f"{source} gives {dtype_name(tensor.dtype)} values but input node '{self.node.id}' "
                               f"expects {dtype_name(wanted)}")
        return tensor.to(self.device)

    # answers -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def probabilities(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, classes) probabilities of a classifier for a batch."""
        if not self.classifies:
            raise PredictError(f"the model was trained with the {self.config.loss} loss; it does not classify")
        output = self.model(inputs).float().cpu()
        if self.config.loss == "bce_with_logits" and output[0].numel() == 1:
            positive = torch.sigmoid(output.reshape(-1))
            return torch.stack([1 - positive, positive], dim=1)
        if output.dim() != 2:
            raise PredictError(f"the model answers with shape {tuple(output.shape[1:])} per input, one score per "
                               "class is needed; layerloom predict classifies whole inputs, not each token")
        return torch.softmax(output, dim=1)

    def top(self, probabilities: torch.Tensor, source: str, top_k: int, note: str = "") -> Scores:
        names = self.class_names
        values, indices = probabilities.topk(min(top_k, len(probabilities)))
        return Scores(source, [names[i] if i < len(names) else str(i) for i in indices.tolist()],
                      [round(v, 6) for v in values.tolist()], note)

    def classify(self, sources: list[str], top_k: int = 3) -> list[Scores]:
        """The top-k classes of each image file or sentence."""
        results = []
        for source in sources:
            array, note = self.read(source)
            probabilities = self.probabilities(self.batch([array], self.named(source)))[0]
            results.append(self.top(probabilities, source, top_k, note))
        return results

    def named(self, source: str) -> str:
        return f"sentence {source[:60]!r}" if self.kind == "sentence" else f"file '{source}'"

    @torch.no_grad()
    def colorize(self, source: str) -> np.ndarray:
        """The photo in colour at its own resolution, (H, W, 3) uint8: the network runs on the whole photo
        (padded to a size it keeps), and the result keeps the photo's brightness, taking only colour from it."""
        gray = self.read(source)[0]
        color = self.model(self.padded(gray, source))[0, :, :gray.shape[1], :gray.shape[2]]
        color = color.float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
        color = np.clip(color + (gray[0] - gray_of(color))[..., None], 0.0, 1.0)
        return (color * 255.0 + 0.5).astype(np.uint8)

    def padded(self, gray: np.ndarray, source: str) -> torch.Tensor:
        """A (1, H, W) photo as a batch of one, its edges repeated up to a size the network keeps."""
        height, width = gray.shape[1:]
        size = self.full_size(height, width, source)
        inputs = self.batch([gray], self.named(source), free_size=True)
        return F.pad(inputs, (0, size[1] - width, 0, size[0] - height), mode="replicate")

    def full_size(self, height: int, width: int, source: str) -> tuple[int, int]:
        """The smallest padded size at which the network returns a colour image of that same size."""
        node = self.node
        problem = ""
        for multiple in FULL_SIZE_MULTIPLES:
            size = (math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple)
            params = node.params.model_copy(update={"shape": [node.params.shape[0], *size]})
            nodes = [n.model_copy(update={"params": params}) if n is node else n for n in self.arch.nodes]
            report = infer_shapes(self.arch.model_copy(update={"nodes": nodes}))
            if report.problems:
                problem = f": {report.problems[0]}"
                continue
            output = next(report.nodes[n.id].shape for n in self.arch.nodes if n.type == "output")
            if tuple(output.shape) == (3, *size):
                return size
            problem = f": it returns {tuple(output.shape)}"
        raise PredictError(f"file '{source}' ({height}x{width}) cannot be colorized at its own size{problem}; that "
                           "needs a fully convolutional network whose output is as large as its input")

    def predict_csv(self, path: str, top_k: int = 1) -> str:
        """The CSV file with prediction columns added: the class and its probability, or the predicted values."""
        try:
            if self.kind == "sentence":
                header, rows, values = self._sentence_rows(Path(path))
            elif self.kind == "table":
                header, rows, values = table_input(Path(path), self.data["info"]["feature_names"], self.delimiter)
            else:
                raise PredictError(f"file '{path}': a model trained on '{self.config.dataset.name}' data reads "
                                   f"{READERS[self.kind]}, not CSV files")
        except DatasetError as error:
            raise PredictError(str(error)) from None
        inputs = self.batch(list(values), f"file '{path}'")
        if self.classifies:
            scores = [self.top(p, path, 1) for p in self.probabilities(inputs)]
            added = [[s.classes[0], f"{s.probabilities[0]:.4f}"] for s in scores]
            names = ["prediction", "probability"]
        else:
            with torch.no_grad():
                output = self.model(inputs).float().cpu().reshape(len(rows), -1)
            added = [[f"{v:.6g}" for v in row] for row in output.tolist()]
            names = ["prediction"] if output.shape[1] == 1 else [f"prediction_{i + 1}" for i in range(output.shape[1])]
        names = [unique(name, header) for name in names]
        text = io.StringIO()
        writer = csv.writer(text, delimiter=self.delimiter, lineterminator="\n")
        writer.writerow(header + names)
        writer.writerows(fields + extra for (_, fields), extra in zip(rows, added))
        return text.getvalue()

    def _sentence_rows(self, path: Path) -> tuple[list[str], list, list[np.ndarray]]:
        header, rows = read_rows(path, self.delimiter)
        names = [self.data.get("info", {}).get("text_column", "text"), "text"]
        found = [header.index(name) for name in names if name in header] or ([0] if len(header) == 1 else [])
        if not found:
            raise PredictError(f"file '{path}' has no column '{names[0]}' for the text; columns: {', '.join(header)}")
        return header, rows, [self.read(fields[found[0]] if found[0] < len(fields) else "")[0] for _, fields in rows]

    # the designer's view ---------------------------------------------------------------------------------
    def explain(self, source: str, top_k: int = 3) -> Explanation:
        """An image file's prediction or colorization with the feature maps of every convolution node (of a photo
        shrunk to at most MAP_SIDE pixels across: the maps of a whole photo would be far larger than a screen)."""
        array, note = self.read(source)
        if self.kind == "photo":
            small = shrink(array, MAP_SIDE)
            maps = feature_maps(self.model, conv_nodes(self.arch), (self.padded(small, source),))
            return Explanation(source, array, colorized=self.colorize(source), maps=maps)
        inputs = self.batch([array], self.named(source))
        result = Explanation(source, array, maps=feature_maps(self.model, conv_nodes(self.arch), (inputs,)))
        if self.classifies:
            probabilities = self.probabilities(inputs)[0]
            result.scores = self.top(probabilities, source, top_k, note)
            result.saliency = saliency(self.model, (inputs,), int(probabilities.argmax()))
        return result


def shrink(gray: np.ndarray, side: int) -> np.ndarray:
    """A (1, H, W) image scaled down so that neither side exceeds `side` (unchanged when it fits)."""
    height, width = gray.shape[1:]
    scale = side / max(height, width)
    if scale >= 1:
        return gray
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(gray[0], "F").resize(size, Image.Resampling.BOX), dtype=np.float32)[None]


def unique(name: str, taken: list[str]) -> str:
    """`name`, or `name_2`, `name_3`, ... when the header already has it."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    return candidate
