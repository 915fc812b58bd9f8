"""How much real model code `layerloom import` takes: torchvision's 15 common classification models and the 16
classic networks of d2l.ai (bench/classic_networks.py). Each is imported (which checks the document against the
original in training and eval mode) and its row written to docs/import.md.

torchvision is no dependency of LayerLoom: its Linux wheel is built against CUDA and its compiled operators fail
to register on CPU-only torch. Its model definitions are plain Python, though: in a scratch environment
(`pip install --no-deps torchvision==<the version made for your torch>`), this script replaces the two modules
that register kernels for those operators with empty ones before importing torchvision, which no classification
model needs. Run from the checkout: `OMP_NUM_THREADS=1 python bench/import_coverage.py [--only NAME...]`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classic_networks import NETWORKS  # noqa: E402
from report import write_section  # noqa: E402

from layerloom.engine.fximport import ImportFailure, import_module, trace  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "import.md"
TORCHVISION = ["alexnet", "vgg11", "vgg16_bn", "resnet18", "resnet50", "squeezenet1_0", "densenet121",
               "mobilenet_v2", "mobilenet_v3_small", "googlenet", "shufflenet_v2_x0_5", "efficientnet_b0",
               "regnet_y_400mf", "convnext_tiny", "vit_b_16"]


def torchvision_models():
    """torchvision.models with its compiled-operator registrations left out, or None with why."""
    for name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
        sys.modules.setdefault(name, types.ModuleType(name))
    try:
        import torchvision
        from torchvision import models
    except ImportError as error:
        return None, str(error)
    return models, f"torchvision {torchvision.__version__}"


def measure(name: str, build, shape, dtype: str = "float32") -> dict:
    """Build the model (a dry run gives lazy layers their sizes), import it and describe the outcome."""
    torch.manual_seed(0)
    module = build()
    with torch.no_grad():
        example = torch.zeros((2, *shape), dtype=torch.int64) if dtype == "int64" else torch.zeros((2, *shape))
        module.eval()(example)
    row = {"model": name}
    try:
        row["calls"] = sum(n.op.startswith("call") for n in trace(module, training=False).graph.nodes)
    except ImportFailure:
        row["calls"] = "-"
    started = time.perf_counter()
    try:
        imported = import_module(module, [shape])
    except ImportFailure as error:
        row.update(nodes="-", imported="no", difference="-", blockers=_blockers(error.lines))
    else:
        row.update(nodes=len(imported.document.nodes), imported="yes", blockers="",
                   difference=f"{imported.difference['eval']:.1g} / {imported.difference['train']:.1g}")
    row["seconds"] = f"{time.perf_counter() - started:.1f}"
    print(" | ".join(str(v) for v in row.values()), flush=True)
    return row


def _blockers(lines: list[str]) -> str:
    """'12 x: no LayerLoom layer for this module (torch.nn.MultiheadAttention)': the distinct reasons, counted."""
    reasons: dict[str, int] = {}
    for line in lines:
        where, _, why = line.partition(": ")
        what = where[where.find("(") + 1:where.find(")")] if "(" in where else where
        key = f"{what.split(', ')[-1]}: {why}"
        reasons[key] = reasons.get(key, 0) + 1
    return "; ".join(f"{count} x {reason}" if count > 1 else reason for reason, count in reasons.items())


def table(title: str, intro: str, rows: list[dict]) -> str:
    imported = sum(r["imported"] == "yes" for r in rows)
    lines = [f"## {title}", "", intro, "", f"Imported: **{imported} of {len(rows)}**.", "",
             "| model | fx calls | document nodes | imported | max difference (eval / train) | seconds | blocked by |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['calls']} | {r['nodes']} | {r['imported']} | {r['difference']} | {r['seconds']} "
              f"| {r['blockers'].replace('|', '/')} |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="measure only these models (names as in the tables)")
    args = parser.parse_args()
    wanted = (lambda name: name in args.only) if args.only else (lambda name: True)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    load = os.getloadavg()[0]
    machine = (f"torch {torch.__version__}, {os.cpu_count()} cores, load average {load:.1f} at the start; inputs "
               "as the model was made for, the check's batch 3 (a batch of 2 finds the sizes)")
    models, version = torchvision_models()
    if models is None:
        print(f"torchvision is not available ({version}): its table is left as it was")
    else:
        rows = []
        for name in filter(wanted, TORCHVISION):
            kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
            rows.append(measure(name, lambda: models.get_model(name, **kwargs), (3, 224, 224)))
        default = measure("googlenet()", lambda: models.get_model("googlenet", init_weights=True), (3, 224, 224))
        note = (f"GoogLeNet is built with aux_logits=False, as for inference; as googlenet() builds it, with its "
                f"auxiliary classifiers, it is {'imported' if default['imported'] == 'yes' else 'refused'}: "
                f"{default['blockers'] or 'exact'}.")
        if not args.only:
            write_section(table("Coverage on torchvision's classification models",
                                f"Measured with {version}, {machine}. {note}", rows), DOC)
    rows = [measure(name, *spec) for name, spec in NETWORKS.items() if wanted(name)]
    if not args.only:
        write_section(table("Coverage on d2l.ai's classic networks", f"Dive into Deep Learning's code for each, "
                            f"section in brackets (bench/classic_networks.py); {machine}.", rows), DOC)


if __name__ == "__main__":
    main()
