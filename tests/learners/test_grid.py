"""The choices of a log-scaled setting."""
from __future__ import annotations

from product_repr.learners.grid import log_grid


def test_log_grid_includes_the_default_and_the_bounds():
    grid = log_grid(1e-5, 1e-1, 3e-4)
    assert grid[0] == 1e-5 and grid[-1] == 1e-1 and 3e-4 in grid, grid
    assert grid == sorted(grid), "choices must be increasing"
    assert {1e-4, 2e-4, 5e-4} <= set(grid), "1-2-5 steps per decade"
    assert log_grid(8, 1000, 256, integer=True) == [8, 16, 32, 64, 128, 256, 512, 1000]
    assert log_grid(0.0, 1.0, 0.1)[0] == 0.0, "a zero low bound is the first choice"
