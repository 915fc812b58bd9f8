"""Multi-process training: `layerloom train --nproc N` runs DistributedDataParallel through torch's own launcher.

The launcher is the elastic agent that `torchrun` runs (`torch.distributed.launcher.api.elastic_launch`), started in
this process so that its logging stays quiet and a failed worker comes out as one line. Every worker runs `work`: it
joins the process group (gloo on CPUs, nccl with one GPU per process) and runs the same training session, whose
Trainer sees the group (`group.Group.current()`) and trains its share; only rank 0 writes the run folder and reports.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager

import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import fileio, files
from ..cliargs import add_options, parse_options
from ..crash import internal_error
from ..errors import UserError
from . import session
from .options import TrainOptions
from .setup import TrainingError, resolve_device, training_config

LOOPBACK = "127.0.0.1"
# A worker's program (`python -c`): an interrupt that comes while it still imports torch ends it quietly.
WORKER = """import sys
try:
    from layerloom.engine.train.distributed import work
    work(sys.argv[1])
except KeyboardInterrupt:
    sys.exit(130)
"""


class LaunchOptions(BaseModel):
    """How many processes train, and where the machines of a multi-machine run meet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nproc: int = Field(1, ge=1, le=4096, description="train in N processes on this machine with "
                                                     "DistributedDataParallel")
    nnodes: int = Field(1, ge=1, le=4096, json_schema_extra={"metavar": "M"},
                        description="machines taking part, each running this command (needs --rdzv-endpoint)")
    rdzv_endpoint: str | None = Field(None, max_length=300, json_schema_extra={"metavar": "HOST:PORT"},
                                      description="where the machines meet: one of them and a free port on it")
    rdzv_id: str = Field("layerloom", min_length=1, max_length=300, json_schema_extra={"metavar": "ID"},
                         description="the job's name, the same on every machine")

    @model_validator(mode="after")
    def _endpoint(self) -> "LaunchOptions":
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("--nnodes needs --rdzv-endpoint HOST:PORT, the same on every machine")
        return self

    @property
    def requested(self) -> bool:
        """Whether the command asks for more than one process, and is not itself one of them."""
        return (self.nproc > 1 or self.nnodes > 1) and not dist.is_initialized()


def add_arguments(parser) -> None:
    """The `train` options of multi-process and multi-machine training."""
    add_options(parser, LaunchOptions, LaunchOptions.model_fields)


def parse(args) -> LaunchOptions:
    return parse_options(LaunchOptions, args)


def launch(file: str, arch, options: TrainOptions, events: str | None, how: LaunchOptions) -> int:
    """Train in `how.nproc` processes here (and on the other machines that meet at --rdzv-endpoint); a failure is
    raised as one TrainingError, the first process's reason."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous import RendezvousError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    kind = _device_kind(arch, options, how.nproc)
    payload = json.dumps({"file": file, "options": options.model_dump(mode="json"), "events": events, "kind": kind})
    local = how.nnodes == 1 and not how.rdzv_endpoint
    with tempfile.TemporaryDirectory(prefix="layerloom-ddp-") as logs, _agent_in_this_process():
        config = LaunchConfig(
            min_nodes=how.nnodes, max_nodes=how.nnodes, nproc_per_node=how.nproc, max_restarts=0,
            run_id=uuid.uuid4().hex if local else how.rdzv_id, rdzv_backend="c10d",
            rdzv_endpoint=f"{LOOPBACK}:0" if local else how.rdzv_endpoint, local_addr=LOOPBACK if local else None,
            logs_specs=DefaultLogsSpecs(log_dir=logs))
        try:
            elastic_launch(config, sys.executable)("-c", WORKER, payload)
        except ChildFailedError as failed:
            raise TrainingError(_first_reason(failed.failures)) from None
        except SignalException:  # the agent passed the interrupt on to every process, which stopped and saved
            return 130
        except RendezvousError as error:
            raise TrainingError(f"the processes could not meet at {config.rdzv_endpoint}: {error}") from None
    return 0


def _device_kind(arch, options: TrainOptions, nproc: int) -> str:
    """'cuda' or 'cpu' for every process; mps has no collectives, and each process needs a GPU of its own."""
    requested_device = training_config(arch, options.overrides()).device
    if requested_device == "mps":
        raise TrainingError("--nproc trains on CPUs (gloo) or CUDA GPUs (nccl), not on mps: use --device cpu")
    if resolve_device(requested_device).type != "cuda":
        return "cpu"
    if nproc > torch.cuda.device_count():
        raise TrainingError(f"--nproc {nproc} needs a CUDA device per process, and this machine has "
                            f"{torch.cuda.device_count()}: use --nproc {torch.cuda.device_count()} or --device cpu")
    return "cuda"


@contextmanager
def _agent_in_this_process():
    """Silence the agent's logging (failures are reported as one line instead) and put back the signal handlers
    it installs (it passes SIGINT and SIGTERM on to the workers)."""
    loggers = [logging.getLogger(f"torch.distributed.{name}") for name in ("elastic", "launcher")]
    handler = logging.NullHandler()
    for logger in loggers:  # the records of their children stop here, at a handler that drops them
        logger.addHandler(handler)
        logger.propagate = False
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    try:
        yield
    finally:
        for sig, previous in handlers.items():
            signal.signal(sig, previous)
        for logger in loggers:
            logger.removeHandler(handler)
            logger.propagate = True


def _first_reason(failures: dict) -> str:
    """The reason of the process that failed first; a process that left none is described by how it ended."""
    reported = [f for f in failures.values() if "time" in f.error_file_data]
    if reported:
        return min(reported, key=lambda f: f.error_file_data["time"]).message
    rank_, failure = min(failures.items())
    ending = (f"was killed by {failure.signal_name()}" if failure.exitcode < 0
              else f"exited with status {failure.exitcode}")
    return f"training process {rank_} {ending}"


@contextmanager
def process_group(kind: str):
    """Join the process group that torchrun's environment describes: nccl on this process's GPU for 'cuda',
    else gloo with the CPU cores shared between the processes of this machine."""
    local_rank = int(os.environ["LOCAL_RANK"])
    if kind == "cuda":
        torch.cuda.set_device(local_rank)
    elif "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["LOCAL_WORLD_SIZE"])))
    dist.init_process_group("nccl" if kind == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def _die_with_launcher() -> None:
    """Have Linux kill this worker if the launcher goes (a second Ctrl-C, or killed): never an orphan."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)


def _report(message: str) -> None:
    """Leave the reason of a failure where the agent reads it (torchelastic's error file)."""
    record = {"message": message, "timestamp": int(time.time()), "time": time.time()}
    fileio.write_text(os.environ["TORCHELASTIC_ERROR_FILE"], json.dumps(record))


def work(payload: str) -> None:
    """A worker process: the `train` command (its arguments as JSON) in the process group, then exit."""
    status = _train(payload)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # everything is written and closed: skip the interpreter's teardown, seconds with torch loaded


def _train(payload: str) -> int:
    """Run the `train` command's session in the process group; the reason of a failure goes to the error file."""
    _die_with_launcher()
    job = json.loads(payload)
    try:
        with process_group(job["kind"]):
            return session.train(files.load(job["file"]), TrainOptions.model_validate(job["options"]), job["events"])
    except UserError as error:
        _report(str(error))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: one line (with the traceback in a log file) rather than one per process
        _report(internal_error(error, f" in training process {os.environ['RANK']}"))
    return 1
