"""The `layerloom` command: check, summary and schema here; train and friends from engine.train;
`design` and any other command from packages that declare a `layerloom.commands` entry point."""
from __future__ import annotations

import argparse
import json
import os
import sys
from importlib.metadata import entry_points

from . import files
from .crash import internal_error
from .errors import DocumentError, UserError, shown
from .lifeline import end_with_parent
from .schema import json_schema
from .costs import batch_size_of, format_bytes, machine_memory
from .summary import format_summary, memory_of, summarize
from .templates import document_argument, format_gallery, gallery
from .validate import check


def _cmd_check(args) -> int:
    failed = False
    for path in args.files:
        try:
            problems, report = check(files.load(path))
        except DocumentError as error:
            problems, report = error.problems, None
        for problem in problems:
            print(f"{shown(path)}: {problem}")
        if problems:
            failed = True
        else:
            expanded = f" ({report.size:,} with its blocks expanded)" if report.size != len(report.nodes) else ""
            print(f"{shown(path)}: valid, {len(report.nodes)} nodes{expanded}, {report.total_params:,} parameters")
    return 1 if failed else 0


def _cmd_summary(args) -> int:
    arch = files.load(args.file)
    try:
        batch_size = batch_size_of(arch, _whole_number(args.batch_size))
    except ValueError as error:
        print(f"layerloom summary: --batch-size: {error}", file=sys.stderr)
        return 1
    summary = summarize(arch, batch_size)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary, expand=args.expand))
    memory, ram = memory_of(summary), machine_memory()
    if ram and memory.training_bytes > ram:
        needs = format_bytes(memory.training_bytes)
        print(f"{args.file}: warning: training at batch {memory.batch_size:,} needs {needs}, "
              f"more than this machine's {format_bytes(ram)}", file=sys.stderr)
    return 0


def _whole_number(text: str | None):
    """The flag's int, or the text as given (which batch_size_of refuses with its own message, not argparse's)."""
    try:
        return int(text) if text is not None else None
    except ValueError:
        return text


def _cmd_templates(args) -> int:
    print(format_gallery(gallery()))
    return 0


def _cmd_schema(args) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with one change: a usage error exits with status 1, like every other bad input."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="layerloom", description="Design, check and train neural networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("check", help="validate documents; exit 1 if any has a problem")
    p.add_argument("files", nargs="+", metavar="FILE", type=document_argument)
    p.set_defaults(run=_cmd_check)
    p = sub.add_parser("summary", help="table of node, type, output shape, parameters, MACs and training memory")
    p.add_argument("file", metavar="FILE", type=document_argument)
    p.add_argument("--batch-size", metavar="N",
                   help="batch size of the training memory (default: the training section's)")
    p.add_argument("--json", action="store_true",
                   help="print JSON instead of a table (an instance's row nests its copies and layers in 'children')")
    p.add_argument("--expand", action="store_true", help="list every layer inside block instances, indented")
    p.set_defaults(run=_cmd_summary)
    p = sub.add_parser("schema", help="print the JSON Schema of the document format")
    p.set_defaults(run=_cmd_schema)
    p = sub.add_parser("templates", help="list the template gallery (train or design one by its name)")
    p.set_defaults(run=_cmd_templates)
    for register in _plugin_registrars():
        register(sub)
    return parser


def _plugin_registrars():
    from . import lab_cli
    from .export import cli as export_cli
    from .fximport import cli as import_cli
    from .predict import cli as predict_cli
    from .train import cli as train_cli
    yield train_cli.register
    yield lab_cli.register
    yield predict_cli.register
    yield import_cli.register
    yield export_cli.register
    for entry in entry_points(group="layerloom.commands"):
        yield entry.load()


def main(argv: list[str] | None = None) -> int:
    """Run one command: 0 when it succeeds, 1 with one line per problem on stderr, 130 when interrupted."""
    args = build_parser().parse_args(argv)
    try:
        end_with_parent()
        return args.run(args)
    except UserError as error:
        source = None if error.names_its_source else getattr(args, "file", None) or getattr(args, "run_dir", None)
        problems = error.problems if isinstance(error, DocumentError) else [error]
        for problem in problems:
            print(f"{shown(source)}: {problem}" if source else str(problem), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("layerloom: out of memory: the document, its data or --data-limit ask for more than this machine has",
              file=sys.stderr)
        return 1
    except Exception as error:  # a bug: one line, and the traceback in a log file the line names
        print(internal_error(error), file=sys.stderr)
        return 1


def run() -> None:
    """The console entry point: `main`, then an immediate exit. Every file is written and closed by then, and
    Python's own shutdown (torch's and scikit-learn's atexit work) would add about a second to each command."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
