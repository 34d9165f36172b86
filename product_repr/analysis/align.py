"""Two maps of the same products put in one frame: the second rotated, reflected, scaled and shifted onto
the first (orthogonal Procrustes), so that a product's move between two runs is a move on screen, not an
artefact of UMAP's arbitrary orientation."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from product_repr.errors import ConfigError


def _fit(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(rotation, scale, A's mean, B's mean) taking B onto A: x -> scale (x - B̄) R + Ā."""
    a_mean, b_mean = A.mean(axis=0), B.mean(axis=0)
    a0, b0 = A - a_mean, B - b_mean
    u, s, vt = np.linalg.svd(b0.T @ a0)
    return u @ vt, float(s.sum() / max(float((b0 ** 2).sum()), 1e-12)), a_mean, b_mean


def procrustes(reference: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, float]:
    """``moving`` (n, 2|3) mapped onto ``reference`` (same shape, row i = the same product) by the rotation
    (or reflection), uniform scale and translation that minimise the squared distances: (aligned float32
    (n, d), residual = the remaining mean squared distance over the reference's spread, 0 = the same layout).
    Raises ConfigError for shapes that differ or fewer than 3 rows."""
    A = np.asarray(reference, dtype=np.float64)
    B = np.asarray(moving, dtype=np.float64)
    if A.shape != B.shape or A.ndim != 2:
        raise ConfigError(f"two layouts of the same products are needed, got shapes {A.shape} and {B.shape}")
    if len(A) < 3:
        raise ConfigError(f"aligning needs at least 3 products, got {len(A)}")
    rotation, scale, a_mean, b_mean = _fit(A, B)
    aligned = scale * (B - b_mean) @ rotation + a_mean
    residual = float(((aligned - A) ** 2).sum() / max(float(((A - a_mean) ** 2).sum()), 1e-12))
    return aligned.astype(np.float32), residual


def align_runs(ids_a: Sequence, coords_a: np.ndarray, ids_b: Sequence, coords_b: np.ndarray) -> tuple[np.ndarray, float]:
    """Run b's map aligned onto run a's through the products they share (matched by id): (all of b's
    coordinates in a's frame, residual over the shared products). Raises ConfigError when they share fewer
    than 3 products."""
    position = {str(p): i for i, p in enumerate(ids_a)}
    pairs = [(position[str(p)], j) for j, p in enumerate(ids_b) if str(p) in position]
    if len(pairs) < 3:
        raise ConfigError(f"the two runs share {len(pairs)} products; aligning their maps needs at least 3")
    ia, jb = map(np.array, zip(*pairs))
    A, B = np.asarray(coords_a, dtype=np.float64)[ia], np.asarray(coords_b, dtype=np.float64)[jb]
    _, residual = procrustes(A, B)
    rotation, scale, a_mean, b_mean = _fit(A, B)
    full = scale * (np.asarray(coords_b, dtype=np.float64) - b_mean) @ rotation + a_mean
    return full.astype(np.float32), residual
