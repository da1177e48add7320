"""The processes of a run: world size, this process's rank, and a barrier, right from the first phase.

torchrun (or `accelerate launch`) starts one process per GPU with RANK, WORLD_SIZE and LOCAL_RANK set.
accelerate's PartialState is a process-wide singleton that TrainingArguments resets and builds again; a
PartialState made before it with other arguments (cpu=False on a CPU-only machine) sees no distributed run
and tells every rank it is rank 0 of 1. So the group is started here with the same arguments the Trainer
will use, and the answers are kept as plain numbers, not as a reference to that singleton.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from accelerate import PartialState


@dataclass(frozen=True)
class Ranks:
    """How many processes train together and which one this is; rank 0 alone writes shared files."""

    world_size: int
    rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wait_for_everyone(self) -> None:
        if self.world_size > 1 and dist.is_available() and dist.is_initialized():
            dist.barrier()

    def agree(self, value: int) -> int:
        """The largest of every rank's value, so all ranks take the same decision (e.g. stop now)."""
        if self.world_size == 1 or not (dist.is_available() and dist.is_initialized()):
            return value
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        flag = torch.tensor([value], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item())


def use_cpu(requested: bool) -> bool:
    """Train on the CPU when asked, or when there is no GPU (then gloo joins the ranks, not nccl)."""
    return requested or not torch.cuda.is_available()


def start_ranks(cpu: bool) -> Ranks:
    """Join the processes of this run (a no-op for one process) and say where this one stands."""
    state = PartialState(cpu=cpu)
    return Ranks(world_size=state.num_processes, rank=state.process_index)
