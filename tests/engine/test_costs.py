"""The cost model against torch itself: MACs against FlopCounterMode on the real built modules, activation bytes
against what a real forward pass keeps for backward, weights, gradients and optimizer state against a real step."""
from __future__ import annotations

import pytest
import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils.flop_counter import FlopCounterMode

from layerloom import engine
from layerloom.engine import REGISTRY
from layerloom.engine.costs import infer_costs, training_memory
from layerloom.engine.templates import template_path
from layerloom.engine.config import OptimizerConfig
from layerloom.engine.train.optimizers import make_optimizer
import published_models
from test_layers_contract import _cases, real_inputs, samples_of, tiny_graph

BATCH = 4


def costs_of(arch):
    problems, shapes = engine.check(arch)
    assert problems == []
    costs = infer_costs(arch, shapes)
    assert costs.problems == []
    return costs


def real_forward(arch, batch: int, grad_inputs: bool = False) -> tuple[int, int]:
    """(FLOPs, bytes of the distinct storages autograd keeps, weights left out) of the compiled model's forward in
    training mode. torch's portable LSTM, as the cost model counts it (oneDNN's CPU kernel is opaque to the counter)."""
    torch.manual_seed(0)
    model = engine.compile_model(arch).train()
    inputs = [x.detach().requires_grad_(grad_inputs and x.is_floating_point()) for x in real_inputs(arch, batch)]
    weights = {StorageWeakRef(t.untyped_storage()) for t in [*model.parameters(), *model.buffers()]}
    kept = {}

    def pack(tensor):
        ref = StorageWeakRef(tensor.untyped_storage())
        if ref not in weights:
            kept[ref] = tensor.untyped_storage().nbytes()
        return tensor
    mkldnn = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(*inputs)
    finally:
        torch.backends.mkldnn.enabled = mkldnn
    return counter.get_total_flops(), sum(kept.values())


def with_trainable_inputs(arch):
    """`arch` with a shape-keeping linear after every float input, so that gradients flow into the layer's inputs."""
    data = arch.to_dict()
    for node in arch.nodes:
        if node.type == "input" and node.params.dtype == "float32":
            gate = f"{node.id}_gate"
            data["nodes"].append({"id": gate, "type": "linear", "params": {"out_features": node.params.shape[-1]}})
            for edge in data["edges"]:
                if edge["source"] == node.id:
                    edge["source"] = gate
            data["edges"].append({"source": node.id, "target": gate})
    return engine.from_dict(data)


@pytest.mark.parametrize("layer_type, index", _cases(t for t in REGISTRY if t not in ("input", "output")))
@pytest.mark.parametrize("gradients", [False, True], ids=["data-in", "grad-in"])
def test_macs_and_activations_equal_torch_on_the_real_module(layer_type, index, gradients):
    arch = tiny_graph(layer_type, samples_of(layer_type)[index])
    if gradients:
        arch = with_trainable_inputs(arch)
    costs = costs_of(arch)
    flops, _ = real_forward(arch, batch=1 if layer_type != "batchnorm" else 2)
    assert costs.total_macs == flops // 2 // (2 if layer_type == "batchnorm" else 1)
    _, kept = real_forward(arch, BATCH)
    assert costs.activation.at(BATCH) == kept
    assert costs.nodes["layer"].macs >= 0


@pytest.mark.parametrize("layer_type", ["rnn", "lstm", "gru"])
def test_recurrent_macs_grow_linearly_with_the_sequence(layer_type):
    def arch(steps: int):
        return engine.from_dict({"format_version": engine.FORMAT_VERSION, "nodes": [
            {"id": "x", "type": "input", "params": {"shape": [steps, 3]}},
            {"id": "gate", "type": "linear", "params": {"out_features": 3}},
            {"id": "layer", "type": layer_type, "params": {"hidden_size": 8, "num_layers": 2, "bidirectional": True}},
            {"id": "y", "type": "output"}],
            "edges": [{"source": "x", "target": "gate"}, {"source": "gate", "target": "layer"},
                      {"source": "layer", "target": "y"}]})
    one = costs_of(arch(1)).nodes["layer"].macs
    assert one > 0
    for steps in (2, 3, 7, 40):
        costs = costs_of(arch(steps))
        assert costs.nodes["layer"].macs == steps * one
        flops, kept = real_forward(arch(steps), BATCH)
        assert costs.total_macs * BATCH == flops // 2
        assert costs.activation.at(BATCH) == kept


def test_a_template_keeps_what_a_real_forward_pass_keeps_each_tensor_once():
    arch = engine.load(template_path("cnn_digits"))
    costs = costs_of(arch)
    flops, kept = real_forward(arch, 8)
    assert costs.total_macs * 8 == flops // 2
    assert costs.activation.at(8) == kept
    # relu1's output is kept by relu1 (its result) and by pool1 (its input): stored once, given to relu1
    assert costs.nodes["relu1"].activation.at(8) == 8 * 32 * 8 * 8 * 4


@pytest.mark.parametrize("view", [("flatten", {}), ("reshape", {"shape": [12]}), ("repeat", {"steps": 5})])
def test_a_view_and_the_tensor_it_views_are_kept_once_or_copied_as_torch_does(view):
    layer_type, params = view
    shape = [3] if layer_type == "repeat" else [4, 3]
    arch = engine.from_dict({"format_version": engine.FORMAT_VERSION, "nodes": [
        {"id": "x", "type": "input", "params": {"shape": shape}},
        {"id": "fc1", "type": "linear", "params": {"out_features": 3}},
        {"id": "act", "type": "relu"},                       # keeps its output
        {"id": "view", "type": layer_type, "params": params},
        {"id": "fc2", "type": "linear", "params": {"out_features": 2}},   # keeps its input: the same storage
        {"id": "y", "type": "output"}],
        "edges": [{"source": a, "target": b} for a, b in
                  [("x", "fc1"), ("fc1", "act"), ("act", "view"), ("view", "fc2"), ("fc2", "y")]]})
    costs = costs_of(arch)
    assert costs.activation.at(BATCH) == real_forward(arch, BATCH)[1]
    assert costs.nodes["view"].activation.at(BATCH) == 0
    if layer_type == "repeat":   # an expanded view: the linear layer reshapes it into a copy, which it keeps
        assert costs.nodes["act"].outputs[0].keepers == ("act",)
        assert costs.nodes["fc2"].internal.at(BATCH) == BATCH * 5 * 3 * 4
    else:
        assert costs.nodes["act"].outputs[0].keepers == ("act", "fc2")


@pytest.mark.parametrize("optimizer", [
    OptimizerConfig(name="adam"), OptimizerConfig(name="sgd"), OptimizerConfig(name="sgd", momentum=0.9),
    OptimizerConfig(name="rmsprop", momentum=0.5), OptimizerConfig(name="adamw"),
])
def test_weights_gradients_and_optimizer_state_equal_a_real_step(optimizer):
    arch = engine.load(template_path("deep_batchnorm"))
    memory = training_memory(costs_of(arch), 16, optimizer)
    model = engine.compile_model(arch).train()
    step = make_optimizer(model.parameters(), optimizer)
    model(*real_inputs(arch, 16)).square().mean().backward()
    step.step()
    assert memory.param_bytes == sum(t.nbytes for t in [*model.parameters(), *model.buffers()])
    assert memory.grad_bytes == sum(p.grad.nbytes for p in model.parameters())
    state = [t for s in step.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    assert memory.optimizer_bytes == sum(t.nbytes for t in state)
    assert memory.training_bytes == (memory.param_bytes + memory.grad_bytes + memory.optimizer_bytes
                                     + memory.activation_bytes)


def test_adam_keeps_two_buffers_per_parameter_and_plain_sgd_none():
    costs = costs_of(engine.load(template_path("mlp_spirals")))
    adam, sgd = (training_memory(costs, 8, OptimizerConfig(name=name)) for name in ("adam", "sgd"))
    assert adam.optimizer_bytes >= 2 * adam.grad_bytes and sgd.optimizer_bytes == 0
    assert adam.describe().startswith("training memory at batch 8: ") and "Adam state" in adam.describe()


def test_summarize_reports_costs_at_the_batch_size():
    arch = engine.load(template_path("cnn_digits"))
    summary = engine.summarize(arch, batch_size=10)
    assert summary["batch_size"] == 10
    assert summary["total_macs"] == sum(row["macs"] for row in summary["nodes"]) == costs_of(arch).total_macs
    assert summary["activation_bytes"] == sum(row["activation_bytes"] for row in summary["nodes"])
    assert summary["training_bytes"] == sum(summary[k] for k in
                                            ("param_bytes", "grad_bytes", "optimizer_bytes", "activation_bytes"))
    assert engine.summarize(arch)["batch_size"] == arch.training.batch_size
    for bad in (0, -1, 10**7, 2.5, True):
        with pytest.raises(ValueError, match="a batch holds 1 to 1,000,000 samples"):
            engine.summarize(arch, batch_size=bad)


@pytest.mark.parametrize("build, params, macs, tolerance", [
    (published_models.lenet5, 61_706, 416_520, 0),          # LeCun et al. 1998 on 32x32 input
    (published_models.resnet18, 11_689_512, 1.81e9, 0.01),  # torchvision's model docs: 1.81 "GFLOPS" (MACs)
    (published_models.vgg16, 138_357_544, 15.47e9, 0.01),   # ... and 15.47 for VGG-16
], ids=["lenet5", "resnet18", "vgg16"])
def test_published_figures_are_reproduced(build, params, macs, tolerance):
    arch = build()
    costs = costs_of(arch)
    assert engine.check(arch)[1].total_params == params
    assert costs.total_macs == pytest.approx(macs, rel=tolerance, abs=0)
