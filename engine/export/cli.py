"""`layerloom export FILE --format python|torchscript|onnx -o OUT [--weights model.pt|RUN_DIR]`."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import files
from ..templates import document_argument
from .formats import FORMATS, ExportError, export


def register(sub) -> None:
    """Add the export command to the `layerloom` parser."""
    p = sub.add_parser("export", help="write the model as standalone Python source, TorchScript or ONNX")
    p.add_argument("file", metavar="FILE", type=document_argument)
    p.add_argument("--format", required=True, metavar="FORMAT", help=" | ".join(FORMATS))
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the file to write")
    p.add_argument("--weights", metavar="PATH",
                   help="a model.pt or a run folder (default: fresh weights, seeded by training.seed)")
    p.set_defaults(run=_cmd_export)


def _cmd_export(args) -> int:
    try:
        result = export(files.load(args.file), args.format, args.output, args.weights, origin=Path(args.file).name)
    except ExportError as error:
        print(error, file=sys.stderr)
        return 1
    except OSError as error:
        print(f"{args.output}: cannot write: {error.strerror or error}", file=sys.stderr)
        return 1
    print(result.message)
    return 0
