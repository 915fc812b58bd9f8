"""One contract for every registered layer type: a new layer is tested the moment it is registered.

Each type declares its samples (params and input shapes for a tiny graph input -> layer -> output) in its
LayerSpec; a registered type without any fails here.
"""
from __future__ import annotations

import pytest
import torch
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from layerloom import engine
from layerloom.engine import REGISTRY, TensorMeta
from layerloom.engine.layers import Sample
from layerloom.engine.layers.init import SCHEMES
from exported import assert_equivalent, load_class
from init_stats import assert_orthogonal, expected_std
from layerloom.engine.fximport import import_module


SAMPLES: dict[str, tuple[Sample, ...]] = {t: spec.samples for t, spec in REGISTRY.items()}


def samples_of(layer_type: str) -> tuple[Sample, ...]:
    if not SAMPLES[layer_type]:
        pytest.fail(f"layer type '{layer_type}' declares no contract-test samples: add them to its LayerSpec")
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


def block_graph(layer_type: str, sample: Sample) -> engine.Architecture:
    """The tiny graph with its layer inside a block: the block's inputs are the layer's inputs, its params the
    sample's params, each given to the layer as "$name"; the instance 'wrapped' gives them again."""
    flat = tiny_graph(layer_type, sample).to_dict()
    ports = [n for n in flat["nodes"] if n["type"] == "input"]
    inner = [{"id": n["id"], "type": "input"} for n in ports]
    inner += [{"id": "layer", "type": layer_type, "params": {name: f"${name}" for name in sample.params}},
              {"id": "y", "type": "output"}]
    edges = [e for e in flat["edges"] if e["target"] == "layer"] + [{"source": "layer", "target": "y"}]
    top_edges = [{"source": n["id"], "target": "wrapped", "target_port": "in" if len(ports) == 1 else n["id"]}
                 for n in ports] + [{"source": "wrapped", "target": "out"}]
    return engine.from_dict({
        "format_version": 2, "blocks": {"wrap": {"params": dict(sample.params), "nodes": inner, "edges": edges}},
        "nodes": ports + [{"id": "wrapped", "type": "wrap", "params": dict(sample.params)}, {"id": "out", "type": "output"}],
        "edges": top_edges,
    })


def real_inputs(arch: engine.Architecture, batch: int) -> list[torch.Tensor]:
    inputs = []
    for node in arch.nodes:
        if node.type == "input":
            shape = (batch, *node.params.shape)
            floating = node.params.dtype == "float32"
            inputs.append(torch.randn(shape).requires_grad_() if floating else torch.randint(0, 7, shape))
    return inputs


def _cases(types=REGISTRY):
    return [pytest.param(t, i, id=f"{t}-{i}") for t in sorted(types) for i in range(len(SAMPLES[t]) or 1)]


def test_every_registered_type_declares_samples():
    assert [t for t, samples in SAMPLES.items() if not samples] == []


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
    if not out.requires_grad:  # int64 ids in and no weights (flatten, one_hot): nothing to differentiate
        return
    (out * torch.randn(out.shape)).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    for x in inputs:  # a parameter node reads only its input's batch size
        assert not x.is_floating_point() or x.grad is not None or layer_type == "parameter"


@pytest.mark.parametrize("layer_type, index", _cases([t for t, spec in REGISTRY.items() if spec.outputs and spec.inputs]))
def test_a_layer_inside_a_block_is_the_same_layer(layer_type, index):
    """Substituted params, shapes inferred from the edge into the instance, the same weights from the same seed
    (keys `wrapped.layer.*`), the same output and gradients flowing through the instance."""
    sample = samples_of(layer_type)[index]
    flat, wrapped = tiny_graph(layer_type, sample), block_graph(layer_type, sample)
    problems, report = engine.check(wrapped)
    assert problems == []
    assert report.nodes["wrapped"].outputs == {"out": engine.check(flat)[1].nodes["layer"].shape}
    assert report.nodes["wrapped"].copies[0].arch.node("layer") == flat.node("layer")
    torch.manual_seed(0)
    alone = engine.compile_model(flat)
    torch.manual_seed(0)
    inside = engine.compile_model(wrapped)
    assert list(inside.state_dict()) == [f"wrapped.{key}" for key in alone.state_dict()]
    torch.testing.assert_close(list(inside.state_dict().values()), list(alone.state_dict().values()))
    inputs = real_inputs(flat, batch=3)
    torch.manual_seed(1)  # the same dropout masks
    out = inside(*inputs)
    torch.manual_seed(1)
    torch.testing.assert_close(out, alone(*inputs))
    ShapeProp(inside).propagate(*inputs)
    real = next(n.meta["tensor_meta"] for n in inside.graph.nodes if n.op == "output")
    assert _without_batch(real) == report.nodes["wrapped"].shape
    if out.requires_grad:
        (out * torch.randn(out.shape)).sum().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in inside.parameters())


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
    torch.manual_seed(0)
    metas = {port: [TensorMeta(tuple(s), getattr(torch, sample.dtype if port == "in" else "float32")) for s in shapes]
             for port, shapes in sample.inputs.items()}
    spec = REGISTRY[layer_type]
    torch_made = dict(spec.build(spec.params.model_validate(sample.params), metas).named_parameters())
    for name, param in plain.items():
        if "bias" in name:  # torch's own (zeros for attention's projections, which torch zeroes itself)
            assert param.abs().sum() > 0 or torch_made[name].abs().sum() == 0, name
            torch.testing.assert_close(param, torch_made[name])
            torch.testing.assert_close(scaled[name], param)
        elif param.dim() >= 2:
            torch.testing.assert_close(scaled[name], 3.0 * param)


LAYERS = [t for t, spec in REGISTRY.items() if spec.build is not None]


@pytest.mark.parametrize("layer_type, index", _cases(LAYERS))
def test_export_code_rebuilds_the_layer(layer_type, index):
    """The generated module has the compiled layer's state_dict (same seed, same weights) and output."""
    arch = tiny_graph(layer_type, samples_of(layer_type)[index])
    assert_equivalent(arch)
    compiled, exported = engine.compile_model(arch).get_submodule("layer"), load_class(arch)()
    if hasattr(exported, "layer"):  # built by a constructor, not an expression inlined in forward
        assert exported.layer.extra_repr() == compiled.extra_repr()


@pytest.mark.parametrize("layer_type, index", _cases(LAYERS))
def test_importing_the_exported_layer_gives_it_back(layer_type, index):
    sample = samples_of(layer_type)[index]
    arch = tiny_graph(layer_type, sample)
    shapes = [n.params.shape for n in arch.nodes if n.type == "input"]
    imported = import_module(load_class(arch)(), shapes).document
    layers = [n for n in imported.nodes if n.type not in ("input", "output")]
    assert [(n.type, n.params) for n in layers] == [(layer_type, arch.node("layer").params)]
