"""Summaries: per node type, output shape and parameters, plus totals."""
from __future__ import annotations

from .document import Architecture
from .errors import DocumentError
from .layers.registry import shape_text
from .shapes import format_meta, meta_to_json
from .validate import check


def summarize(arch: Architecture) -> dict:
    """The summary as JSON data: total_params, trainable_params and one row per node. Raises DocumentError."""
    problems, report = check(arch)
    if problems:
        raise DocumentError(problems)
    rows = []
    for node in arch.nodes:
        info = report.nodes[node.id]
        rows.append({
            "id": node.id, "type": node.type,
            "output_shape": meta_to_json(info.shape) if info.shape is not None else None,
            "params": info.params,
        })
    return {"total_params": report.total_params, "trainable_params": report.trainable_params, "nodes": rows}


def format_summary(summary: dict) -> str:
    """The summary as an aligned text table."""
    header = ("node", "type", "output shape", "params")
    rows = [header] + [
        (r["id"], r["type"], _shape_text(r["output_shape"]), f"{r['params']:,}") for r in summary["nodes"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"total params: {summary['total_params']:,}  trainable: {summary['trainable_params']:,}")
    return "\n".join(lines)


def _shape_text(shape) -> str:
    if shape is None:
        return "-"
    if shape and isinstance(shape[0], list):
        return "(h " + _shape_text(shape[0]) + ", c " + _shape_text(shape[1]) + ")"
    return shape_text(tuple(shape))


__all__ = ["format_meta", "format_summary", "summarize"]
