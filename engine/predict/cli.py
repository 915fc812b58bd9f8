"""`layerloom predict RUN_DIR INPUT...`: a finished run's answers for your own images, photos, sentences and CSVs."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from PIL import Image

from .. import fileio
from ..data import DatasetError
from ..train.setup import TrainingError
from .predictor import PredictError, Predictor, Scores

FAILURES = (PredictError, DatasetError, TrainingError)


def register(sub) -> None:
    """Add `predict` to the `layerloom` parser."""
    p = sub.add_parser("predict", help="a finished run's predictions for your own images, photos, sentences or CSVs")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, photos to colorize, sentences (quoted) or CSV files, as the model reads")
    p.add_argument("-o", "--out", metavar="OUT",
                   help="write here instead of printing: the colorized PNG (or a folder for several), the CSV with "
                        "prediction columns, or the table")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="classes listed per input (default 3)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "mps"))
    p.set_defaults(run=_guarded)


def _guarded(args) -> int:
    try:
        return _cmd_predict(args)
    except FAILURES as error:
        print(f"layerloom predict: {error}", file=sys.stderr)
        return 1


def _cmd_predict(args) -> int:
    if args.top_k < 1:
        raise PredictError(f"--top-k must be 1 or more, not {args.top_k}")
    predictor = Predictor(args.run_dir, args.device)
    tables = [source for source in args.inputs if source.lower().endswith(".csv")]
    if predictor.kind == "photo":
        return _colorize(predictor, args)
    if tables and len(tables) != len(args.inputs):
        raise PredictError("give either CSV files or other inputs, not both: a CSV comes back as a CSV")
    if predictor.kind == "table" and not tables:
        raise PredictError(f"'{args.inputs[0]}': this model reads CSV files with the columns "
                           f"{', '.join(predictor.data['info']['feature_names'])}")
    if tables:
        if len(tables) > 1:
            raise PredictError("give one CSV file at a time: each comes back as a CSV of its own")
        _emit(predictor.predict_csv(tables[0]), args.out, end="")
        return 0
    if predictor.kind == "sentence":
        for source in args.inputs:
            if Path(source).is_file():
                raise PredictError(f"'{source}' is a file: give sentences in quotes, or a CSV file with a text column")
    results = predictor.classify(args.inputs, args.top_k)
    _emit(json.dumps([r.to_dict() for r in results], indent=2) if args.json else format_scores(results), args.out)
    return 0


def _colorize(predictor: Predictor, args) -> int:
    """Each photo in colour, as a PNG: OUT.png for one photo, else OUT/NAME_color.png (default: this folder)."""
    single = len(args.inputs) == 1 and args.out and Path(args.out).suffix.lower() == ".png"
    folder = Path(args.out or ".")
    done = []
    for source in args.inputs:
        color = predictor.colorize(source)
        target = Path(args.out) if single else folder / f"{Path(source).stem}_color.png"
        image = io.BytesIO()
        Image.fromarray(color, "RGB").save(image, format="PNG")
        fileio.write_bytes(fileio.make_folder(target.parent) / target.name, image.getvalue())
        done.append({"source": source, "output": str(target), "size": list(color.shape[:2])})
    for item in done if not args.json else ():
        print(f"{item['source']} ({item['size'][0]}x{item['size'][1]}) -> {item['output']}")
    if args.json:
        print(json.dumps(done, indent=2))
    return 0


def format_scores(results: list[Scores]) -> str:
    """One line per input: the likeliest class, its probability, and the top k."""
    width = max(len(r.source) for r in results)
    name_width = max(5, *(len(r.classes[0]) for r in results))
    lines = [f"{'input':<{width}}  {'class':<{name_width}} {'prob':>6}   top {len(results[0].classes)}"]
    for r in results:
        top = ", ".join(f"{c} {p:.1%}" for c, p in zip(r.classes, r.probabilities))
        lines.append(f"{r.source:<{width}}  {r.classes[0]:<{name_width}} {r.probabilities[0]:>6.1%}   {top}")
        if r.note:
            lines.append(f"{'':<{width}}  ({r.note})")
    return "\n".join(lines)


def _emit(text: str, out: str | None, end: str = "\n") -> None:
    """Print `text`, or write it atomically to `out`."""
    if out is None:
        print(text, end=end)
        return
    path = Path(out)
    fileio.write_text(fileio.make_folder(path.parent) / path.name, text + end)
