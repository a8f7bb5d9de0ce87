"""Data-parallel training with ``torch.distributed``: one process per rank, one shard of every
global batch per rank, gradients summed across ranks before each optimiser step.

Launched under ``torchrun`` (environment ``WORLD_SIZE`` > 1, with ``RANK``, ``MASTER_ADDR``,
``MASTER_PORT``), :func:`from_environment` joins the process group (gloo on CPU, NCCL on CUDA).
Without it the same code runs as one process (``world_size == 1``) and every collective is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    """This process's place in the run: ``rank`` of ``world_size`` (``local_rank`` on its machine,
    which picks its GPU); rank 0 writes all files."""

    rank: int = 0
    world_size: int = 1
    owns_group: bool = False
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks in place (every rank gets the total); returns it."""
        if self.active:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def sum_gradients_(self, parameters: list[torch.nn.Parameter]) -> None:
        """Replace each parameter's gradient by its sum over ranks (a missing gradient counts as 0)."""
        if not self.active or not parameters:
            return
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in parameters])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for parameter in parameters:
            count = parameter.numel()
            parameter.grad = flat[offset : offset + count].view_as(parameter).clone()
            offset += count

    def broadcast_parameters_(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank."""
        if self.active:
            for tensor in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(tensor.data, src=0)

    def global_rows(self, local: torch.Tensor, shard_sizes: list[int]) -> torch.Tensor:
        """The global batch ``[sum(shard_sizes), ...]`` assembled from every rank's ``local`` rows.

        This rank's rows stay attached to the autograd graph; other ranks' rows are detached
        copies. A function of the whole batch (e.g. a regulariser of batch-summed spike counts)
        evaluated on the result has, on each rank, exactly the gradient with respect to that
        rank's rows; summing gradients over ranks then gives the single-process gradient.
        """
        if not self.active:
            return local
        largest = max(shard_sizes)
        padded = torch.zeros((largest,) + tuple(local.shape[1:]), dtype=local.dtype, device=local.device)
        padded[: local.shape[0]] = local.detach()
        gathered = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(gathered, padded)
        parts = [local if rank == self.rank else gathered[rank][:size] for rank, size in enumerate(shard_sizes)]
        return torch.cat(parts, dim=0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def from_environment(device: torch.device) -> Distributed:
    """Join the process group described by the environment, or a one-process run without one."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if dist.is_initialized():
        return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return Distributed(rank=rank, world_size=world_size, owns_group=True, local_rank=local_rank)
