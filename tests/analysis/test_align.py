"""Procrustes alignment of two maps."""
from __future__ import annotations

import numpy as np
import pytest

from product_repr.analysis import align
from product_repr.errors import ConfigError


def test_a_rotated_scaled_shifted_copy_aligns_back():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(300, 2))
    t = np.deg2rad(73)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    B = 2.5 * A @ R + np.array([10.0, -4.0])
    B[:, 0] *= -1  # and reflected, as UMAP may draw it
    aligned, residual = align.procrustes(A, B)
    assert np.abs(aligned - A).max() < 1e-4 and residual < 1e-8


def test_runs_are_aligned_through_their_shared_products():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(50, 2))
    ids_a = [f"P{i}" for i in range(50)]
    ids_b = ids_a[::-1] + ["Pnew"]  # another order and one product run a does not have
    B = np.vstack([(3 * A @ np.array([[0.0, 1.0], [-1.0, 0.0]]))[::-1], [[0.0, 0.0]]])
    full, residual = align.align_runs(ids_a, A, ids_b, B)
    assert full.shape == (51, 2) and residual < 1e-8
    assert np.abs(full[:-1][::-1] - A).max() < 1e-4
    noisy, worse = align.align_runs(ids_a, A, ids_a, rng.normal(size=(50, 2)))
    assert worse > 0.5
    with pytest.raises(ConfigError, match="share 0 products"):
        align.align_runs(ids_a, A, ["x", "y", "z"], B[:3])
