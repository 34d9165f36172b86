"""The ``torch.distributed`` process group a learner may train in (``product_repr.distributed``).

Outside a group every function here is the identity, so the training loop and the losses read the same in
one process and in many.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def world() -> tuple[int, int]:
    """(rank, world size) of the ``torch.distributed`` process group this process is in; (0, 1) outside one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device() -> torch.device:
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def reduce(values: Sequence[float], op: str = "sum") -> list[float]:
    """``values`` reduced over the process group (``"sum"``, ``"max"`` or ``"min"``); as they are outside one."""
    import torch.distributed as dist

    if world()[1] == 1:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_device())
    dist.all_reduce(t, op={"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[op])
    return [float(v) for v in t.cpu()]


class _Gather(torch.autograd.Function):
    """All processes' equally long ``x`` stacked in rank order; backward sums each row's gradient over the
    processes and hands every process the part of its own rows."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        rank, size = world()
        parts = [torch.empty_like(x) for _ in range(size)]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = (rank * len(x), (rank + 1) * len(x))
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rows[0]:ctx.rows[1]]


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every process's ``x`` (rows may differ in number) stacked in rank order, and where this process's rows
    start in it: ``(x, 0)`` outside a group. Gradients flow back to each process's own rows (the sum over the
    processes that used them), so a loss over the stacked rows trains as one process would on all of them.

    A collective: every process of the group must call it at the same point.
    """
    import torch.distributed as dist

    rank, size = world()
    if size == 1:
        return x, 0
    device = _device()
    counts = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(size)]
    dist.all_gather(counts, torch.tensor([len(x)], dtype=torch.int64, device=device))
    counts = [int(c) for c in counts]
    most = max(counts)
    padded = x.float().to(device)
    if len(x) < most:
        padded = torch.cat([padded, padded.new_zeros((most - len(x), *x.shape[1:]))])
    stacked = _Gather.apply(padded)
    rows = torch.cat([stacked[r * most:r * most + c] for r, c in enumerate(counts)]).to(x.device)
    return rows, sum(counts[:rank])
