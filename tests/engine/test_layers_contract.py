"""One contract for every registered layer type: a new layer is tested the moment it is registered.

Each type needs an entry in SAMPLES (params and input shapes for a tiny graph input -> layer -> output);
a registered type without one fails here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from layerloom import engine
from layerloom.engine import REGISTRY, TensorMeta
from layerloom.engine.layers.init import SCHEMES
from init_stats import assert_orthogonal, expected_std


@dataclass(frozen=True)
class Sample:
    """Params for the layer, and the sample shapes arriving at each of its input ports."""

    inputs: dict[str, list[tuple[int, ...]]] = field(default_factory=lambda: {"in": [(6,)]})
    params: dict = field(default_factory=dict)
    dtype: str = "float32"


SEQUENCE = {"in": [(5, 3)]}
SAMPLES: dict[str, list[Sample]] = {
    "input": [Sample({}, {"shape": [3, 4]}), Sample({}, {"shape": [7], "dtype": "int64"})],
    "output": [Sample()],
    "linear": [Sample(), Sample({"in": [(4, 6)]}, {"out_features": 3, "bias": False})],
    "embedding": [Sample({"in": [(7,)]}, {"num_embeddings": 20, "padding_idx": 0}, dtype="int64")],
    "dropout": [Sample(params={"p": 0.2})],
    "conv1d": [Sample({"in": [(3, 10)]}), Sample({"in": [(4, 9)]}, {"padding": "same", "dilation": 2, "groups": 2})],
    "conv2d": [Sample({"in": [(3, 8, 8)]}), Sample({"in": [(2, 9, 7)]}, {"kernel_size": [3, 1], "stride": 2, "padding": 1})],
    "conv_transpose2d": [Sample({"in": [(3, 4, 4)]}), Sample({"in": [(2, 5, 5)]}, {"kernel_size": 3, "output_padding": 1})],
    "maxpool1d": [Sample({"in": [(3, 8)]}), Sample({"in": [(3, 9)]}, {"kernel_size": 3, "stride": 2, "padding": 1})],
    "maxpool2d": [Sample({"in": [(3, 8, 8)]}), Sample({"in": [(3, 9, 6)]}, {"kernel_size": [3, 2], "stride": 1})],
    "avgpool1d": [Sample({"in": [(3, 8)]})],
    "avgpool2d": [Sample({"in": [(3, 8, 8)]}, {"kernel_size": 3, "padding": 1})],
    "adaptive_avgpool1d": [Sample({"in": [(3, 8)]}, {"output_size": 3})],
    "adaptive_avgpool2d": [Sample({"in": [(3, 8, 8)]}), Sample({"in": [(3, 7, 5)]}, {"output_size": [2, 3]})],
    "flatten": [Sample({"in": [(3, 4, 4)]}), Sample({"in": [(3, 4, 4)]}, {"start_dim": 2})],
    "reshape": [Sample({"in": [(12,)]}, {"shape": [3, -1]}), Sample({"in": [(2, 6)]}, {"shape": [12]})],
    "batchnorm": [Sample(), Sample({"in": [(3, 8)]}), Sample({"in": [(3, 4, 4)]})],
    "layernorm": [Sample({"in": [(5, 6)]}), Sample({"in": [(3, 4, 4)]}, {"normalized_dims": 2})],
    "relu": [Sample()],
    "leaky_relu": [Sample(params={"negative_slope": 0.1})],
    "elu": [Sample()],
    "gelu": [Sample(), Sample(params={"approximate": "tanh"})],
    "sigmoid": [Sample()],
    "tanh": [Sample()],
    "softmax": [Sample({"in": [(4, 6)]}), Sample({"in": [(4, 6)]}, {"dim": 1})],
    "log_softmax": [Sample({"in": [(4, 6)]})],
    "rnn": [Sample(SEQUENCE, {"hidden_size": 8, "nonlinearity": "relu"}),
            Sample({"in": [(5, 3)], "state": [(2, 8)]}, {"hidden_size": 8, "num_layers": 2})],
    "lstm": [Sample(SEQUENCE, {"hidden_size": 8, "bidirectional": True}),
             Sample(SEQUENCE, {"hidden_size": 8, "num_layers": 2, "dropout": 0.1, "return_sequences": False})],
    "gru": [Sample(SEQUENCE, {"hidden_size": 8, "bidirectional": True, "return_sequences": False}),
            Sample({"in": [(5, 3)], "state": [(1, 8)]}, {"hidden_size": 8})],
    "add": [Sample({"in": [(6,), (6,)]}), Sample({"in": [(2, 3), (2, 3), (2, 3)]})],
    "concat": [Sample({"in": [(6,), (4,)]}), Sample({"in": [(2, 3, 3), (5, 3, 3)]}, {"dim": 1})],
    "upsample": [Sample({"in": [(3, 4, 4)]}), Sample({"in": [(3, 5)]}, {"scale_factor": 1.5, "mode": "linear"})],
    "repeat": [Sample(params={"steps": 4})],
    "last_step": [Sample(SEQUENCE)],
}


def samples_of(layer_type: str) -> list[Sample]:
    if layer_type not in SAMPLES:
        pytest.fail(f"layer type '{layer_type}' has no entry in SAMPLES: add sample input shapes for it")
    return SAMPLES[layer_type]


def tiny_graph(layer_type: str, sample: Sample) -> engine.Architecture:
    """Inputs feeding the layer's ports, the layer (id 'layer'), and an output fed by its 'out' port."""
    nodes = [{"id": "layer", "type": layer_type, "params": sample.params}]
    edges = []
    for port, shapes in sample.inputs.items():
        for index, shape in enumerate(shapes):
            dtype = sample.dtype if port == "in" else "float32"
            nodes.append({"id": f"{port}{index}", "type": "input", "params": {"shape": list(shape), "dtype": dtype}})
            edges.append({"source": f"{port}{index}", "target": "layer", "target_port": port})
    if REGISTRY[layer_type].outputs:
        nodes.append({"id": "y", "type": "output"})
        edges.append({"source": "layer", "target": "y"})
    return engine.from_dict({"format_version": 1, "nodes": nodes, "edges": edges})


def real_inputs(arch: engine.Architecture, batch: int) -> list[torch.Tensor]:
    inputs = []
    for node in arch.nodes:
        if node.type == "input":
            shape = (batch, *node.params.shape)
            floating = node.params.dtype == "float32"
            inputs.append(torch.randn(shape).requires_grad_() if floating else torch.randint(0, 7, shape))
    return inputs


def _cases(types=REGISTRY):
    return [pytest.param(t, i, id=f"{t}-{i}") for t in sorted(types) for i in range(len(SAMPLES.get(t, [None])))]


def test_every_registered_type_has_samples_and_no_sample_is_stale():
    assert sorted(SAMPLES) == sorted(REGISTRY)


@pytest.mark.parametrize("layer_type, index", _cases())
def test_params_round_trip_through_json(layer_type, index):
    sample = samples_of(layer_type)[index]
    spec = REGISTRY[layer_type]
    params = spec.params.model_validate(sample.params)
    assert spec.params.model_validate_json(params.model_dump_json()) == params
    arch = tiny_graph(layer_type, sample)
    assert engine.loads(engine.dumps(arch)) == arch
    saved = next(n for n in arch.to_dict()["nodes"] if n["id"] == "layer")
    assert saved.get("params", {}) == params.model_dump(mode="json", exclude_defaults=True)


@pytest.mark.parametrize("layer_type, index", _cases())
def test_inferred_shapes_equal_real_torch_shapes(layer_type, index):
    arch = tiny_graph(layer_type, samples_of(layer_type)[index])
    problems, report = engine.check(arch)
    assert problems == []
    model = engine.compile_model(arch)
    ShapeProp(model).propagate(*real_inputs(arch, batch=3))
    real = next(n.meta["tensor_meta"] for n in model.graph.nodes if n.target == "layer" or n.op == "output")
    inferred = report.nodes["layer"].outputs
    real_by_port = dict(zip(REGISTRY[layer_type].outputs, real)) if len(inferred) > 1 else {"out": real}
    assert {port: _without_batch(meta) for port, meta in real_by_port.items()} == inferred


def _without_batch(meta):
    if not isinstance(meta, TensorMetadata):
        return tuple(_without_batch(m) for m in meta)
    assert meta.shape[0] == 3, "the batch dimension must come first"
    return TensorMeta(tuple(meta.shape[1:]), meta.dtype)


@pytest.mark.parametrize("layer_type, index", _cases())
def test_compiled_layer_backpropagates(layer_type, index):
    arch = tiny_graph(layer_type, samples_of(layer_type)[index])
    model = engine.compile_model(arch)
    inputs = real_inputs(arch, batch=3)
    out = model(*inputs)
    if not out.is_floating_point():  # int64 ids passed straight through: nothing to differentiate
        return
    (out * torch.randn(out.shape)).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    for x in inputs:
        assert not x.is_floating_point() or x.grad is not None


INITIALIZABLE = sorted(t for t, spec in REGISTRY.items() if spec.initializable)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("layer_type", INITIALIZABLE)
def test_init_scheme_sets_weights_and_zeroes_biases(layer_type, scheme):
    sample = samples_of(layer_type)[0]
    torch.manual_seed(0)
    arch = tiny_graph(layer_type, Sample(sample.inputs, {**sample.params, "init": scheme}, sample.dtype))
    layer = engine.compile_model(arch).get_submodule("layer")
    padding_idx = getattr(layer, "padding_idx", None)
    weights = {n: p.detach() for n, p in layer.named_parameters() if p.dim() >= 2}
    assert weights
    if padding_idx is not None:
        assert (weights["weight"][padding_idx] == 0).all()
        weights["weight"] = torch.cat([weights["weight"][:padding_idx], weights["weight"][padding_idx + 1:]])
    for name, weight in weights.items():
        if scheme == "orthogonal":
            assert_orthogonal(weight)
        else:
            assert weight.std().item() == pytest.approx(expected_std(scheme, weight), rel=0.25), name
    for name, param in layer.named_parameters():
        if "bias" in name:
            assert (param == 0).all(), name




@pytest.mark.parametrize("layer_type", INITIALIZABLE)
def test_default_init_keeps_torch_biases_and_gain_scales_weights(layer_type):
    sample = samples_of(layer_type)[0]
    modules = []
    for gain in (1.0, 3.0):
        torch.manual_seed(0)
        arch = tiny_graph(layer_type, Sample(sample.inputs, {**sample.params, "init_gain": gain}, sample.dtype))
        modules.append(engine.compile_model(arch).get_submodule("layer"))
    plain, scaled = (dict(m.named_parameters()) for m in modules)
    for name, param in plain.items():
        if "bias" in name:
            assert param.abs().sum() > 0, name
            torch.testing.assert_close(scaled[name], param)
        elif param.dim() >= 2:
            torch.testing.assert_close(scaled[name], 3.0 * param)
