"""Property tests of blocks: random nestings and repeats compile with the shapes inference gave every inner layer;
random damage to such documents only ever gives DocumentError, each problem naming where it is."""
from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exported import assert_equivalent
from layerloom import engine
from layerloom.engine.compiler import layers
from layerloom.engine.document import is_instance
from test_properties import damage, json_values, only_document_errors, plausible

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
width = st.integers(1, 6)
LAYERS = {  # vector layers: (type, params), "$w" standing for the block's param
    "linear": {"out_features": "$w"}, "relu": {}, "tanh": {}, "dropout": {"p": 0.1}, "layernorm": {}, "batchnorm": {},
}


@st.composite
def block_documents(draw) -> dict:
    """One to three blocks, each a chain of layers, maybe an instance of an earlier block (repeated), and maybe a
    skip `add` or `concat` from its input; the document chains instances of them between an input and an output."""
    blocks: dict[str, dict] = {}
    for index in range(draw(st.integers(1, 3))):
        nodes = [{"id": "x", "type": "input"}]
        for position in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from([*LAYERS, *blocks]))
            node = {"id": f"n{position}", "type": kind}
            if kind in LAYERS and LAYERS[kind]:
                node["params"] = dict(LAYERS[kind])
            elif kind in blocks:
                node["params"] = {"w": draw(st.sampled_from(["$w", 2, 3]))}
                node["repeat"] = draw(st.integers(1, 3))
            nodes.append(node)
        skip = draw(st.sampled_from([None, "add", "concat"]))
        if skip:
            nodes.append({"id": "join", "type": skip})
        nodes.append({"id": "y", "type": "output"})
        ids = [n["id"] for n in nodes]
        edges = [{"source": a, "target": b} for a, b in zip(ids, ids[1:])]
        if skip:
            edges.append({"source": "x", "target": "join"})
        blocks[f"b{index}"] = {"params": {"w": draw(width)}, "nodes": nodes, "edges": edges}
    top = [{"id": "x", "type": "input", "params": {"shape": [draw(width)]}}]
    for position in range(draw(st.integers(1, 3))):
        top.append({"id": f"s{position}", "type": draw(st.sampled_from(list(blocks))),
                    "params": {"w": draw(width)}, "repeat": draw(st.integers(1, 3))})
    top.append({"id": "y", "type": "output"})
    ids = [n["id"] for n in top]
    return {"format_version": 2, "blocks": blocks, "nodes": top,
            "edges": [{"source": a, "target": b} for a, b in zip(ids, ids[1:])]}


@SETTINGS
@given(block_documents())
def test_random_nestings_and_repeats_compile_with_the_inferred_shapes(document):
    arch = engine.from_dict(document)
    problems, report = engine.check(arch)
    if problems:  # a skip joining different sizes: told at the join, by its path
        assert all(p.node is not None and p.block is None for p in problems), problems
        return
    model = engine.compile_model(arch)
    real = {}
    for path, module in layers(model):
        module.register_forward_hook(lambda _m, _i, out, path=path: real.__setitem__(path, tuple(out.shape[1:])))
    model.eval()(torch.randn(2, *arch.node("x").params.shape))
    inferred = {path: info.shape.shape for path, node, info in report.paths()
                if not is_instance(node) and node.type not in ("input", "output") and "." in path}
    assert real == inferred
    assert sum(p.numel() for p in model.parameters()) == report.total_params
    assert_equivalent(arch)  # the exported source: one class per block (or per realization) builds the same model


@st.composite
def damaged_block_documents(draw) -> dict:
    """A random block document with one to four random edits, "$name"s and block names among the values."""
    return damage(draw, draw(block_documents()), plausible | json_values | st.sampled_from(["$w", "$v", "b0", "b1", 0, 10**9]),
                  st.sampled_from(["params", "repeat", "blocks", "w", "type"]))


@SETTINGS
@given(damaged_block_documents())
def test_damaged_block_documents_only_raise_document_error(document):
    only_document_errors(document)
