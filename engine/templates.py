"""The template gallery: the example documents shipped in `layerloom.templates`, in the order GALLERY.json gives.

GALLERY.json is the one place that orders the gallery and states what each template's default training reaches
(its targets); the documents themselves stay plain documents.
"""
from __future__ import annotations

import json
import math
import operator
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .train.events import DiagnosisKind

# Package data of an installed (or editable) layerloom: always a folder on disk, never inside a zip.
TEMPLATES_DIR = Path(str(resources.files("layerloom.templates")))
GALLERY_FILE = TEMPLATES_DIR / "GALLERY.json"

Metric = Literal[
    "val_accuracy", "val_loss", "train_accuracy", "train_loss",
    "accuracy_gap",  # train_accuracy - val_accuracy
    "grad_ratio",  # first weighted layer's gradient norm over the last one's, at the first step (initial weights)
    "max_grad_norm",  # largest total gradient norm of any logged step (infinite when it was not finite)
    # the first sequence layer's gradient by position at the first step: its smallest ||dL/dx_t|| over its largest
    "position_ratio",
    "seconds",  # training time
]
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Model):
    """A number the default training reaches: `metric op value`, or `metric op` the twin template's `metric`."""

    metric: Metric
    op: Literal["<", "<=", ">", ">="]
    value: float | None = None
    than: str | None = Field(None, description="Another template's file: compare with its value of the metric.")
    relative_to: str | None = Field(None, description="A dataset info key (baseline_mse, ...): value is a fraction of it.")

    @model_validator(mode="after")
    def _one_reference(self) -> "Target":
        if (self.value is None) == (self.than is None):
            raise ValueError("give exactly one of value or than")
        if self.relative_to and self.value is None:
            raise ValueError("relative_to needs a value")
        return self

    def holds(self, reached: float, reference: float) -> bool:
        """Whether `reached` meets the target, given the value it is compared with; values that differ only by
        float rounding are equal (an accuracy gap of 0.93 - 0.88 = 0.050000000000000044 meets <= 0.05)."""
        if math.isclose(reached, reference, rel_tol=1e-9, abs_tol=1e-12):
            return self.op in ("<=", ">=")
        return OPS[self.op](reached, reference)

    def describe(self) -> str:
        """The target in words, e.g. 'val_loss <= 0.7 x baseline_mse'."""
        if self.than:
            return f"{self.metric} {self.op} {Path(self.than).stem}'s"
        scale = f" x {self.relative_to}" if self.relative_to else ""
        return f"{self.metric} {self.op} {self.value:g}{scale}"


class Entry(_Model):
    file: str
    targets: list[Target] = Field(min_length=1)
    diagnoses: list[DiagnosisKind] = Field(default_factory=list, description="Diagnoses its training must report.")
    sample: bool = Field(False, description="A text generator: show what `layerloom sample` writes.")
    beside: str | None = Field(None, description="Another template's file trained on the same data: the benchmark "
                                                 "compares their validation loss, training time and samples.")


class Section(_Model):
    title: str
    templates: list[Entry] = Field(min_length=1)


class Gallery(_Model):
    sections: list[Section] = Field(min_length=1)


@dataclass(frozen=True)
class TemplateInfo:
    """One gallery entry: the document's path, name and description, its section and its targets."""

    path: Path
    name: str
    description: str
    section: str
    targets: tuple[Target, ...]
    diagnoses: tuple[str, ...] = ()
    sample: bool = False
    beside: str | None = None

    @property
    def file(self) -> str:
        return self.path.name


def gallery() -> list[TemplateInfo]:
    """The templates in gallery order."""
    spec = Gallery.model_validate_json(GALLERY_FILE.read_text(encoding="utf-8"))
    infos = []
    for section in spec.sections:
        for entry in section.templates:
            path = TEMPLATES_DIR / entry.file
            document = json.loads(path.read_text(encoding="utf-8"))
            infos.append(TemplateInfo(
                path, document.get("name", path.stem), document.get("description", ""), section.title,
                tuple(entry.targets), tuple(entry.diagnoses), entry.sample, entry.beside,
            ))
    return infos


def template_path(name: str) -> Path | None:
    """The gallery document called `name` ('cnn_digits' or 'cnn_digits.json'), or None."""
    stem = name[:-5] if name.endswith(".json") else name
    path = TEMPLATES_DIR / f"{stem}.json"
    if "/" in stem or "\\" in stem or stem in ("", "GALLERY", ".", "..") or not path.is_file():
        return None
    return path


def document_argument(value: str) -> str:
    """A command's FILE argument: the path as given, or a gallery name when no such file exists."""
    if os.path.exists(value):  # False for a name too long to be a file, too
        return value
    path = template_path(value)
    return str(path) if path else value


def format_gallery(infos: list[TemplateInfo]) -> str:
    """The gallery as a table, section by section: name, what it shows, and the targets its training reaches."""
    width = max(len(info.path.stem) for info in infos) + 2
    lines, section = [], None
    for info in infos:
        if info.section != section:
            lines += [""] * bool(lines) + [info.section]
            section = info.section
        targets = "; ".join(target.describe() for target in info.targets)
        lines.append(f"  {info.path.stem:<{width}}{info.name}  [{targets}]")
    return "\n".join(lines)
