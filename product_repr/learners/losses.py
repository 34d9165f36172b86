"""Loss functions: per-span reconstruction, NT-Xent, margin contrastive and mask prediction.

All are pure functions of tensors; none mutates its inputs.

Span weighting. X is a concatenation of spans, one per source column, of very different widths (a price is
2 dims, a text block 64). Averaging the squared error over all p dims would let wide spans drown narrow ones,
so the reconstruction loss is

    L = Σ_s w_s ℓ_s,   w_s = 1 / S   (S spans),

where ℓ_s is the *mean over the span's dims and the batch rows* of the squared error for an "mse" span,
and the mean over rows of the cross-entropy  -Σ_j x_j log softmax(x̂_s)_j  for a "ce" (one-hot) span.
Every source column therefore counts equally, whatever its width.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from product_repr.features import Span


def span_losses(x_hat: torch.Tensor, x: torch.Tensor, spans: Sequence[Span]) -> torch.Tensor:
    """Reconstruction loss per row and span.

    Args:
        x_hat: (n, p) decoder output; categorical spans hold logits.
        x: (n, p) clean targets; categorical spans hold one-hot (or soft) targets.
        spans: the spans covering the columns of X.

    Returns:
        (n, S) tensor: squared error averaged over each mse span's dims, cross-entropy for each ce span.
    """
    cols = []
    for s in spans:
        xh, xt = x_hat[:, s.start:s.stop], x[:, s.start:s.stop]
        if s.loss == "ce":
            cols.append(-(xt * F.log_softmax(xh, dim=1)).sum(dim=1))
        else:
            cols.append(((xh - xt) ** 2).mean(dim=1))
    return torch.stack(cols, dim=1)


def reconstruction_loss(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    spans: Sequence[Span],
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scalar span-weighted reconstruction loss ``Σ_s w_s mean_rows(ℓ_s)``.

    ``weights``: (S,) span weights; default ``1/S`` each, so each source column counts equally.
    """
    per = span_losses(x_hat, x, spans).mean(dim=0)  # (S,)
    if weights is None:
        return per.mean()
    return (per * weights).sum()


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    """NT-Xent (SimCLR) loss between two views; the other 2N - 2 rows of the batch are negatives.

    With u = normalise([z1; z2]) (2N, k) and sim_ij = u_i·u_j / τ, the loss is
    ``mean_i -log( exp(sim_{i,i+N}) / Σ_{j≠i} exp(sim_ij) )`` over all 2N anchors.

    Args:
        z1, z2: (N, k) projections of the two views of the same N rows.
        temperature: τ > 0.
    """
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    sim = u @ u.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=sim.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(sim.device)
    return F.cross_entropy(sim, target)


def margin_contrastive(z1: torch.Tensor, z2: torch.Tensor, *, margin: float = 0.5) -> torch.Tensor:
    """Hinge on cosine similarity: pull positive pairs together, push negatives below ``margin``.

    ``L = mean_i (1 - cos(z1_i, z2_i)) + mean_{i≠j} max(0, cos(z1_i, z2_j) - margin)``.
    z1, z2: (N, k).
    """
    n = z1.shape[0]
    c = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T  # (N, N)
    pos = 1.0 - c.diagonal()
    if n < 2:
        return pos.mean()
    off = ~torch.eye(n, dtype=torch.bool, device=c.device)
    neg = F.relu(c[off] - margin)
    return pos.mean() + neg.mean()


def mask_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """VIME mask prediction: mean binary cross-entropy of which (row, span) cells were corrupted.

    logits, mask: (n, S); mask is 1 where the cell was replaced.
    """
    return F.binary_cross_entropy_with_logits(logits, mask.to(logits.dtype))
