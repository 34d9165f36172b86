"""Corruptions of a batch, cell by cell, where a cell is one (row, source column) pair.

Every function works per *span* (source column), so a categorical one-hot block or a text SVD block is
replaced as a whole and a one-hot row stays one-hot. Each takes an explicit ``torch.Generator``, returns
new tensors and never mutates its input. Each returns ``(x_tilde, mask)`` where ``mask`` (n, S) is True
for the cells that were replaced (the target of VIME's mask-prediction head).

- :func:`swap_noise`: each cell with probability ``rate`` takes the same column's value from another row
  (the Porto Seguro denoising autoencoder).
- :func:`scarf_marginal`: exactly ``round(rate * S)`` columns of each row are replaced by draws from each
  column's empirical marginal, i.e. the value of a random row of ``source`` (SCARF, Bahri et al. 2022).
- :func:`vime_mask`: a Bernoulli(``rate``) mask per cell, replaced values taken from a column-wise
  shuffle of the batch (VIME, Yoon et al. 2020).

Random numbers are drawn on the generator's device and then moved to ``x``'s device.
"""
from __future__ import annotations

from typing import Sequence

import torch

from product_repr.errors import ConfigError
from product_repr.features.space import Span


def span_of_dim(spans: Sequence[Span], p: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(p,) long tensor: the index of the span each feature dim belongs to.

    Raises ``ConfigError`` if the spans do not tile ``0..p`` exactly.
    """
    index = torch.full((p,), -1, dtype=torch.long)
    for k, s in enumerate(spans):
        if s.start < 0 or s.stop > p or s.stop <= s.start:
            raise ConfigError(f"span {s.name!r} covers [{s.start}, {s.stop}) which is outside X's {p} columns")
        index[s.start:s.stop] = k
    if (index < 0).any():
        gap = int((index < 0).nonzero()[0])
        raise ConfigError(f"feature dim {gap} belongs to no span; the spans must cover all {p} columns of X")
    return index.to(device)


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"corruption rate must be in [0, 1], got {rate!r}")


def _replace(x: torch.Tensor, donor_rows: torch.Tensor, mask: torch.Tensor, spans: Sequence[Span],
             source: torch.Tensor | None = None) -> torch.Tensor:
    """x with each masked (row, span) cell copied from ``source[donor_rows[row, span], span]``."""
    dims = span_of_dim(spans, x.shape[1], x.device)
    src = x if source is None else source
    donor_d = donor_rows.to(x.device)[:, dims]  # (n, p)
    mask_d = mask.to(x.device)[:, dims]
    return torch.where(mask_d, src.gather(0, donor_d), x)


def swap_noise(x: torch.Tensor, spans: Sequence[Span], rate: float, *,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap noise: each (row, span) cell, with probability ``rate``, takes that span from another row.

    Args:
        x: (n, p) batch. spans: the S spans tiling X. rate: probability per cell in [0, 1].
    Returns:
        (x_tilde (n, p), mask (n, S) bool). With n < 2 nothing can be swapped and x is returned copied.
    """
    _check_rate(rate)
    n, S = x.shape[0], len(spans)
    gdev = generator.device
    if n < 2 or rate == 0.0:
        return x.clone(), torch.zeros((n, S), dtype=torch.bool, device=x.device)
    mask = torch.rand((n, S), generator=generator, device=gdev) < rate
    # another row: shift by 1..n-1 so a cell is never "replaced" by itself
    shift = torch.randint(1, n, (n, S), generator=generator, device=gdev)
    donor = (torch.arange(n, device=gdev)[:, None] + shift) % n
    return _replace(x, donor, mask, spans), mask.to(x.device)


def scarf_marginal(x: torch.Tensor, spans: Sequence[Span], rate: float, *, generator: torch.Generator,
                   source: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """SCARF corruption: replace exactly ``round(rate * S)`` spans of every row by marginal draws.

    Args:
        x: (n, p) batch. spans: the S spans tiling X. rate: share of columns replaced per row.
        source: (m, p) rows whose values form each column's empirical marginal; default ``x`` itself
            (a shuffled batch is a sample of the data, so its columns are samples of the marginals).
    Returns:
        (x_tilde (n, p), mask (n, S) bool).
    """
    _check_rate(rate)
    n, S = x.shape[0], len(spans)
    gdev = generator.device
    src = x if source is None else source
    k = int(round(rate * S))
    if k == 0 or src.shape[0] == 0:
        return x.clone(), torch.zeros((n, S), dtype=torch.bool, device=x.device)
    ranks = torch.rand((n, S), generator=generator, device=gdev).argsort(dim=1).argsort(dim=1)
    mask = ranks < k
    donor = torch.randint(0, src.shape[0], (n, S), generator=generator, device=gdev)
    return _replace(x, donor, mask, spans, src), mask.to(x.device)


def vime_mask(x: torch.Tensor, spans: Sequence[Span], rate: float, *,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """VIME mask-and-replace: a Bernoulli(``rate``) mask per (row, span); replaced values come from an
    independent shuffle of the batch rows for each span.

    Args:
        x: (n, p) batch. spans: the S spans tiling X. rate: mask probability per cell.
    Returns:
        (x_tilde (n, p), mask (n, S) bool).
    """
    _check_rate(rate)
    n, S = x.shape[0], len(spans)
    gdev = generator.device
    if n == 0 or rate == 0.0:
        return x.clone(), torch.zeros((n, S), dtype=torch.bool, device=x.device)
    mask = torch.rand((n, S), generator=generator, device=gdev) < rate
    donor = torch.rand((n, S), generator=generator, device=gdev).argsort(dim=0)  # one permutation per span
    return _replace(x, donor, mask, spans), mask.to(x.device)
