"""Many processes with PyTorch's distributed runtime: shard the inputs, gather what each rank did.

Under ``torchrun --nproc_per_node=N -m speechbrain_interp explain ...`` every process reads
``RANK``/``WORLD_SIZE`` from its environment. :func:`distributed` joins the process group
(``gloo`` on CPU, ``nccl`` on CUDA) and returns a :class:`Shard`: which inputs are this rank's
(``take``), and how every rank's results reach rank 0 (``gather``), including a rank's error,
so that rank 0 can merge the summary and the report and name a rank that failed. Without
``torchrun`` it returns ``None`` and nothing changes.

Authors
* speechbrain_interp contributors 2026
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

__all__ = ["Shard", "distributed", "world_from_env"]


def world_from_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` set by ``torchrun``; ``(0, 1, 0)`` otherwise.

    Example
    -------
    >>> world_from_env() if "WORLD_SIZE" not in os.environ else (0, 1, 0)
    (0, 1, 0)
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


@dataclass
class Shard:
    """This process's place among ``world_size`` ranks.

    Arguments
    ---------
    rank : int
        This process (0 merges).
    world_size : int
        Number of processes.
    local_rank : int
        Rank on this machine (picks the CUDA device).

    Example
    -------
    >>> Shard(1, 2).take(["a.wav", "b.wav", "c.wav"])  # every other file, from this rank's offset
    ['b.wav']
    >>> Shard(0, 1).gather({"clips": 3})  # one process: its own result
    [{'clips': 3}]
    """

    rank: int
    world_size: int
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, which merges."""
        return self.rank == 0

    def take(self, items: list) -> list:
        """This rank's items: ``items[rank::world_size]`` (disjoint, and together all of them)."""
        return list(items)[self.rank :: self.world_size]

    def gather(self, obj) -> list:
        """Every rank's ``obj``, indexed by rank (a collective: all ranks call it)."""
        if self.world_size == 1 or not torch.distributed.is_initialized():
            return [obj]
        gathered = [None] * self.world_size
        torch.distributed.all_gather_object(gathered, obj)
        return gathered

    def device(self, device: str) -> str:
        """``cuda`` becomes this rank's GPU, ``cuda:local_rank``; other devices are kept."""
        return f"cuda:{self.local_rank}" if str(device) == "cuda" else str(device)


@contextlib.contextmanager
def distributed(device: str = "cpu"):
    """Join the ``torchrun`` process group for the block; yields a :class:`Shard`, or None alone.

    The group is left at the end (only when this call joined it).

    Example
    -------
    >>> with distributed() as shard:   # not under torchrun
    ...     shard is None or shard.world_size > 1
    True
    """
    rank, world, local_rank = world_from_env()
    if world == 1:
        yield None
        return
    joined = False
    if not torch.distributed.is_initialized():
        cuda = str(device).startswith("cuda")
        if cuda:
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
        joined = True
    try:
        yield Shard(rank, world, local_rank)
    finally:
        if joined:
            torch.distributed.destroy_process_group()
