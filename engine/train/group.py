"""This process's place in a process group (`layerloom train --nproc N`) and the collectives the Trainer uses."""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


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
