"""Summaries: per node type, output shape, parameters, MACs and activation memory, plus totals."""
from __future__ import annotations

from .costs import TrainingMemory, batch_size_of, document_memory, format_bytes, infer_costs
from .document import Architecture
from .errors import DocumentError
from .layers.registry import shape_text
from .shapes import format_meta, meta_to_json
from .validate import check


def summarize(arch: Architecture, batch_size: int | None = None) -> dict:
    """The summary as JSON data: totals of parameters, MACs (one sample) and training memory at `batch_size` (the
    training section's by default), and one row per node. Raises DocumentError, or ValueError for a bad batch size."""
    batch_size = batch_size_of(arch, batch_size)
    problems, report = check(arch)
    if problems:
        raise DocumentError(problems)
    costs = infer_costs(arch, report)
    if costs.problems:
        raise DocumentError(costs.problems)
    memory = document_memory(arch, costs, batch_size)
    rows = []
    for node in arch.nodes:
        info, cost = report.nodes[node.id], costs.nodes[node.id]
        rows.append({
            "id": node.id, "type": node.type,
            "output_shape": meta_to_json(info.shape) if info.shape is not None else None,
            "params": info.params,
            "macs": cost.macs, "activation_bytes": cost.activation.at(batch_size),
        })
    return {
        "total_params": report.total_params, "trainable_params": report.trainable_params,
        "total_macs": costs.total_macs, "batch_size": batch_size, "optimizer": memory.optimizer,
        "param_bytes": memory.param_bytes, "grad_bytes": memory.grad_bytes,
        "optimizer_bytes": memory.optimizer_bytes, "activation_bytes": memory.activation_bytes,
        "training_bytes": memory.training_bytes, "nodes": rows,
    }


def format_summary(summary: dict) -> str:
    """The summary as an aligned text table, with the totals under it."""
    batch = summary["batch_size"]
    header = ("node", "type", "output shape", "params", "MACs", f"activations (batch {batch:,})")
    rows = [header] + [
        (r["id"], r["type"], _shape_text(r["output_shape"]), f"{r['params']:,}", f"{r['macs']:,}",
         format_bytes(r["activation_bytes"]) if r["activation_bytes"] else "-")
        for r in summary["nodes"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"total params: {summary['total_params']:,}  trainable: {summary['trainable_params']:,}")
    lines.append(f"MACs per sample: {summary['total_macs']:,}")
    lines.append(memory_of(summary).describe())
    return "\n".join(lines)


def memory_of(summary: dict) -> TrainingMemory:
    """The TrainingMemory a summary reports."""
    return TrainingMemory(*(summary[key] for key in ("batch_size", "optimizer", "param_bytes", "grad_bytes",
                                                     "optimizer_bytes", "activation_bytes")))


def _shape_text(shape) -> str:
    if shape is None:
        return "-"
    if shape and isinstance(shape[0], list):
        return "(h " + _shape_text(shape[0]) + ", c " + _shape_text(shape[1]) + ")"
    return shape_text(tuple(shape))


__all__ = ["format_meta", "format_summary", "memory_of", "summarize"]
