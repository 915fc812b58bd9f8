"""Summaries: per node type, output shape, parameters, MACs and activation memory, plus totals; block instances
with what they hold."""
from __future__ import annotations

from .costs import CostReport, TrainingMemory, batch_size_of, document_memory, format_bytes, infer_costs
from .document import Architecture, is_instance
from .errors import DocumentError
from .layers.registry import shape_text
from .shapes import NodeInfo, ShapeReport, format_meta, meta_to_json
from .validate import check


def summarize(arch: Architecture, batch_size: int | None = None) -> dict:
    """The summary as JSON data: totals of parameters, MACs (one sample) and training memory at `batch_size` (the
    training section's by default), and one row per node; an instance's row has `children`, the rows of its copies
    when repeated, else of the layers and instances inside it (dotted ids). Raises DocumentError, or ValueError for
    a bad batch size."""
    batch_size = batch_size_of(arch, batch_size)
    problems, report = check(arch)
    if problems:
        raise DocumentError(problems)
    costs = infer_costs(arch, report)
    if costs.problems:
        raise DocumentError(costs.problems)
    memory = document_memory(arch, costs, batch_size)
    return {
        "total_params": report.total_params, "trainable_params": report.trainable_params,
        "total_macs": costs.total_macs, "batch_size": batch_size, "optimizer": memory.optimizer,
        "param_bytes": memory.param_bytes, "grad_bytes": memory.grad_bytes,
        "optimizer_bytes": memory.optimizer_bytes, "activation_bytes": memory.activation_bytes,
        "training_bytes": memory.training_bytes, "nodes": _Rows(costs, batch_size).of(report, ""),
    }


class _Rows:
    def __init__(self, costs: CostReport, batch_size: int):
        self.costs, self.batch_size = costs, batch_size

    def of(self, report: ShapeReport, prefix: str, ports: bool = True) -> list[dict]:
        return [self.row(prefix + node.id, node, report.nodes[node.id]) for node in report.arch.nodes
                if ports or node.type not in ("input", "output")]

    def row(self, path: str, node, info: NodeInfo) -> dict:
        row = self.base(path, node.type, info.shape, info.params)
        if not is_instance(node):
            return row
        if node.repeat == 1:
            return row | {"children": self.of(info.copies[0], path + ".", ports=False)}
        copies = [self.base(f"{path}.{index}", node.type, copy.outputs.get("out"), copy.total_params)
                  | {"children": self.of(copy, f"{path}.{index}.", ports=False)} for index, copy in enumerate(info.copies)]
        return row | {"repeat": node.repeat, "children": copies}

    def base(self, path: str, node_type: str, shape, params: int) -> dict:
        cost = self.costs.of(path)
        return {"id": path, "type": node_type, "output_shape": meta_to_json(shape) if shape is not None else None,
                "params": params, "macs": cost.macs, "activation_bytes": cost.activation.at(self.batch_size)}


def format_summary(summary: dict, expand: bool = False) -> str:
    """The summary as an aligned text table, with the totals under it; `expand` lists what each instance holds,
    indented below it."""
    batch = summary["batch_size"]
    header = ("node", "type", "output shape", "params", "MACs", f"activations (batch {batch:,})")
    rows = [header] + [
        ("  " * depth + r["id"], _type_text(r), _shape_text(r["output_shape"]), f"{r['params']:,}", f"{r['macs']:,}",
         format_bytes(r["activation_bytes"]) if r["activation_bytes"] else "-")
        for r, depth in _flat(summary["nodes"], expand, 0)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"total params: {summary['total_params']:,}  trainable: {summary['trainable_params']:,}")
    lines.append(f"MACs per sample: {summary['total_macs']:,}")
    lines.append(memory_of(summary).describe())
    return "\n".join(lines)


def _flat(rows: list[dict], expand: bool, depth: int):
    for row in rows:
        yield row, depth
        if expand and "children" in row:
            yield from _flat(row["children"], expand, depth + 1)


def _type_text(row: dict) -> str:
    if "children" not in row:
        return row["type"]
    return f"{row['type']} (block)" + (f" x{row['repeat']}" if "repeat" in row else "")


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
