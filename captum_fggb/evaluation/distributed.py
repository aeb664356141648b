"""Sharding the evaluation over processes started by ``torchrun``.

``torchrun --nproc_per_node=K`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` for each
process. :func:`init_from_env` joins the process group (``gloo`` on CPU, ``nccl`` on CUDA);
the evaluation then gives block ``i`` of the pairs to rank ``i % K`` and gathers the per-pair
results so that every rank ends with the same, complete results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional

import torch
import torch.distributed as dist

__all__ = ["World", "current_world", "env_world", "init_from_env", "shutdown", "all_gather"]


@dataclass(frozen=True)
class World:
    """This process's place among the evaluating processes.

    Attributes:
        rank: 0-based index of this process.
        size: number of processes (1 when not distributed).
        local_rank: index on this machine (selects the GPU).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    def owns(self, block: int) -> bool:
        """Whether this process evaluates block number ``block`` (round robin)."""
        return block % self.size == self.rank

    @property
    def is_main(self) -> bool:
        """Rank 0, the process that writes files."""
        return self.rank == 0


def env_world() -> Optional[World]:
    """The world described by ``torchrun``'s environment variables, or ``None`` outside it."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return World(rank, size, int(os.environ.get("LOCAL_RANK", rank)))


def current_world() -> World:
    """The initialised process group's world, or a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    return World()


def init_from_env(device: torch.device) -> World:
    """Join the process group ``torchrun`` prepared, if any.

    Args:
        device: the evaluation device; ``cuda`` selects ``nccl`` and the GPU ``LOCAL_RANK``,
            anything else ``gloo``.

    Returns:
        The world (``World()`` when not started by ``torchrun`` or when it has one process).
    """
    world = env_world()
    if world is None or world.size == 1:
        return World()
    if dist.is_initialized():
        return current_world()
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
        dist.init_process_group(backend="nccl", device_id=torch.device("cuda", world.local_rank))
    else:
        dist.init_process_group(backend="gloo")
    return current_world()


def shutdown() -> None:
    """Leave the process group if this process is in one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_gather(obj: Any, world: World) -> List[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if world.size == 1:
        return [obj]
    out: List[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out
