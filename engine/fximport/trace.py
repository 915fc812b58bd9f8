"""Finding the model class named by MODULE:CLASS, constructing it and tracing it with torch.fx."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from torch import fx, nn

from ..errors import shown
from .values import ImportFailure


def load_class(spec: str) -> type[nn.Module]:
    """The nn.Module subclass named by `MODULE:CLASS`; MODULE is a dotted name importable from the current
    folder (as with `python -m`) or a path to a .py file."""
    module_name, colon, class_name = spec.rpartition(":")
    if not colon or not module_name or not class_name:
        raise ImportFailure(f"expected MODULE:CLASS (e.g. mypackage.models:Net or models.py:Net), got {spec!r}")
    module = _import(module_name)
    cls = module
    for part in class_name.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise ImportFailure(f"module '{module_name}' has no class '{class_name}'")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ImportFailure(f"'{class_name}' in module '{module_name}' is not a torch.nn.Module class")
    return cls


def _import(name: str):
    try:
        if name.endswith(".py") or os.sep in name:
            return _import_file(Path(name))
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(name)
    except ImportFailure:
        raise
    except ModuleNotFoundError as error:
        raise ImportFailure(f"cannot import module '{name}': {error}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the user's module failed while loading (SystemExit too): name it, no traceback
        raise ImportFailure(f"importing module '{name}' failed: {_first_line(error)}") from None


def _import_file(path: Path):
    """The module in a .py file, named after the file, as `python FILE` would see it (its folder on sys.path)."""
    if not path.is_file():
        raise ImportFailure(f"no Python file '{path}'")
    loaded = sys.modules.get(path.stem)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", None) or "").resolve() == path.resolve():
            return loaded
        raise ImportFailure(f"a module named '{path.stem}' is already loaded (from {loaded.__file__ or 'Python'}); "
                            "rename the file")
    sys.path.insert(0, str(path.resolve().parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[path.stem]  # as the import system does: no half-run module stays behind
        raise
    return module


def construct(cls: type[nn.Module], args_json: str = "{}") -> nn.Module:
    """`cls(**args)` for a JSON object of keyword arguments."""
    try:
        args = json.loads(args_json)
    except json.JSONDecodeError as error:
        raise ImportFailure(f"--args is not valid JSON: {error.msg} at column {error.colno}") from None
    except (RecursionError, ValueError):  # nested too deeply, or an integer beyond Python's digit limit
        raise ImportFailure("--args is not valid JSON: nested too deeply or a number too long") from None
    if not isinstance(args, dict):
        raise ImportFailure(
            f'--args must be a JSON object of keyword arguments, like {{"hidden": 32}}, got {args_json}')
    try:
        return cls(**args)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise ImportFailure(f"constructing {cls.__name__}(**{shown(args_json, 80)}) failed: {_first_line(error)}"
                            ) from None


class _Tracer(fx.Tracer):
    """fx's tracer, recording each node's source line; any torch recurrent module (a subclass too) is a leaf,
    since its forward cannot be traced, and so is a module class of a file LayerLoom exported."""

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        exported = hasattr(type(m), "layerloom_type")  # a class LayerLoom's Python export defines for a layer
        return exported or isinstance(m, nn.RNNBase) or super().is_leaf_module(m, qualname)


def trace(module: nn.Module, training: bool | None = None, absent: Sequence[str] = ()) -> fx.GraphModule:
    """The module's fx graph (traced in training or eval mode when `training` is given, the module's modes left
    as they were), the optional forward arguments named in `absent` left at their default of None, without the
    values nothing uses (such as the state in `out, _ = self.lstm(x)`); calls that work in place stay, so that
    importing can refuse them when they matter."""
    modes = {m: m.training for m in module.modules()}
    try:
        if training is not None:
            module.train(training)
        tracer = _Tracer()
        graph = tracer.trace(module, concrete_args=dict.fromkeys(absent) or None)
        graph_module = fx.GraphModule(tracer.root, graph, type(module).__name__)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise ImportFailure(f"cannot trace {type(module).__name__} with torch.fx: {_first_line(error)}") from None
    finally:
        for m, mode in modes.items():
            m.training = mode
    _eliminate_dead_code(graph_module.graph)
    return graph_module


def optional_arguments(module: nn.Module, given: int | None) -> list[str]:
    """The forward arguments that default to None and are not given: all of them when `given` (the number of
    input shapes) does not cover more than the required arguments."""
    parameters = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in parameters if p.default is p.empty]
    if given is not None and given > len(required):
        return [p.name for p in parameters[given:] if p.default is None]
    return [p.name for p in parameters if p.default is None]


def _eliminate_dead_code(graph: fx.Graph) -> None:
    for node in reversed(graph.nodes):
        if node.op not in ("placeholder", "output") and not node.users and not is_inplace(node, graph):
            graph.erase_node(node)
    graph.lint()


def is_inplace(node: fx.Node, graph: fx.Graph) -> bool:
    """A call that may overwrite its input: x.relu_(), F.relu(x, inplace=True) (or a True given by position),
    nn.ReLU(inplace=True)."""
    if node.kwargs.get("inplace") is True or (node.op == "call_function" and any(a is True for a in node.args[1:])):
        return True
    if node.op == "call_method" or node.op == "call_function":
        name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
        return name.endswith("_") and not name.endswith("__")
    if node.op == "call_module":
        return getattr(graph.owning_module.get_submodule(node.target), "inplace", False) is True
    return False


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {shown(lines[0], 200)}" if lines else type(error).__name__
