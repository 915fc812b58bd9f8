"""The probe: one forward and backward pass at initialization, to see the gradient flow before any training.

It uses a batch of the document's dataset and its loss; a document without a training section gets random
inputs of the input shapes and, having no target, backpropagates half the mean squared output instead.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..compiler import layers
from ..data.base import DEFAULT_MAX_BYTES
from ..document import Architecture
from .advice import ModelFacts
from .attention import AttentionProbe
from .positions import layer_paths
from .diagnosis import Diagnoser, Evidence, NodeHealth, node_health
from .events import DiagnosisEvent, EndEvent, ParameterCounts, StartEvent, StepEvent
from .health import Capture
from .losses import Objective
from .monitor import GradientMonitor
from .recorder import quiet
from .setup import TrainingError, build_model, load_data, random_inputs, resolve_device, split

RANDOM_BATCH = 64


@dataclass
class ProbeResult:
    """The probe's step event (step 0), the diagnoses it gave and every layer's health."""

    step: StepEvent
    diagnoses: list[DiagnosisEvent]
    health: dict[str, NodeHealth]


def _batch(arch: Architecture, config, seed: int, device: torch.device, batch_size: int | None, data_limit: int):
    """(inputs, loss function) for the probe's batch."""
    if config is None:
        inputs = random_inputs(arch, batch_size or RANDOM_BATCH, torch.Generator().manual_seed(seed))
        return tuple(x.to(device) for x in inputs), lambda output: 0.5 * output.float().square().mean()
    dataset = load_data(arch, config, data_limit)
    index = split(len(dataset), config.val_fraction, seed).train[: batch_size or config.batch_size]
    inputs = tuple(x[index].to(device) for x in dataset.inputs)
    return inputs, (dataset, dataset.target[index].to(device))


def probe(arch: Architecture, on_event=None, *, device: str | None = None, seed: int | None = None,
          batch_size: int | None = None, data_limit: int = DEFAULT_MAX_BYTES) -> ProbeResult:
    """Run the probe, report start, step (step 0, every layer's activations), diagnosis and end events."""
    emit = on_event or (lambda event: None)
    started = time.perf_counter()
    config = arch.training
    seed = seed if seed is not None else (config.seed if config else 0)
    target_device = resolve_device(device or (config.device if config else "auto"))
    model = build_model(arch, seed).to(target_device)
    inputs, loss_spec = _batch(arch, config, seed, target_device, batch_size, data_limit)
    monitor = GradientMonitor(model, sequence=layer_paths(arch, "sequence"))
    attention = AttentionProbe(model, arch, inputs, loss_spec[0].vocab if config else None)
    emit(StartEvent(
        mode="probe", config=config.model_dump(mode="json") if config else None, device=str(target_device),
        parameters=ParameterCounts(
            total=sum(p.numel() for p in model.parameters()), trainable=sum(p.numel() for p in monitor.params),
            per_node={n: sum(p.numel() for p in model.get_submodule(n).parameters()) for n in monitor.nodes}),
        monitored=monitor.nodes, recurrent=list(monitor.recurrent), sequence=list(monitor.sequence),
        attention=list(attention.layers),
    ))
    capture = Capture(dict(layers(model)), monitor.recurrent, monitor.sequence)
    with capture:
        output = model(*inputs)
    if not isinstance(output, torch.Tensor):
        raise TrainingError("the probe needs a model with one tensor output")
    loss = _loss(config, output, loss_spec)
    loss.backward()
    if attention:
        capture.attention = attention.measure()
    with quiet():
        monitor.record_unapplied(0, 0, loss, capture)
    [step] = monitor.read().events()
    emit(step)
    diagnoses = Diagnoser(ModelFacts.of(arch, config))(step)
    for diagnosis in diagnoses:
        emit(diagnosis)
    emit(EndEvent(status="probed", step=0, metrics={"loss": step.loss}, seconds=time.perf_counter() - started))
    return ProbeResult(step, diagnoses, node_health(Evidence.of(step)))


def _loss(config, output: torch.Tensor, loss_spec) -> torch.Tensor:
    if config is None:
        return loss_spec(output)
    dataset, target = loss_spec
    objective = Objective(config.loss, tuple(output.shape[1:]), tuple(dataset.target.shape[1:]),
                          dataset.target.dtype, dataset.num_classes)
    return objective.loss(output, objective.prepare_target(target, dataset.target_label))
