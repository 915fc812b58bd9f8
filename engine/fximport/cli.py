"""`layerloom import MODULE:CLASS`: an existing torch module as a document, and its weights for the compiled model."""
from __future__ import annotations

import sys

from .. import fileio, files
from ..progress import stages
from .values import ImportFailure
from .importer import import_module
from .trace import construct, load_class


def register(sub) -> None:
    """Add the import command to the `layerloom` parser."""
    p = sub.add_parser("import", help="trace a torch nn.Module with torch.fx into a document (and save its weights)")
    p.add_argument("spec", metavar="MODULE:CLASS", help="e.g. mypackage.models:Net, or models.py:Net")
    p.add_argument("--args", default="{}", metavar="JSON", help="keyword arguments of the class, as a JSON object")
    p.add_argument("--input-shape", action="append", metavar="SHAPE",
                   help="an input's shape per sample, without the batch dimension, e.g. 1,28,28; once per forward "
                        "argument, in order (an input read only by linear layers may be left out)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the document to write")
    p.add_argument("--weights", metavar="OUT.pt",
                   help="also save the module's weights, as a state_dict the compiled model loads")
    p.add_argument("--flat", action="store_true",
                   help="one node per layer, without the module's hierarchy as blocks")
    p.set_defaults(run=_cmd_import)


def _cmd_import(args) -> int:
    with stages(f"importing {args.spec}", ["loading", "tracing", "writing"]) as begin:
        try:
            begin("loading")
            shapes = None if args.input_shape is None else [_parse_shape(text) for text in args.input_shape]
            module = construct(load_class(args.spec), args.args)
            begin("tracing")
            arch, weights, unused, _ = import_module(module, shapes, flat=args.flat)
        except ImportFailure as error:
            for line in error.lines:
                print(f"{args.spec}: {line}", file=sys.stderr)
            return 1
        begin("writing")
        for path in (args.output, args.weights):  # refused before either is written
            if path:
                fileio.check_writable(path)
        files.save(arch, args.output)
        if args.weights:
            fileio.save_torch(weights, args.weights)
    for line in unused:
        print(f"{args.spec}: {line}", file=sys.stderr)
    saved = f"; weights in {args.weights}" if args.weights else ""
    blocks = f" and {len(arch.blocks)} block{'s' * (len(arch.blocks) != 1)}" if arch.blocks else ""
    print(f"{args.output}: {len(arch.nodes)} nodes{blocks} imported from {args.spec}{saved}")
    return 0


def _parse_shape(text: str) -> list[int]:
    try:
        shape = [int(part) for part in text.split(",")]
    except ValueError:
        shape = []
    if not shape or min(shape) < 1:
        raise ImportFailure(f"--input-shape {text!r} is not a list of positive sizes such as 1,28,28")
    return shape

