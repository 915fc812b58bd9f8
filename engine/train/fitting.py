"""Which bundled datasets fit a document: its input nodes take the dataset's inputs and a loss joins its output
to the dataset's target. Asked by the designer before a first run, and by `layerloom datasets FILE`."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..data import DATASETS, Dataset, DatasetError, load_dataset
from ..errors import DocumentError
from ..validate import check
from .losses import LossMismatch, Objective
from .setup import check_inputs

OWN_FILES = ("csv", "npz")     # they read the person's own file: nothing to try without it


@dataclass(frozen=True)
class DatasetFit:
    """One dataset against one document: the loss that trains it when it fits, else why it does not."""

    name: str
    doc: str
    loss: str | None
    reason: str = ""

    @property
    def fits(self) -> bool:
        return self.loss is not None


@functools.lru_cache(maxsize=None)
def _bundled(name: str) -> Dataset:
    """A dataset with its default params (the shapes a first run would get), loaded once per process."""
    return load_dataset(name)


def fitting_datasets(arch) -> list[DatasetFit]:
    """Every dataset, those that fit `arch` first (in registry order), each other one with its reason."""
    problems, report = check(arch)
    if problems:
        raise DocumentError(problems)
    outputs = [n.id for n in arch.nodes if n.type == "output"]
    output = report.nodes[outputs[0]].shape if len(outputs) == 1 else None
    fits = [_fit(name, arch, output) for name in DATASETS]
    return sorted(fits, key=lambda fit: not fit.fits)


def _fit(name: str, arch, output) -> DatasetFit:
    doc = DATASETS[name].doc
    if name in OWN_FILES:
        return DatasetFit(name, doc, None, "reads a file of your own (params.path)")
    if output is None:
        return DatasetFit(name, doc, None, "training needs exactly one output node")
    try:
        data = check_inputs(arch, _bundled(name))
        loss = "cross_entropy" if data.task == "classification" else "mse"
        Objective(loss, tuple(output.shape), tuple(data.target.shape[1:]), data.target.dtype, data.num_classes)
    except (DatasetError, LossMismatch) as error:
        return DatasetFit(name, doc, None, str(error).removeprefix(f"dataset '{name}' "))
    return DatasetFit(name, doc, loss)


def format_fits(fits: list[DatasetFit]) -> str:
    """The fitting datasets with their loss, then the others with why not."""
    lines = [f"{fit.name:<16} fits, with loss {fit.loss}: {fit.doc}" for fit in fits if fit.fits] or \
            ["no bundled dataset fits this document's input and output shapes"]
    lines += [f"{fit.name:<16} does not fit: {fit.reason}" for fit in fits if not fit.fits]
    return "\n".join(lines)
