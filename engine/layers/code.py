"""What a layer declares for `layerloom export --format python`: a constructor call or an inline expression.

Keyword arguments are written only where they differ from torch's defaults, which are read from the
constructor's signature (never retyped), so the generated source is what a person would write.
"""
from __future__ import annotations

import ast
import inspect
import json
import typing
from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class Construct:
    """`self.<id> = <cls>(<args>)` in `__init__`, called as `self.<id>(...)` in `forward`; `helpers` are source
    texts (class or function definitions) the file must hold for `cls`."""

    cls: str
    args: str
    helpers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inline:
    """A layer without state, written as an expression over its input variables."""

    expression: Callable[[list[str]], str]


Code = Construct | Inline
Sample = tuple  # the shape of one sample arriving at the `in` port, without the batch dimension
HELPER_NAMES: set[str] = set()  # what helper definitions name: a generated class must not take these names


def helper(source: str) -> str:
    """A helper definition for generated files, its top-level names recorded in HELPER_NAMES."""
    tree = ast.parse(source)
    HELPER_NAMES.update(n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)))
    return source.strip("\n")


class Symbol:
    """A value the generated source names rather than writes (a block's param, an instance's input size): it
    computes and compares as its value, and `literal` (or repr, inside a tuple) writes its `name`."""

    name: str

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return self.name


class _SymbolInt(Symbol, int):
    pass


class _SymbolFloat(Symbol, float):
    pass


class _SymbolStr(Symbol, str):
    pass


class _SymbolTuple(Symbol, tuple):
    pass


def symbol(value, name: str):
    """`value` named `name` in generated source (a bool stands as the int torch reads alike); None for a value that
    cannot be (a list, None)."""
    kinds = {bool: _SymbolInt, int: _SymbolInt, float: _SymbolFloat, str: _SymbolStr, tuple: _SymbolTuple}
    kind = kinds.get(type(value))
    if kind is None:
        return None
    named = kind(value)
    named.name = name
    return named


def literal(value) -> str:
    """A Python literal for a param value: strings in double quotes, tuples and numbers as repr writes them; a
    Symbol by its name."""
    if isinstance(value, Symbol):
        return value.name
    return json.dumps(value) if isinstance(value, str) else repr(value)


def arguments(*positional, **keywords) -> str:
    """'2, 32, bias=False' from positional values and keyword values."""
    parts = [literal(v) for v in positional] + [f"{k}={literal(v)}" for k, v in keywords.items()]
    return ", ".join(parts)


def torch_defaults(*constructors: Callable) -> dict:
    """The default of every argument of the given constructors (and of their typing overloads, which is where
    nn.RNN keeps its signature), read from their signatures."""
    defaults = {}
    for constructor in constructors:
        for signature in [inspect.signature(constructor), *map(inspect.signature, _overloads(constructor))]:
            defaults |= {name: p.default for name, p in signature.parameters.items() if p.default is not p.empty}
    return defaults


def _overloads(constructor: Callable) -> list:
    return typing.get_overloads(constructor.__init__) if isinstance(constructor, type) else []


def changed(values: dict, defaults: dict) -> dict:
    """The entries of `values` that differ from `defaults` (compared as written, so 1 and (1, 1) differ), and
    every Symbol: its value may be the default in one instance of a block and not in another."""
    return {k: v for k, v in values.items() if k not in defaults or defaults[k] != v or isinstance(v, Symbol)}


def module_code(cls: type[nn.Module], *positional: str, exclude: tuple[str, ...] = ()):
    """Export code for a torch module whose params are its constructor's arguments of the same names:
    `positional` ones by position, the others by keyword where they differ from the constructor's defaults."""
    defaults = torch_defaults(cls)

    def code(p, _: Sample) -> Code:
        values = p.model_dump(exclude={"init", "init_gain", *exclude})
        first = [values.pop(name) for name in positional]
        return Construct(f"nn.{cls.__name__}", arguments(*first, **changed(values, defaults)))
    return code
