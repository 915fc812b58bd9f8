"""The template gallery: the example documents in templates/, in the order templates/GALLERY.json gives.

GALLERY.json is the one place that orders the gallery and states what each template's default training reaches
(its targets); the documents themselves stay plain documents.
"""
from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .train.events import DiagnosisKind

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
GALLERY_FILE = TEMPLATES_DIR / "GALLERY.json"

Metric = Literal[
    "val_accuracy", "val_loss", "train_accuracy", "train_loss",
    "accuracy_gap",  # train_accuracy - val_accuracy
    "grad_ratio",  # first weighted layer's gradient norm over the last one's, at the first step (initial weights)
    "max_grad_norm",  # largest total gradient norm of any logged step (infinite when it was not finite)
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
        """Whether `reached` meets the target, given the value it is compared with."""
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
                tuple(entry.targets), tuple(entry.diagnoses), entry.sample,
            ))
    return infos
