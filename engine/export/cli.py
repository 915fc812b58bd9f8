"""`layerloom export FILE --format python|torchscript|onnx -o OUT [--weights model.pt|RUN_DIR]`."""
from __future__ import annotations

from pathlib import Path

from .. import files
from ..progress import stages
from ..templates import document_argument
from .formats import FORMATS, export


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
    with stages(f"exporting to {args.format}", ["checking", "exporting"]) as begin:
        begin("checking")
        arch = files.load(args.file)
        begin("exporting")
        result = export(arch, args.format, args.output, args.weights, origin=Path(args.file).name)
    print(result.message)
    return 0
