"""Multi-process training: `layerloom train --nproc N` runs DistributedDataParallel through torch's own launcher.

The launcher is the elastic agent that `torchrun` runs (`torch.distributed.launcher.api.elastic_launch`), started in
this process so that its logging stays quiet and a failed worker comes out as one line. Every worker runs `work`: it
joins the process group (gloo on CPUs, nccl with one GPU per process) and runs the same `train` command, whose
Trainer sees the group (`Group.current()`) and trains its share; only rank 0 writes the run folder and reports.
"""
from __future__ import annotations

import argparse
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
from torch.nn.parallel import DistributedDataParallel

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


class Group:
    """This process's place in the initialized process group, and the collectives the Trainer needs."""

    def __init__(self, rank: int, size: int):
        self.rank, self.size = rank, size
        self.lead = rank == 0
        self._flags: torch.Tensor | None = None
        self._sum = None

    @staticmethod
    def current() -> Group | None:
        """The group of this process, or None outside one."""
        if dist.is_available() and dist.is_initialized():
            return Group(dist.get_rank(), dist.get_world_size())
        return None

    def device(self, device: torch.device) -> torch.device:
        """The GPU of this process (the one `process_group` made current) for 'cuda', else `device`."""
        return torch.device("cuda", torch.cuda.current_device()) if device.type == "cuda" else device

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """`model` under DistributedDataParallel, which also copies rank 0's weights and buffers to every rank."""
        return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """This process's share of an epoch's order: every rank takes as many samples (the remainder sits out)."""
        return order[self.rank::self.size][:len(order) // self.size]

    def share(self, loss: torch.Tensor, cancelled: bool) -> None:
        """Start summing this step's loss and cancel flag over the processes (it runs while backward does)."""
        self._flags = torch.stack([loss.float(), loss.new_full((), float(cancelled), dtype=torch.float32)])
        self._sum = dist.all_reduce(self._flags, async_op=True)

    def mean_loss(self) -> torch.Tensor:
        """The step's loss over all processes: every rank takes the same finiteness decision from it (the
        gradients DistributedDataParallel averaged are the same everywhere already)."""
        self._sum.wait()
        return self._flags[0] / self.size

    @property
    def stopped(self) -> bool:
        """Whether some process was cancelled, as of the last step: the same answer on every rank."""
        return self._flags is not None and bool(self._flags[1] > 0)

    def broadcast(self, value):
        """Rank 0's `value` (a resume checkpoint), on every rank."""
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def rank() -> int:
    """This process's rank: 0 outside a process group."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def add_arguments(parser) -> None:
    """The `train` options of multi-process and multi-machine training."""
    parser.add_argument("--nproc", type=int, default=1, metavar="N",
                        help="train in N processes on this machine with DistributedDataParallel (default 1)")
    parser.add_argument("--nnodes", type=int, default=1, metavar="M",
                        help="machines taking part, each running this command (needs --rdzv-endpoint)")
    parser.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                        help="where the machines meet: one of them and a free port on it")
    parser.add_argument("--rdzv-id", default="layerloom", metavar="ID",
                        help="the job's name, the same on every machine (default layerloom)")


def requested(args) -> bool:
    """Whether the `train` command asks for more than one process, and is not itself one of them."""
    if args.nproc < 1 or args.nnodes < 1:
        raise TrainingError("--nproc and --nnodes must be 1 or more")
    if args.nnodes > 1 and not args.rdzv_endpoint:
        raise TrainingError("--nnodes needs --rdzv-endpoint HOST:PORT, the same on every machine")
    return (args.nproc > 1 or args.nnodes > 1) and not dist.is_initialized()


def launch(arch, args) -> int:
    """Run the `train` command `args` in `args.nproc` processes here (and on the other machines that meet at
    --rdzv-endpoint); a failure is raised as one TrainingError, the first process's reason."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous import RendezvousError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    kind = _device_kind(arch, args)
    payload = json.dumps({key: value for key, value in vars(args).items() if key != "run"} | {"device": kind})
    local = args.nnodes == 1 and not args.rdzv_endpoint
    with tempfile.TemporaryDirectory(prefix="layerloom-ddp-") as logs, _agent_in_this_process():
        config = LaunchConfig(
            min_nodes=args.nnodes, max_nodes=args.nnodes, nproc_per_node=args.nproc, max_restarts=0,
            run_id=uuid.uuid4().hex if local else args.rdzv_id, rdzv_backend="c10d",
            rdzv_endpoint=f"{LOOPBACK}:0" if local else args.rdzv_endpoint, local_addr=LOOPBACK if local else None,
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


def _device_kind(arch, args) -> str:
    """'cuda' or 'cpu' for every process; mps has no collectives, and each process needs a GPU of its own."""
    requested_device = training_config(arch, device=args.device).device
    if requested_device == "mps":
        raise TrainingError("--nproc trains on CPUs (gloo) or CUDA GPUs (nccl), not on mps: use --device cpu")
    if resolve_device(requested_device).type != "cuda":
        return "cpu"
    if args.nproc > torch.cuda.device_count():
        raise TrainingError(f"--nproc {args.nproc} needs a CUDA device per process, and this machine has "
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
    with open(os.environ["TORCHELASTIC_ERROR_FILE"], "w", encoding="utf-8") as handle:
        json.dump({"message": message, "timestamp": int(time.time()), "time": time.time()}, handle)


def work(payload: str) -> None:
    """A worker process: the `train` command (its arguments as JSON) in the process group, then exit."""
    status = _train(payload)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # everything is written and closed: skip the interpreter's teardown, seconds with torch loaded


def _train(payload: str) -> int:
    """Run the `train` command in the process group; the reason of a failure goes to the error file."""
    from ..errors import DocumentError
    from .cli import FAILURES, _cmd_train

    _die_with_launcher()
    args = argparse.Namespace(**json.loads(payload))
    try:
        with process_group(args.device):
            return _cmd_train(args)
    except (*FAILURES, DocumentError) as error:
        _report(str(error))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug, or a resource limit: one clear line rather than a traceback per process
        _report(f"internal error in training process {os.environ['RANK']} ({type(error).__name__}: {error}); "
                "please report it")
    return 1

