"""The map forming while a model learns: a 2D layout of a sample of products' embeddings at each training
check, every layout turned to match the one before so the replay shows products moving, not the axes
flipping.

Each layout is PCA of that moment's embeddings (cheap: 2,000 products x 32 dimensions in milliseconds),
aligned to the previous layout by orthogonal Procrustes (``analysis.align``). The first comes before any
training (the random initial encoder), the last from the last check (training then keeps the weights of
its best check).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from product_repr.analysis import align

#: products drawn in the snapshots (a seeded sample above this)
ROWS = 2000


def sample_rows(n: int, *, limit: int = ROWS, seed: int = 0) -> np.ndarray:
    """Sorted row positions of the products the snapshots draw: all ``n``, or a seeded sample of ``limit``."""
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False)).astype(np.int64)


def layout(Z: np.ndarray) -> np.ndarray:
    """PCA of ``Z`` (m, d) to 2D scaled to unit root-mean-square spread, float32 (m, 2); zeros when Z has no
    spread."""
    Z = np.asarray(Z, dtype=np.float64)
    centred = Z - Z.mean(axis=0)
    if len(Z) < 2 or not np.any(centred):
        return np.zeros((len(Z), 2), dtype=np.float32)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])
    spread = np.sqrt((coords ** 2).sum(axis=1).mean())
    return (coords / spread).astype(np.float32)  # unit spread: every snapshot on one scale


@dataclass
class Replay:
    """Snapshots of one training: ``rows`` (the sampled row positions) and ``frames`` [(step, coords (m, 2))]."""

    rows: np.ndarray
    steps: int = 0  # the planned steps, for "step 300 of 1,000"
    frames: list = field(default_factory=list)

    def add(self, step: int, Z: np.ndarray) -> np.ndarray:
        """A layout of ``Z`` (the sampled rows' embeddings), aligned to the previous one; returns it."""
        coords = layout(Z)
        if self.frames and len(coords) >= 3 and np.any(coords):
            coords, _ = align.procrustes(self.frames[-1][1], coords)
        self.frames.append((int(step), coords))
        return coords
