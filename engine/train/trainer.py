"""The trainer: a lean loop over device-resident batches, watched by the gradient monitor.

Per step it does what a hand-written loop does, plus a finiteness check of the loss and gradients whose
answer is read every step (free on the CPU; one scalar sync per step on a GPU), and one fused copy of the
weights before the update. So a NaN or Inf is caught before the optimizer applies it, and model.pt gets
weights that give the failed batch a finite loss (failed_step.py).
Monitored steps (step 1 and every `log_every` steps) also record their numbers into the monitor's rows,
which are reported in batches (StepRows, every 256 rows or 0.1 s, and before each epoch, end and error
event), so every step can be watched at almost no cost. Epoch metrics are measured after
each epoch in eval mode on the whole train and validation parts.
In a process group (`layerloom train --nproc N`, see distributed.py) each process trains its share of every
step under DistributedDataParallel, and rank 0 alone measures, writes and reports.
"""
from __future__ import annotations

import math
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..costs import TrainingMemory, infer_costs, training_memory
from ..costs.memory import check_available
from ..data import Dataset
from ..document import Architecture
from ..errors import DocumentError, UserError
from ..validate import check
from .advice import ModelFacts
from .attention import AttentionProbe
from .positions import layer_paths
from .diagnosis import Diagnoser
from .events import CostEstimate, EndEvent, EpochEvent, ErrorEvent, ParameterCounts, RunStatus, StartEvent, StepRows
from .failed_step import WeightHistory, failing_layer, locate
from .group import Group
from .losses import Objective, measure
from .monitor import GradientMonitor
from .optimizers import StepCall, make_optimizer
from .options import TrainOptions
from .peak import PeakMemory
from .recorder import quiet
from .runfolder import CHECKPOINT, RunFolder, load_state
from .setup import TrainingError, build_model, check_inputs, load_data, resolve_device, split, training_config
from .tensorboard import TensorBoardLogger

__all__ = ["RunResult", "TrainOptions", "Trainer"]


@dataclass
class RunResult:
    """How a run ended, after how many steps, and its final metrics."""

    status: RunStatus  # completed, max_steps, cancelled or failed
    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


class StepFailed(Exception):
    """A step that failed (a non-finite loss or gradient, which was not applied, or an error in a layer)."""

    def __init__(self, message: str, step: int, node: str | None):
        super().__init__(message)
        self.step, self.node = step, node


class Trainer:
    """Trains a document's model on its dataset and reports events to `on_event`, on the thread that calls
    `run()`; `cancel()` may be called from any thread."""

    def __init__(self, arch: Architecture, options: TrainOptions | None = None, on_event=None,
                 dataset: Dataset | None = None):
        self.arch = arch
        self.options = options or TrainOptions()
        self.model: torch.nn.Module | None = None
        self._callbacks = [on_event] if on_event else []
        self._dataset = dataset
        self._cancel = threading.Event()
        self._closers: list = []
        self._started, self.step = time.perf_counter(), 0
        self.folder: RunFolder | None = None
        self.group = Group.current()  # set inside `layerloom train --nproc N`: only rank 0 writes and reports
        self.lead = self.group is None or self.group.lead

    def cancel(self) -> None:
        """Stop after the step in progress; the run ends with status 'cancelled' and its weights saved."""
        self._cancel.set()

    def emit(self, event) -> None:
        for callback in self._callbacks:
            callback(event)

    def run(self) -> RunResult:
        self._started = time.perf_counter()
        try:
            with quiet():  # numpy's error state for the monitor's numbers, held for the whole run
                self._setup()
                return self._finish(self._loop())
        except StepFailed as bad:
            return self._fail(str(bad), bad.step, bad.node)
        except UserError as error:
            return self._fail(str(error), None, None)
        except RuntimeError as error:  # torch reports shape, memory and device failures as RuntimeError
            return self._fail(f"training failed at step {self.step + 1}: {_first_line(error)}", self.step + 1, None)
        finally:
            for close in self._closers:
                close()

    def _setup(self) -> None:
        options = self.options
        config = self.config = training_config(self.arch, options.overrides())
        state = self._open_folder()  # first: a folder that cannot be used is refused before any data is read
        self.memory = self._training_memory()  # and a model this machine cannot hold, before it is built
        device = resolve_device(config.device)
        self.device = self.group.device(device) if self.group else device
        dataset = (check_inputs(self.arch, self._dataset) if self._dataset
                   else load_data(self.arch, config, options.data_limit))
        model = self.model = build_model(self.arch, config.seed).to(self.device)
        parts = split(len(dataset), config.val_fraction, config.seed)
        with torch.no_grad():
            model.eval()
            sample = model(*(x[:2].to(self.device) for x in dataset.inputs))
            model.train()
        if not isinstance(sample, torch.Tensor):
            raise TrainingError("training needs a model with one tensor output")
        self.objective = Objective(config.loss, tuple(sample.shape[1:]), tuple(dataset.target.shape[1:]),
                                   dataset.target.dtype, dataset.num_classes)
        target = self.objective.prepare_target(dataset.target, dataset.target_label)
        self.train_data = self._on_device(dataset.inputs, target, parts.train)
        self.val_data = self._on_device(dataset.inputs, target, parts.val)
        if not any(p.requires_grad for p in model.parameters()):
            raise TrainingError("the model has no weights to train: add a layer with weights (linear, conv2d, ...)")
        sequence = layer_paths(self.arch, "sequence")
        self.monitor = GradientMonitor(model, config.grad_clip, sequence)  # first: it puts the weights into flat vectors
        probes = (self.val_data if len(self.val_data[1]) else self.train_data)[0]
        self.attention = AttentionProbe(model, self.arch, probes, dataset.vocab)
        self.optimizer = make_optimizer(self.monitor.params, config.optimizer)
        self.optimizer_step = StepCall(self.optimizer)
        self.history = WeightHistory(model)  # after the monitor: its flat vectors hold the weights now
        self.diagnoser = Diagnoser(ModelFacts.of(self.arch, config))
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.epoch = self.batch = self._last_profile = 0
        self.metrics: dict[str, float] = {}
        self._plan_epochs(len(parts.train))
        if self.folder:
            self.folder.describe_data(dataset.describe())
        if self.group and options.resume:
            state = self.group.broadcast(state)
        if state:
            self._restore(state)
        self.tensorboard = None
        if options.tensorboard and self.lead:
            self.tensorboard = TensorBoardLogger((self.folder.path if self.folder else Path("runs")) / "tensorboard")
            self._callbacks.append(self.tensorboard)
            self._closers.append(self.tensorboard.close)
        self.net = self.group.wrap(model, self.device) if self.group else model  # the module steps run through
        self.peak = PeakMemory(model, self.device)
        self._emit_start()

    def _plan_epochs(self, samples: int) -> None:
        """Batch size and steps per epoch of this process. batch_size is that of a whole step: with N processes
        each takes ceil(batch_size / N) samples of an equal share of the epoch, so every rank takes as many steps."""
        processes = self.group.size if self.group else 1
        self.batch_size = math.ceil(self.config.batch_size / processes)
        self.steps_per_epoch = math.ceil(samples // processes / self.batch_size)
        if not self.steps_per_epoch:
            raise TrainingError(f"the training part has {samples} sample(s), fewer than the {processes} processes")

    def _on_device(self, inputs, target, index):
        return tuple(x[index].to(self.device) for x in inputs), target[index].to(self.device)

    def _open_folder(self) -> dict | None:
        """Open the run folder (rank 0) and return the snapshot to resume from, if any."""
        options = self.options
        self.folder = RunFolder(options.out_dir) if options.out_dir and self.lead else None
        if self.folder is None:
            return None
        self._closers.append(self.folder.close)
        state = self.folder.start(self.arch.model_copy(update={"training": self.config}),
                                  resume=options.resume, overwrite=options.overwrite)
        self._callbacks.append(self.folder.events)
        return state

    def _restore(self, state: dict) -> None:
        """Continue from a snapshot (runfolder.RunFolder.snapshot): weights, optimizer, position, random states."""
        source = self.options.out_dir / CHECKPOINT
        load_state(self.model, state["model"], source)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.shuffle.set_state(state["shuffle_state"])
            torch.set_rng_state(state["rng_state"])
        except (ValueError, KeyError, TypeError, RuntimeError) as error:
            raise TrainingError(f"{source} does not fit this run's optimizer or random state "
                                f"({type(error).__name__}: {str(error)[:200]})") from None
        self.step, self.epoch, self.batch = state["step"], state["epoch"], state["batch"]
        if self.epoch > self.config.epochs or self.batch > self.steps_per_epoch:
            raise TrainingError(f"{source} is at epoch {self.epoch}, step {self.batch} of it, past the end of this "
                                f"run ({self.config.epochs} epochs of {self.steps_per_epoch} steps)")

    def _snapshot(self, shuffle_state: torch.Tensor) -> dict:
        return {"step": self.step, "epoch": self.epoch, "batch": self.batch, "shuffle_state": shuffle_state,
                "rng_state": torch.get_rng_state(), "optimizer": self.optimizer.state_dict()}

    def _emit_start(self) -> None:
        counts = {name: sum(p.numel() for p in self.model.get_submodule(name).parameters())
                  for name in self.monitor.nodes}
        params = list(self.model.parameters())
        self.emit(StartEvent(
            config=self.config.model_dump(mode="json"), device=str(self.device),
            parameters=ParameterCounts(total=sum(p.numel() for p in params),
                                       trainable=sum(p.numel() for p in params if p.requires_grad), per_node=counts),
            monitored=self.monitor.nodes, recurrent=list(self.monitor.recurrent), sequence=list(self.monitor.sequence),
            attention=list(self.attention.layers),
            steps_per_epoch=self.steps_per_epoch, total_steps=self._total_steps(), first_step=self.step,
            run_dir=str(self.options.out_dir) if self.folder else None, estimate=self._estimate() if self.lead else None,
        ))

    def _training_memory(self) -> TrainingMemory:
        """The cost model's training memory at the batch each process takes, refused now when this machine has not
        that much available, with the copy of the weights kept for a failed step (failed_step.WeightHistory)."""
        problems, report = check(self.arch)
        if problems:
            raise DocumentError(problems)
        self.costs = infer_costs(self.arch, report)
        processes = self.group.size if self.group else 1
        memory = training_memory(self.costs, math.ceil(self.config.batch_size / processes), self.config.optimizer)
        check_available(memory.training_bytes + memory.param_bytes,
                        f"training at batch {memory.batch_size:,} ({memory.amount()}, and the last good weights)")
        return memory

    def _estimate(self) -> CostEstimate:
        """The cost model's MACs and training memory at the batch each process takes."""
        costs, memory = self.costs, self.memory
        return CostEstimate(
            total_macs=costs.total_macs, batch_size=memory.batch_size, param_bytes=memory.param_bytes,
            grad_bytes=memory.grad_bytes, optimizer_bytes=memory.optimizer_bytes,
            activation_bytes=memory.activation_bytes, training_bytes=memory.training_bytes)

    def _total_steps(self) -> int:
        total = self.steps_per_epoch * self.config.epochs
        return min(total, self.options.max_steps) if self.options.max_steps else total

    def _loop(self) -> str:
        inputs, target = self.train_data
        size = self.batch_size
        while self.epoch < self.config.epochs:
            shuffle_state = self.shuffle.get_state()
            order = torch.randperm(len(target), generator=self.shuffle)  # the same on every rank: one seed
            order = (self.group.shard(order) if self.group else order).to(self.device)
            xs, ys = tuple(x[order] for x in inputs), target[order]
            self.peak.start()  # the first time: what is held as the steps begin
            while self.batch < self.steps_per_epoch:
                cancelled = self.group.stopped if self.group else self._cancel.is_set()
                if cancelled or self.step >= (self.options.max_steps or math.inf):
                    self._save(shuffle_state)
                    return "cancelled" if cancelled else "max_steps"
                window = slice(self.batch * size, (self.batch + 1) * size)
                self._step(tuple(x[window] for x in xs), ys[window])
            self.epoch, self.batch = self.epoch + 1, 0
            self._end_epoch()
        return "completed"

    def _step(self, xs: tuple[torch.Tensor, ...], y: torch.Tensor) -> None:
        step, every = self.step + 1, self.options.log_every
        logged = every > 0 and (step == 1 or step % every == 0)
        every_profile = self.options.profile_every
        profiled = logged and (step == 1 or step // every_profile > self._last_profile // every_profile)
        if profiled:
            self._last_profile = step
        capture = self.monitor.capture() if profiled else None
        try:
            with capture or nullcontext():
                output = self.net(*xs)
        except (RuntimeError, IndexError) as error:  # torch's shape, index, memory and device failures
            node = failing_layer(self.model, xs)
            where = f" in layer '{node}'" if node else ""
            raise StepFailed(f"training failed at step {step}{where}: {_first_line(error)}", step, node) from None
        loss = self.objective.loss(output, y)
        if self.group:  # the loss and cancel flag of every process, all-reduced while backward runs
            self.group.share(loss.detach(), self._cancel.is_set())
        self.monitor.zero_grad()
        loss.backward()
        if self.group:
            loss = self.group.mean_loss()
        if not self.monitor.check(loss, logged):  # before the optimizer may apply a non-finite step
            self._non_finite(step, loss, xs, y)
        self.history.remember()
        self.optimizer_step()
        self.step, self.batch = step, self.batch + 1
        if capture and self.attention and self.lead:
            capture.attention = self.attention.measure()
        if logged:
            self.monitor.record(step, self.epoch + 1, capture)
            if self.monitor.due():
                self._report_steps()

    def _report_steps(self) -> StepRows | None:
        """Emit the monitored steps not yet reported (one StepRows batch), then their diagnoses."""
        rows = self.monitor.read()
        if rows is None:
            return None
        self.emit(rows)
        for diagnosis in self.diagnoser.rows(rows):
            self.emit(diagnosis)
        if self.tensorboard:
            self.tensorboard.histograms(rows.steps[-1], self.monitor)
        return rows

    def _non_finite(self, step, loss, xs, y) -> None:
        """Report the bad step (without applying it), name the first layer in forward order where it went
        non-finite, keep weights that give this batch a finite loss (model.pt), and stop."""
        self.monitor.record_unapplied(step, self.epoch + 1, loss)
        rows = self._report_steps()
        event = rows.event_at(len(rows) - 1)
        loss_finite = math.isfinite(event.loss)
        started_from = self.history.current()
        node, kind = locate(self.model, xs, lambda output: self.objective.loss(output, y))
        where = (f"'{node}' is the first layer (in forward order) whose {kind} is not finite" if node else
                 "every layer's output is finite, and so is the gradient until it leaves the loss: check the targets")
        what = f"the loss is {event.loss}" if not loss_finite else f"the gradient norm is {event.grad_norm_total}"
        back = self.history.keep_finite(started_from, lambda: self._finite_on(xs, y), loss_finite)
        if self.folder:
            self.folder.save_weights(self.model.state_dict())
        kept = f"step {step - 1 - back}" + (", before the update that made them diverge" if back else "")
        raise StepFailed(f"{what} at step {step} (epoch {self.epoch + 1}): {where}. Training stopped before "
                         f"applying this step, and kept the last good weights (those of {kept}).", step, node)

    @torch.no_grad()
    def _finite_on(self, xs, y) -> bool:
        """Whether the model, in eval mode as `layerloom eval` runs it, gives a finite loss on this batch."""
        self.model.eval()
        try:
            return math.isfinite(self.objective.loss(self.model(*xs), y).item())
        finally:
            self.model.train()

    def _end_epoch(self) -> None:
        self.peak.stop()  # the first time: before metrics and saving, which have their own buffers
        self._report_steps()
        self.metrics = self._measure()
        self.emit(EpochEvent(epoch=self.epoch, step=self.step, metrics=self.metrics, seconds=self._seconds()))
        self._save(self.shuffle.get_state())

    def _measure(self) -> dict[str, float]:
        """Metrics over the whole train and validation parts; rank 0 alone measures and reports them."""
        if not self.lead:
            return {}
        size = max(self.config.batch_size, 1024)
        metrics = {f"train_{k}": v for k, v in measure(self.model, *self.train_data, self.objective, size).items()}
        if len(self.val_data[1]):
            metrics |= {f"val_{k}": v for k, v in measure(self.model, *self.val_data, self.objective, size).items()}
        return metrics

    def _save(self, shuffle_state: torch.Tensor) -> None:
        self.peak.stop()
        self._report_steps()  # the snapshot covers the event log up to here: every step it holds is written first
        if self.folder:
            self.folder.save(self.model, self._snapshot(shuffle_state))

    def _seconds(self) -> float:
        return time.perf_counter() - self._started

    def _finish(self, status: str) -> RunResult:
        self._report_steps()
        metrics = self.metrics if status == "completed" and self.metrics else self._measure()
        result = RunResult(status, self.step, metrics, self._seconds())
        self.emit(EndEvent(status=status, step=self.step, metrics=metrics, seconds=result.seconds,
                           memory=self.peak.result if self.lead else None))
        return result

    def _fail(self, message: str, step: int | None, node: str | None) -> RunResult:
        if self.folder and self.folder.replacing:
            message += f"; the run already in {self.folder.replacing} was kept"
        if getattr(self, "monitor", None):
            self._report_steps()
        self.emit(ErrorEvent(message=message, step=step, node=node))
        return RunResult("failed", self.step, seconds=self._seconds(), error=message)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__
