"""Catalog-wide duplicates: pairs and groups of products that are near-identical.

A pair's ``similarity`` is the cosine similarity of the two products' rows of the encoded features X
(every attribute, the text as its vectors), and ``embedding_similarity`` the cosine of their learned
embeddings. Candidates are each product's ``k`` nearest neighbours in X (exact search, faiss), so the
cost is one k-NN search, never all n² pairs. A pair is listed when its similarity is at least the
threshold; pairs that share a product are joined into a ``group`` (connected components).

Why X and not only the embedding: an embedding is trained to put *similar* products close (a kettle near
other kettles), so near-duplicates and close siblings are hard to tell apart there; X keeps each exact
attribute, so a copy with a slightly different title and price is closer to its original than to any
sibling. Measured on the demo catalog's planted copies: docs/ANALYSIS.md.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from product_repr.analysis import neighbours
from product_repr.errors import ConfigError

#: the default threshold on the cosine similarity of X
THRESHOLD = 0.95
K = 5
COLUMNS = ("product_a", "product_b", "similarity", "embedding_similarity", "group")


def candidate_pairs(X: np.ndarray, *, k: int = K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, similarity): every product with each of its ``k`` nearest neighbours in X, each unordered
    pair once (a < b), most similar first. ``X``: float (n, p)."""
    n = len(X)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    ids, sims = neighbours.all_neighbours(np.asarray(X, dtype=np.float32), min(k, n - 1))
    a = np.repeat(np.arange(n), ids.shape[1])
    b = ids.ravel()
    s = sims.ravel()
    keep = b >= 0
    a, b, s = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep]), s[keep]
    order = np.lexsort((b, a, -s))
    a, b, s = a[order], b[order], s[order]
    _, first = np.unique(a * n + b, return_index=True)
    first = np.sort(first)
    return a[first], b[first], s[first].astype(np.float32)


def groups(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Connected component of each pair (numbered 1.. in order of first appearance)."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(a.tolist(), b.tolist()):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([root(i) for i in a.tolist()], dtype=np.int64)
    numbers: dict[int, int] = {}
    return np.array([numbers.setdefault(r, len(numbers) + 1) for r in roots.tolist()], dtype=np.int64)


def duplicate_pairs(X: np.ndarray, product_ids: Sequence, *, Z: np.ndarray | None = None,
                    threshold: float = THRESHOLD, k: int = K) -> pd.DataFrame:
    """The near-identical pairs: DataFrame(product_a, product_b, similarity, embedding_similarity, group),
    similarity >= ``threshold``, most similar first. ``Z`` (n, d): the learned embeddings, for
    ``embedding_similarity`` (NaN without it). Raises ConfigError for a threshold outside [-1, 1]."""
    if not -1.0 <= float(threshold) <= 1.0:
        raise ConfigError(f"threshold {threshold} is not a cosine similarity; choose a value in [-1, 1] (default {THRESHOLD})")
    ids = np.asarray(product_ids).astype(str)
    if len(ids) != len(X):
        raise ConfigError(f"{len(ids)} product ids for {len(X)} rows of features")
    a, b, s = candidate_pairs(X, k=k)
    keep = s >= threshold
    a, b, s = a[keep], b[keep], s[keep]
    if Z is not None and len(a):
        Zn = neighbours.normalise(np.asarray(Z, dtype=np.float32))
        z = np.einsum("ij,ij->i", Zn[a], Zn[b]).astype(np.float32)
    else:
        z = np.full(len(a), np.nan, dtype=np.float32)
    return pd.DataFrame({"product_a": ids[a], "product_b": ids[b], "similarity": s,
                         "embedding_similarity": z, "group": groups(a, b, len(ids))}, columns=list(COLUMNS))


def differences(df: pd.DataFrame, row_a: int, row_b: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Two products side by side: DataFrame(column, a, b, same), the columns that differ first."""
    columns = list(columns if columns is not None else df.columns)
    a = df.iloc[row_a][columns]
    b = df.iloc[row_b][columns]
    same = [(_blank(x) and _blank(y)) or str(x).strip() == str(y).strip() for x, y in zip(a, b)]
    frame = pd.DataFrame({"column": columns, "a": a.astype(str).to_numpy(), "b": b.astype(str).to_numpy(),
                          "same": same})
    return frame.sort_values("same", kind="stable").reset_index(drop=True)


def _blank(v) -> bool:
    return v is None or (not isinstance(v, str) and pd.isna(v)) or (isinstance(v, str) and not v.strip())
