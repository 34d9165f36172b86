"""Why two products are alike: which of their columns agree, which differ, and how much each column adds to
their similarity.

Two views of one pair, both in the encoded features X (the learner's input, where every column has its own
block; the learned embedding mixes the columns, so it cannot be split by column):

- ``agreement`` per source column: 1 minus the distance between the two products' blocks over the column's
  typical distance between two random products, capped at 1 (``duplicates.column_distances``): 1 = the same
  value, 0 = as different as two products picked at random. The duplicate finder's similarity is its mean.
- ``contribution`` per source column: the column's share of the cosine similarity of the two rows of X,
  ``x_a[c] · x_b[c] / (|x_a| |x_b|)``. The contributions add up exactly to the cosine, so they say which
  columns make the pair close (a long shared description) and which pull it apart (negative: opposite sides
  of a standardised number).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from product_repr.analysis import duplicates
from product_repr.errors import ConfigError

COLUMNS = ("column", "agreement", "contribution", "a", "b")


def explain_pair(X: np.ndarray, spans: Sequence, a: int, b: int, *, rows: pd.DataFrame | None = None,
                 typical: np.ndarray | None = None) -> pd.DataFrame:
    """Products ``a`` and ``b`` (row positions in ``X`` (n, p)) column by column: DataFrame(column,
    agreement, contribution, a, b), the columns that differ most first. ``rows``: the catalog rows in X's
    order, for the two products' values (``a``, ``b``; empty without rows). ``typical``: the columns'
    typical distances (``duplicates.typical_distances``), computed from X when not given.
    Raises ConfigError for a row outside X."""
    n = len(X)
    for i in (a, b):
        if not 0 <= int(i) < n:
            raise ConfigError(f"row {i} is not one of the {n} products")
    X = np.asarray(X, dtype=np.float32)
    typical = duplicates.typical_distances(X, spans) if typical is None else typical
    agreement = 1.0 - duplicates.column_distances(X, spans, np.array([a]), np.array([b]), typical)[0]
    norm = float(np.linalg.norm(X[a]) * np.linalg.norm(X[b]))
    contribution = [float(X[a, s.start:s.stop] @ X[b, s.start:s.stop]) / norm if norm > 0 else 0.0 for s in spans]
    names = [s.name for s in spans]

    def values(i: int) -> list[str]:
        if rows is None:
            return [""] * len(names)
        row = rows.iloc[int(i)]
        return ["" if name not in rows.columns or pd.isna(row[name]) else str(row[name]) for name in names]

    frame = pd.DataFrame({"column": names, "agreement": agreement, "contribution": contribution,
                          "a": values(a), "b": values(b)}, columns=list(COLUMNS))
    return frame.sort_values(["agreement", "contribution"], kind="stable").reset_index(drop=True)


def summary(frame: pd.DataFrame, *, agree_at: float = 0.9, differ_at: float = 0.5) -> str:
    """One sentence from :func:`explain_pair`: the columns that agree and those that differ."""
    same = frame.loc[frame["agreement"] >= agree_at].sort_values("contribution", ascending=False)["column"].tolist()
    differ = frame.loc[frame["agreement"] < differ_at, "column"].tolist()
    said = []
    if same:
        said.append(f"alike in {', '.join(same)}")
    if differ:
        said.append(f"different in {', '.join(differ)}")
    return "; ".join(said).capitalize() if said else "Partly alike in every column"
