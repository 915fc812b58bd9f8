"""Writing a document's model to a file: Python source, TorchScript or ONNX, with fresh or trained weights.

TorchScript is traced (fx modules with LayerLoom's layers do not script: `*inputs` and `super()` calls) and ONNX
uses torch's torch.export-based exporter, the one that handles every layer type (the legacy TorchScript exporter
refuses adaptive pooling to sizes that do not divide the input, and writes 'same' dilated convolutions that
onnxruntime rejects). Both are written in eval mode, with the batch dimension left free.
"""
from __future__ import annotations

import importlib.util
import io
import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import fileio
from ..compiler import compile_model
from ..document import Architecture
from ..errors import UserError, shown
from ..train.runfolder import MODEL, load_state
from ..train.setup import random_inputs
from .python_source import class_name, python_source

FORMATS = ("python", "torchscript", "onnx")
ONNX_INSTALL = "pip install 'layerloom[onnx]'"
EXAMPLE_BATCH = 2  # the batch traced; any other runs too, since the batch dimension is kept free


class ExportError(UserError):
    """An export that cannot be done; the message is one user-facing line."""


@dataclass(frozen=True)
class Exported:
    """What was written: the model file, the weights beside Python source (when weights were given), and a line
    that says so."""

    path: Path
    message: str
    weights: Path | None = None


def export(arch: Architecture, fmt: str, out: str | Path, weights: str | Path | None = None,
           origin: str | None = None) -> Exported:
    """Write `arch`'s model to `out` as `fmt`, atomically: with the weights in `weights` (a model.pt or a run folder),
    else freshly initialized from the training seed. Raises ExportError, DocumentError or FileError."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format '{fmt}': use python, torchscript or onnx")
    if fmt == "onnx":
        _require_onnx()
    out = Path(out)
    if fmt == "python":  # the source builds its own fresh weights: the model is only needed to check given ones
        return _write_python(arch, out, None if weights is None else trained_model(arch, weights), origin, weights)
    model = trained_model(arch, weights)
    seed = arch.training.seed if arch.training else 0
    start = f"the weights of {weights}" if weights is not None else f"fresh weights (seed {seed})"
    inputs = random_inputs(arch, EXAMPLE_BATCH, torch.Generator().manual_seed(0))
    fileio.check_writable(out)  # before the export's minutes, not after
    if fmt == "torchscript":
        data = _run_exporter(fmt, lambda: _torchscript(model, inputs))
    else:
        data = _run_exporter(fmt, lambda: _onnx(model, inputs))
    fileio.write_bytes(out, data)
    load = "torch.jit.load" if fmt == "torchscript" else "onnxruntime.InferenceSession"
    return Exported(out, f"wrote {out}: {fmt} with {start}, any batch size; load it with {load}")


def trained_model(arch: Architecture, weights: str | Path | None = None) -> torch.nn.Module:
    """The compiled model in eval mode, initialized from the training seed as `layerloom train` does (0 when the
    document has none), then given `weights` if any. The global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(arch.training.seed if arch.training else 0)
        model = compile_model(arch)
    if weights is not None:
        file = weights_file(Path(weights))
        load_state(model, fileio.load_torch(file), file)
    return model.eval()


def weights_file(path: Path) -> Path:
    """`path` itself, or the model.pt of the run folder `path`."""
    if not path.is_dir():
        return path
    if not os.path.lexists(path / MODEL):
        raise ExportError(f"{shown(path)}: not a run folder ({MODEL} is missing)")
    return path / MODEL


def _write_python(arch: Architecture, out: Path, model: torch.nn.Module | None, origin: str | None,
                  weights: str | Path | None) -> Exported:
    """The source, and, when weights were given (`model` holds them), the state_dict beside it as OUT.pt."""
    text = python_source(arch, origin)
    message = f"wrote {out}: class {class_name(arch.name)}, needs only torch"
    if model is None:
        fileio.write_text(out, text)
        return Exported(out, message)
    beside = out.with_suffix(".pt")
    if beside == out:
        raise ExportError(f"{out}: name the Python file *.py (the weights are written beside it, as .pt)")
    fileio.save_torch(model.state_dict(), beside)
    fileio.write_text(out, text)
    load = f"model.load_state_dict(torch.load('{beside}'))"
    return Exported(out, f"{message}; the weights of {weights} are in {beside}: {load}", beside)


def _torchscript(model: torch.nn.Module, inputs: tuple) -> bytes:
    """The traced model's file, made in memory: torch.jit.save aborts the process when a disk write fails."""
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.trace(model, inputs), buffer)
    return buffer.getvalue()


def _onnx(model: torch.nn.Module, inputs: tuple) -> bytes:
    batch = torch.export.Dim("batch")
    program = torch.onnx.export(model, inputs, dynamo=True, external_data=False, verbose=False,
                                input_names=model.input_names, output_names=model.output_names,
                                dynamic_shapes=tuple({0: batch} for _ in inputs))
    return program.model_proto.SerializeToString()


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)}: {ONNX_INSTALL}")


def _run_exporter(fmt: str, run) -> bytes:
    """Run torch's exporter quietly; its failures (a model it cannot express) become one line."""
    try:
        with _quiet():
            return run()
    except Exception as error:  # torch's exporters raise many types, none of them ours to handle differently
        lines = str(error).strip().splitlines()
        raise ExportError(f"cannot export to {fmt}: {lines[0] if lines else type(error).__name__}") from error


@contextmanager
def _quiet():
    """torch.jit warns that it is deprecated and that tracing sees Python booleans, and the ONNX exporter logs the
    torchvision operators it skips: nothing the user can act on, so none of it is shown."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
