"""Commands that help act on a document: `datasets` says which bundled datasets fit it, `remedy` writes a
one-change variant of it, `compare` sets runs of it side by side."""
from __future__ import annotations

import sys
from pathlib import Path

from . import files
from .remedies import REMEDIES, RemedyError, derive, why_not
from .templates import document_argument
from .train.compare import check_comparable, format_table, summarize_folder, verdict
from .train.fitting import fitting_datasets, format_fits
from .train.setup import TrainingError


def register(sub) -> None:
    p = sub.add_parser("datasets", help="which bundled datasets fit a document's input and output, and why others do not")
    p.add_argument("file", metavar="FILE", type=document_argument)
    p.set_defaults(run=_cmd_datasets)
    p = sub.add_parser("remedy", help="write a variant of a document with one remedy applied (--list: which apply)")
    p.add_argument("file", metavar="FILE", type=document_argument)
    p.add_argument("--list", action="store_true", help="list the remedies and whether each applies (the default)")
    p.add_argument("--apply", metavar="KIND", help=" | ".join(REMEDIES))
    p.add_argument("-o", "--output", metavar="OUT.json", help="where to write the variant (with --apply)")
    p.set_defaults(run=_cmd_remedy)
    p = sub.add_parser("compare", help="side-by-side metrics of runs of one document and its variants")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.set_defaults(run=_cmd_compare)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _cmd_datasets(args) -> int:
    print(format_fits(fitting_datasets(files.load(args.file))))
    return 0


def _cmd_remedy(args) -> int:
    arch = files.load(args.file)
    if args.apply is None:
        for kind, remedy in REMEDIES.items():
            reason = why_not(arch, kind)
            print(f"{kind:<13} {remedy.title}" + (f"  (does not apply: {reason})" if reason else ""))
        return 0
    if args.output is None:
        return _fail(f"{args.file}: --apply needs -o OUT.json, the file to write the variant to")
    if Path(args.output).resolve() == Path(args.file).resolve():
        return _fail(f"{args.output}: is the document itself; write the variant to another file")
    try:
        variant = derive(arch, args.apply)
    except RemedyError as error:
        return _fail(f"{args.file}: {error}")
    try:
        files.save(variant, args.output)
    except OSError as error:
        return _fail(f"{args.output}: cannot write: {error.strerror or error}")
    print(f"{args.output}: '{variant.name}', {REMEDIES[args.apply].title}")
    return 0


def _cmd_compare(args) -> int:
    if len(args.runs) < 2:
        return _fail("compare needs two or more run folders")
    try:
        summaries = [summarize_folder(folder) for folder in args.runs]
        check_comparable(summaries)
    except TrainingError as error:
        return _fail(str(error))
    print(format_table(summaries))
    for other in summaries[1:]:
        print(f"{summaries[0].name} -> {other.name}: {verdict(summaries[0], other)}")
    return 0
