"""Multi-process training through torch.distributed (launched by torchrun) and DDP."""
from __future__ import annotations

import os

import torch
import torch.distributed as td


class Dist:
    """Rank/world of this process and the collective operations the trainer needs.

    A single process (no torchrun) is rank 0 of a world of 1 and every operation is the
    identity.
    """

    def __init__(self, rank: int = 0, world: int = 1, device: torch.device | None = None):
        self.rank, self.world, self.device = rank, world, device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def wrap(self, model):
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device is not None and self.device.type == "cuda" else None
        # e.g. the factorised model's CLUB critics, which only the fission objective uses
        return DDP(model, device_ids=ids, find_unused_parameters=model.optional_parameters)

    def reduce_sums(self, sums):
        if not self.active:
            return sums
        keys = sorted(sums.sums)
        vec = torch.tensor([float(sums.n), float(sums.skipped)] + [float(sums.sums[k]) for k in keys],
                           dtype=torch.float64, device=self._coll_device())
        td.all_reduce(vec)
        out = type(sums)(int(vec[0].item()), {k: vec[2 + i].item() for i, k in enumerate(keys)}, int(vec[1].item()))
        return out

    def barrier(self) -> None:
        if self.active:
            td.barrier()

    def _coll_device(self):
        return self.device if self.device is not None and self.device.type == "cuda" else torch.device("cpu")


def from_environment(device_name: str = "auto") -> tuple[Dist, torch.device]:
    """Joins the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), None
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = torch.cuda.is_available() and device_name != "cpu"
    if use_cuda:
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if not td.is_initialized():
        td.init_process_group("nccl" if use_cuda else "gloo")
    return Dist(rank, world, device), device
