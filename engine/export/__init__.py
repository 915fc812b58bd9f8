"""Exporting a document's model: readable Python source, TorchScript or ONNX.

    engine.export.export(arch, "onnx", "net.onnx", weights="runs/net-.../")
    print(engine.export.python_source(arch))
"""
from .formats import FORMATS, ExportError, Exported, export, trained_model
from .python_source import python_source

__all__ = ["FORMATS", "ExportError", "Exported", "export", "python_source", "trained_model"]
