"""The `layerloom design` command (registered through the layerloom.commands entry point)."""
from layerloom.engine.templates import document_argument


def register(sub) -> None:
    p = sub.add_parser("design", help="open the desktop designer")
    p.add_argument("file", nargs="?", metavar="FILE", type=document_argument)
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen to OUT.png and exit")
    p.set_defaults(run=_run)


def _run(args) -> int:
    from .app import run
    return run(args.file, screenshot=args.screenshot)
