"""Data-parallel training with ``torchrun``: process group, sharded global batches, gathers.

``torchrun --nproc-per-node N -m mmx_cli.main train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR/PORT`` set; ``init_distributed`` joins them
(``nccl`` on GPUs, ``gloo`` on CPUs). A plain ``python`` process is a world of one and nothing
changes.

The global batch stays what the config says: every process draws the same (seed, epoch)
permutation, cuts it into global batches, and takes its own contiguous share of each
(``GlobalBatchSampler``). ``share_weight`` scales a process's mean loss so that DDP's gradient
average equals the gradient of the mean over the whole global batch, even when the shares differ
in size — so N processes follow one process with the same global batch. Batch norm takes its
statistics over the global batch too (``nn.SyncBatchNorm`` on GPUs, ``GlobalBatchNorm1d`` on CPUs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler


@dataclass
class DistInfo:
    rank: int = 0  # this process among all processes
    world_size: int = 1  # processes in the job
    local_rank: int = 0  # this process on its machine (its GPU index)
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Only the main process writes run files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed() -> DistInfo:
    """Join the torchrun job described by the environment (a world of one without it).

    The device is ``cuda:LOCAL_RANK`` when GPUs exist, else the CPU; the backend follows it. This
    sets process-wide state (the CUDA device, the process group): applications call it once, in
    ``main``, and ``close_distributed`` when done; library functions take the ``DistInfo``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return DistInfo(rank, world, local, device)


def launched_as_main() -> bool:
    """Whether this process is the one that reports: rank 0 of the torchrun job that started it (``RANK``), or the
    only process without torchrun."""
    return int(os.environ.get("RANK", "0")) == 0


def close_distributed(ok: bool) -> None:
    """Leave the process group. ``ok``: this process finished its work, so it first waits for the
    others — a rank that tears gloo down while another is still in a collective aborts it
    ("terminate called without an active exception")."""
    if dist.is_initialized():
        if ok:
            dist.barrier()
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """Batch norm over the rows of all processes, for CPUs (``nn.SyncBatchNorm`` runs on GPUs only).

    Training statistics are the global batch's: sums and sums of squares are all-reduced (with
    their gradients), so the output, the running statistics and the gradients are those of one
    process holding the whole batch. Input (N, C). The statistics are fp32 whatever the input's format
    (bf16 under autocast: E[x²] − E[x]² in bf16 cancels to nonsense, and counts above 256 round), as
    ``nn.BatchNorm1d``'s own kernels accumulate them.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        x = x.float()
        n = torch.tensor([float(x.shape[0])])
        dist.all_reduce(n)
        mean = all_reduce_sum(x.sum(0)) / n  # (C,)
        var = (all_reduce_sum((x * x).sum(0)) / n - mean * mean).clamp_min(0)  # (C,) biased, as batch norm uses
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1).clamp(min=1))
            self.num_batches_tracked.add_(1)
        y = (x - mean) / torch.sqrt(var + self.eps)  # (N, C)
        return y * self.weight + self.bias if self.affine else y


def global_batch_norm(module: nn.Module) -> nn.Module:
    """``module`` with every ``BatchNorm1d`` turned into a ``GlobalBatchNorm1d`` (same parameters)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            new = GlobalBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            global_batch_norm(child)
    return module


def wrap_model(model: nn.Module, info: DistInfo) -> nn.Module:
    """The model on its device; in a world > 1 DDP-wrapped, its batch norm over the global batch."""
    model = model.to(info.device)
    if not info.distributed:
        return model
    if info.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        model = global_batch_norm(model)
    # an expert absent from every trailer of a share leaves its reduction unused in that process
    return DistributedDataParallel(
        model, device_ids=[info.local_rank] if info.device.type == "cuda" else None,
        find_unused_parameters=True,
    )


def all_sum(values: list[float], info: DistInfo) -> list[float]:
    """Element-wise sum of ``values`` over all processes (for epoch totals)."""
    if not info.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return t.tolist()


def gather_with_grad(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """(sum of B_r, ...) rows of every process in rank order; gradients flow back to each process's rows.

    Shares may differ in size (the last global batch), so sizes are exchanged first.
    """
    if not info.distributed:
        return x
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(info.world_size)]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
    sizes = [int(s) for s in sizes]
    most = max(sizes)
    padded = torch.cat([x, x.new_zeros(most - x.shape[0], *x.shape[1:])]) if x.shape[0] < most else x
    parts = _AllGather.apply(padded).chunk(info.world_size)  # each part's gradient returns to its process
    return torch.cat([p[:n] for p, n in zip(parts, sizes)])


class _AllReduceSum(torch.autograd.Function):
    """Σ over processes; each process's loss depends on every input, so gradients are summed too."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


class _AllGather(torch.autograd.Function):
    """Equal-size rows of every process, concatenated in rank order; gradients summed back to their owner."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every process's loss uses every row
        return grad.chunk(dist.get_world_size())[dist.get_rank()]


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Σ of ``x`` over processes, differentiable."""
    return _AllReduceSum.apply(x)


@dataclass
class Step:
    """One optimiser step as this process sees it."""

    local: int  # trailers of the global batch in this process's share (0: it runs a stand-in)
    total: int  # trailers in the global batch


def batch_steps(loader: Iterable) -> list[Step] | None:
    """How a loader's batches are shared (``GlobalBatchSampler``), or None when each batch is whole."""
    return getattr(getattr(loader, "batch_sampler", None), "steps", None)


def share_weight(step: Step, info: DistInfo) -> float:
    """Factor on a process's mean loss so that DDP's average of gradients is the global mean's gradient."""
    return step.local * info.world_size / step.total


class GlobalBatchSampler(Sampler[list[int]]):
    """This process's share of every global batch of a (seed)-seeded permutation.

    With one process it gives the batches of ``DataLoader(shuffle=True, generator=seeded)``: the
    same ``torch.randperm`` cut into ``batch_size`` chunks. A share that would be empty (a last
    global batch smaller than the world) holds one stand-in trailer whose loss is weighted 0, so
    every process takes part in every step.
    """

    def __init__(self, n: int, batch_size: int, seed: int | None, info: DistInfo):
        if n == 0:
            raise ValueError("cannot sample batches from an empty set of trailers")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if seed is not None else torch.arange(n)
        self.batches: list[list[int]] = []
        self.steps: list[Step] = []
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size].tolist()
            share = np.array_split(np.asarray(batch), info.world_size)[info.rank].tolist()
            self.steps.append(Step(len(share), len(batch)))
            self.batches.append(share or batch[:1])

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)
