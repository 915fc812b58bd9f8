"""Command-line options made from pydantic fields, and validated by the same models: one rule for a value,
whether it comes from a document or a flag."""
from __future__ import annotations

import argparse
import typing
from pathlib import Path

from pydantic import BaseModel, ByteSize, ValidationError

from .errors import UserError
from .errors import shown

METAVARS = {int: "N", float: "X", str: "TEXT", Path: "PATH"}


class UsageError(UserError):
    """A flag with a value its model refuses; the message names the flag."""

    names_its_source = True


def flag(name: str, flags: dict[str, str] | None = None) -> str:
    """The option of field `name`: '--max-steps' for max_steps, unless `flags` names it otherwise."""
    return (flags or {}).get(name) or "--" + name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, model: type[BaseModel], names: typing.Iterable[str],
                flags: dict[str, str] | None = None, help_prefix: str = "") -> None:
    """An option per field in `names`, with the field's description as help. Values are left as text for the model
    to validate (`parse_options`); an option not given keeps the model's default."""
    for name in names:
        field = model.model_fields[name]
        kinds = [t for t in typing.get_args(field.annotation) or (field.annotation,) if t is not type(None)]
        options: dict = {"dest": name, "default": argparse.SUPPRESS, "help": help_prefix + (field.description or "")}
        if kinds == [bool]:
            options["action"] = "store_true"
        elif typing.get_origin(kinds[0]) is typing.Literal:
            options["choices"] = typing.get_args(kinds[0])
        else:
            given = (field.json_schema_extra or {}).get("metavar")
            options["metavar"] = given or METAVARS.get(kinds[0]) or ("JSON" if isinstance(kinds[0], type) and issubclass(kinds[0], BaseModel) else "VALUE")
        if field.default not in (None, False) and "action" not in options:
            default = field.default
            options["help"] += f" (default {default.human_readable() if isinstance(default, ByteSize) else default})"
        parser.add_argument(flag(name, flags), **options)


def parse_options(model: type[BaseModel], args: argparse.Namespace, flags: dict[str, str] | None = None, **extra):
    """The model of the options given in `args` (and `extra`); a value the model refuses is a UsageError naming
    its flag."""
    given = {name: value for name, value in vars(args).items() if name in model.model_fields} | extra
    try:
        return model.model_validate(given)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        name = first["loc"][0] if first["loc"] else None
        message = first["msg"].removeprefix("Value error, ")
        if name is None:
            raise UsageError(message) from None
        inside = "".join(f"{part}: " for part in first["loc"][1:])  # a field of a JSON value: '--dataset X: name: '
        raise UsageError(f"{flag(str(name), flags)} {shown(given.get(name), 40)}: {inside}{message[:1].lower()}"
                         f"{message[1:]}") from None
