"""Loss functions: per-span reconstruction, NT-Xent, margin contrastive and mask prediction.

All are pure functions of tensors; none mutates its inputs.

Span weighting. X is a concatenation of spans, one per source column, of very different widths and scales
(a price is 2 dims of unit variance; a 128-dim text block may have a total variance of 1, so about 0.008 per
dim). Averaging the squared error over all p dims, or even over each span's dims, would let some columns
drown the others, so the reconstruction loss is

    L = Σ_s w_s ℓ_s,   w_s = 1 / (S · b_s),

where ℓ_s is the mean over the batch rows of the span's loss: the squared error averaged over the span's
dims for an "mse" span, the cross-entropy  -Σ_j x_j log softmax(x̂_s)_j  for a "ce" (one-hot) span; and
b_s (:func:`span_baselines`) is the loss of the trivial predictor on the training data: the span's mean
per-dim variance for "mse" spans (predicting the column mean), the entropy of the level frequencies for
"ce" spans (predicting the marginal). So every source column counts equally, whatever its width and
scale: a normalised loss of 1 means "no better than knowing only that column's average". Constant
columns (b_s ≈ 0) get weight 0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from product_repr.features.space import Span


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


MIN_BASELINE = 1e-8  # below this a span is constant: nothing to learn, weight 0
MIN_ENTROPY = 0.05  # nats; keeps a near-constant categorical column from dominating


def span_baselines(X: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """(S,) float64: the loss ℓ_s of the trivial predictor for each span of X (n, p); see the module docstring."""
    from product_repr.features.rowfile import RowFile

    if isinstance(X, RowFile):
        return _file_baselines(X, spans)
    X = np.asarray(X)
    out = np.zeros(len(spans))
    for k, s in enumerate(spans):  # one span in float64 at a time: no float64 copy of the whole of X
        block = X[:, s.start:s.stop].astype(np.float64)
        if s.loss == "ce":
            freq = block.mean(axis=0)
            freq = freq[freq > 0]
            entropy = float(-(freq * np.log(freq)).sum()) if freq.size else 0.0
            out[k] = max(entropy, MIN_ENTROPY) if block.any() else 0.0
        else:
            out[k] = float(block.var(axis=0).mean()) if len(block) else 0.0
    return out


def _file_baselines(X, spans: Sequence[Span]) -> np.ndarray:
    """:func:`span_baselines` of a RowFile (the same quantities from column means and variances)."""
    from product_repr.features.rowfile import column_moments

    means, variances = column_moments(X)
    out = np.zeros(len(spans))
    for k, s in enumerate(spans):
        if s.loss == "ce":
            freq = means[s.start:s.stop]
            nonzero = freq[freq > 0]
            entropy = float(-(nonzero * np.log(nonzero)).sum()) if nonzero.size else 0.0
            out[k] = max(entropy, MIN_ENTROPY) if (freq != 0).any() else 0.0
        else:
            out[k] = float(variances[s.start:s.stop].mean()) if len(X) else 0.0
    return out


def span_weights(X: np.ndarray, spans: Sequence[Span], mode: str = "equal") -> np.ndarray:
    """(S,) float32 span weights, 0 for constant spans.

    ``mode="equal"``: w_s = 1 / (S · b_s), every source column counts the same.
    ``mode="scaled"``: w_s = a_s / (S · b_s) with a_s the span's total standard deviation in X for "mse"
    spans and 1 for "ce" spans, so the feature space's own emphasis (its ``text_weight``, 10 by default) carries over.
    """
    base = span_baselines(X, spans)
    w = np.where(base > MIN_BASELINE, 1.0 / np.maximum(base, MIN_BASELINE), 0.0) / max(len(spans), 1)
    if mode == "scaled":
        from product_repr.features.rowfile import RowFile, column_moments

        if isinstance(X, RowFile):
            variances = column_moments(X)[1]
            total = [float(variances[s.start:s.stop].sum()) for s in spans]
        else:
            X = np.asarray(X)
            total = [float(X[:, s.start:s.stop].astype(np.float64).var(axis=0).sum()) for s in spans]
        scale = np.array([1.0 if s.loss == "ce" else float(np.sqrt(t)) for s, t in zip(spans, total)])
        w = w * scale
    elif mode != "equal":
        raise ValueError(f"unknown span weighting {mode!r}")
    return w.astype(np.float32)


def reconstruction_loss(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    spans: Sequence[Span],
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scalar span-weighted reconstruction loss ``Σ_s w_s mean_rows(ℓ_s)``.

    ``weights``: (S,) span weights, normally :func:`span_weights` of the training data; default ``1/S``
    each (equal weights on the raw span losses).
    """
    per = span_losses(x_hat, x, spans).mean(dim=0)  # (S,)
    if weights is None:
        return per.mean()
    return (per * weights.to(per.device, per.dtype)).sum()


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
    keys, at = _batch_rows(u)
    sim = u @ keys.T.to(u.dtype) / temperature
    own = torch.arange(2 * n, device=sim.device)
    sim[own, at + own] = float("-inf")
    target = (at + torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])).to(sim.device)
    return F.cross_entropy(sim, target)


def _batch_rows(u: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The rows of the whole step's batch and where ``u``'s own rows start in them: in a training step of a
    process group, the rows of every process (so the other processes' rows are negatives too, as they would
    be in one process); otherwise ``u`` itself."""
    if not torch.is_grad_enabled():
        return u, 0
    from product_repr.learners.group import gather_rows

    return gather_rows(u)


def margin_contrastive(z1: torch.Tensor, z2: torch.Tensor, *, margin: float = 0.5) -> torch.Tensor:
    """Hinge on cosine similarity: pull positive pairs together, push negatives below ``margin``.

    ``L = mean_i (1 - cos(z1_i, z2_i)) + mean_{i≠j} max(0, cos(z1_i, z2_j) - margin)``.
    z1, z2: (N, k).
    """
    n = z1.shape[0]
    a = F.normalize(z1, dim=1)
    b, at = _batch_rows(F.normalize(z2, dim=1))
    c = a @ b.T.to(a.dtype)  # (N, all N of the step)
    own = torch.arange(n, device=c.device)
    pos = 1.0 - c[own, at + own]
    if c.shape[1] < 2:
        return pos.mean()
    off = torch.ones_like(c, dtype=torch.bool)
    off[own, at + own] = False
    neg = F.relu(c[off] - margin)
    return pos.mean() + neg.mean()


def mask_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """VIME mask prediction: mean binary cross-entropy of which (row, span) cells were corrupted.

    logits, mask: (n, S); mask is 1 where the cell was replaced.
    """
    return F.binary_cross_entropy_with_logits(logits, mask.to(logits.dtype))
