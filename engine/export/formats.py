"""Writing a document's model to a file: Python source, TorchScript or ONNX, with fresh or trained weights.

TorchScript is traced (fx modules with LayerLoom's layers do not script: `*inputs` and `super()` calls) and ONNX
uses torch's torch.export-based exporter, the one that handles every layer type (the legacy TorchScript exporter
refuses adaptive pooling to sizes that do not divide the input, and writes 'same' dilated convolutions that
onnxruntime rejects). Both are written in eval mode, with the batch dimension left free.
"""
from __future__ import annotations

import importlib.util
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import files
from ..compiler import compile_model
from ..document import Architecture
from ..train.runfolder import MODEL, save_atomic
from ..train.setup import random_inputs
from .python_source import class_name, python_source

FORMATS = ("python", "torchscript", "onnx")
ONNX_INSTALL = "pip install 'layerloom[onnx]'"
EXAMPLE_BATCH = 2  # the batch traced; any other runs too, since the batch dimension is kept free


class ExportError(ValueError):
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
    else freshly initialized from the training seed. Raises ExportError, DocumentError or OSError (writing)."""
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
    with files.atomic_path(out) as tmp:
        if fmt == "torchscript":
            _run_exporter(fmt, lambda: torch.jit.save(torch.jit.trace(model, inputs), str(tmp)))
        else:
            _run_exporter(fmt, lambda: _onnx(model, inputs, tmp))
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
        fit_weights(model, read_weights(file), file)
    return model.eval()


def weights_file(path: Path) -> Path:
    """`path` itself, or the model.pt of the run folder `path`."""
    if not path.is_dir():
        return path
    if not (path / MODEL).is_file():
        raise ExportError(f"{path}: not a run folder ({MODEL} is missing)")
    return path / MODEL


def read_weights(file: Path) -> dict:
    """The state_dict in `file`, read with weights_only, so that it cannot run code."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ExportError(f"{file}: no such file") from None
    except OSError as error:
        raise ExportError(f"{file}: cannot read: {error.strerror or error}") from None
    except Exception:  # torch.load fails with many types on a file it cannot read safely
        raise ExportError(f"{file}: not a weights file that loads safely (torch.load with weights_only)") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExportError(f"{file}: not a state_dict (a run's model.pt, or what model.state_dict() returns)")
    return state


def fit_weights(model: torch.nn.Module, state: dict, source: Path) -> None:
    """Load `state` into `model`; the first missing, surplus or misshapen parameter is named."""
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            raise ExportError(f"{source}: parameter '{name}' is missing (weights of another architecture?)")
        if state[name].shape != tensor.shape:
            raise ExportError(f"{source}: parameter '{name}' has shape {tuple(state[name].shape)}, "
                              f"the model's has {tuple(tensor.shape)}")
    surplus = next((name for name in state if name not in expected), None)
    if surplus is not None:
        raise ExportError(f"{source}: parameter '{surplus}' is not in this model (weights of another architecture?)")
    model.load_state_dict(state)


def _write_python(arch: Architecture, out: Path, model: torch.nn.Module | None, origin: str | None,
                  weights: str | Path | None) -> Exported:
    """The source, and, when weights were given (`model` holds them), the state_dict beside it as OUT.pt."""
    text = python_source(arch, origin)
    message = f"wrote {out}: class {class_name(arch.name)}, needs only torch"
    if model is None:
        with files.atomic_path(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return Exported(out, message)
    beside = out.with_suffix(".pt")
    if beside == out:
        raise ExportError(f"{out}: name the Python file *.py (the weights are written beside it, as .pt)")
    save_atomic(model.state_dict(), beside)
    with files.atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    load = f"model.load_state_dict(torch.load('{beside}'))"
    return Exported(out, f"{message}; the weights of {weights} are in {beside}: {load}", beside)


def _onnx(model: torch.nn.Module, inputs: tuple, path: Path) -> None:
    batch = torch.export.Dim("batch")
    torch.onnx.export(model, inputs, str(path), dynamo=True, external_data=False, verbose=False,
                      input_names=model.input_names, output_names=model.output_names,
                      dynamic_shapes=tuple({0: batch} for _ in inputs))


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)}: {ONNX_INSTALL}")


def _run_exporter(fmt: str, run) -> None:
    """Run torch's exporter quietly; its failures (a model it cannot express) become one line."""
    try:
        with _quiet():
            run()
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
