"""Running the Python source `layerloom export` writes, for the export tests and the layer contract."""
from __future__ import annotations

import ast
import sys

import torch

from layerloom import engine
from layerloom.engine.export import python_source
from layerloom.engine.export.python_source import class_name
from layerloom.engine.train.setup import random_inputs

ALLOWED_IMPORTS = {"torch", "math", "functools"}


def load_class(arch: engine.Architecture) -> type[torch.nn.Module]:
    """Exec the generated source in a fresh namespace where LayerLoom cannot be imported; returns its model class."""
    source = python_source(arch)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported
    namespace = {"__name__": "exported"}
    blocked = {name: None for name in ("engine", "designer", "layerloom")}
    saved = {name: sys.modules.get(name) for name in blocked}
    sys.modules.update(blocked)  # importing any of them now raises ImportError
    try:
        exec(compile(source, "exported.py", "exec"), namespace)
        return namespace[class_name(arch.name)]
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def assert_equivalent(arch: engine.Architecture, seed: int = 0) -> None:
    """Same seed, same weights and keys; compiled weights load strictly; equal outputs in eval and train mode."""
    torch.manual_seed(seed)
    compiled = engine.compile_model(arch)
    cls = load_class(arch)
    torch.manual_seed(seed)
    exported = cls()
    expected = compiled.state_dict()
    assert list(exported.state_dict()) == list(expected)
    for name, tensor in exported.state_dict().items():
        assert torch.equal(tensor, expected[name]), f"{name} differs with the same seed"
    exported.load_state_dict(expected, strict=True)
    inputs = random_inputs(arch, 5, torch.Generator().manual_seed(1))
    for mode in ("eval", "train"):  # train: dropout draws and batch statistics (momentum) must agree as well
        results = []
        for model in (compiled, exported):
            getattr(model, mode)()
            torch.manual_seed(2)
            results.append(model(*inputs))
        for got, want in zip(_tuple(results[1]), _tuple(results[0])):
            assert torch.equal(got, want), mode
    for name, tensor in exported.state_dict().items():
        assert torch.equal(tensor, compiled.state_dict()[name]), f"{name} differs after a training-mode step"


def _tuple(value):
    return value if isinstance(value, tuple) else (value,)
