"""The JSON Schema of the document format, generated from the models and the layer registry."""
from __future__ import annotations

from .document import Architecture


def json_schema() -> dict:
    schema = Architecture.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "LayerLoom architecture"
    return schema
