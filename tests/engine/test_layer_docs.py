"""docs/layers.md is generated from the registry and kept current."""
from pathlib import Path

from layerloom.engine.layer_docs import render_layer_docs
from layerloom.engine.layers import REGISTRY

DOC = Path(__file__).resolve().parents[2] / "docs" / "layers.md"


def test_layer_reference_is_up_to_date():
    assert DOC.read_text() == render_layer_docs(), "regenerate with: python -m layerloom.engine.layer_docs > docs/layers.md"


def test_every_layer_type_and_param_is_documented():
    text = render_layer_docs()
    for spec in REGISTRY.values():
        assert f"### `{spec.type}`" in text
        for name in spec.params.model_fields:
            assert f"| `{name}` |" in text
