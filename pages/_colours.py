"""Colours shared by the dashboard's figures: the palette, the error scale, and values ready to colour by.

Not a page. Pure functions of arrays and series.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MAX_LEVELS = 20  # distinct colours before the rest become "other"
OTHER = "(other)"
MISSING = "(missing)"
PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6",
    "#9D755D", "#BAB0AC", "#1F77B4", "#D62728", "#2CA02C", "#9467BD", "#8C564B", "#E377C2",
    "#17BECF", "#BCBD22", "#393B79", "#AD494A",
)
OTHER_COLOUR = "#C7C7C7"
# low errors recede (pale blue), high ones stand out (red) on a white background
ERROR_SCALE = [[0.0, "#c6dbef"], [0.45, "#6baed6"], [0.7, "#2171b5"], [0.85, "#f16913"], [1.0, "#a50f15"]]


def colour_values(values: pd.Series | np.ndarray, *, continuous: bool | None = None) -> tuple[np.ndarray, bool]:
    """Values ready to colour by, and whether the scale is continuous.

    Numeric data (or ``continuous=True``) becomes float64 with NaN for missing; anything else
    becomes strings with ``"(missing)"`` for missing values.
    """
    series = pd.Series(np.asarray(values, dtype=object) if isinstance(values, np.ndarray) and values.dtype == object else values)
    if continuous is None:
        continuous = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if continuous:
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64), True
    text = series.astype("string").fillna(MISSING).to_numpy(dtype=object)
    text = np.where(text == "", MISSING, text)
    return text, False


def top_levels(values: np.ndarray, limit: int = MAX_LEVELS) -> list[str]:
    """The ``limit`` most frequent levels, most frequent first (ties by name, so colours are stable)."""
    counts = pd.Series(values).value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [str(level) for level, _ in ordered[:limit]]
