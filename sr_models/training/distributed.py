"""Data-parallel training across processes (torchrun): the process group, the rank's share of a batch,
and the collective operations the training loop needs.

One process per device. The global batch of a preset is split evenly across ranks, gradients are
averaged by DistributedDataParallel, so N ranks take the same optimisation steps as one process on the
whole batch; checkpoints hold the unwrapped modules and so resume with any number of ranks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from cxr_kernel.errors import UserValueError


@dataclass(frozen=True)
class Ranks:
    """This process's place in the process group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def share(self, batch_size: int) -> slice:
        """The items of a global batch of ``batch_size`` this rank trains on (contiguous, equal shares)."""
        if batch_size % self.world_size:
            raise UserValueError(
                f"Expected batch_size divisible by the number of processes ({self.world_size}), got "
                f"{batch_size}. Set batch_size to a multiple of {self.world_size} or change --nproc_per_node."
            )
        size = batch_size // self.world_size
        return slice(self.rank * size, (self.rank + 1) * size)

    def device(self, device: torch.device) -> torch.device:
        """Each rank on its own GPU: ``cuda`` without an index becomes ``cuda:<local_rank>``."""
        if device.type == "cuda" and device.index is None and self.distributed:
            return torch.device("cuda", self.local_rank)
        return device


def init_from_environment() -> Ranks:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).

    NCCL when CUDA is available, gloo otherwise. Without torchrun's variables (a plain ``python``
    run) nothing is initialised and the process is rank 0 of 1.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return current_ranks()


def current_ranks() -> Ranks:
    """Ranks of the initialised process group, or rank 0 of 1."""
    if not dist.is_available() or not dist.is_initialized():
        return Ranks()
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def barrier(ranks: Ranks) -> None:
    if ranks.distributed:
        dist.barrier()


def wrap(module: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel when distributed (the module itself otherwise).

    On CUDA, batch-norm layers become SyncBatchNorm so their statistics are those of the global batch;
    gloo on CPU has no SyncBatchNorm, so there each rank normalises with its own share.
    """
    if not ranks.distributed:
        return module
    if device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return nn.parallel.DistributedDataParallel(
        module, device_ids=[device.index] if device.index is not None else None
    )


def mean_over_ranks(values: dict[str, torch.Tensor], ranks: Ranks) -> dict[str, torch.Tensor]:
    """Each scalar averaged over ranks: with equal shares, the loss of the global batch."""
    if not ranks.distributed or not values:
        return values
    stacked = torch.stack([values[k] for k in sorted(values)])
    dist.all_reduce(stacked)
    return {k: v / ranks.world_size for k, v in zip(sorted(values), stacked, strict=True)}
