"""Catalog-wide duplicates: pairs and groups of products that are near-identical.

A pair's ``similarity`` says how many of the two products' columns match: for each source column, the
distance between their blocks of the encoded features X is divided by the column's typical distance
between two random products and capped at 1 (0 = identical, 1 = as different as any two products); the
similarity is 1 minus the mean over the columns. Every column counts the same, whatever its width in X,
so two siblings with the same brand and category but another description stay below a copy whose title
lost a word and whose price moved by 2 %. ``embedding_similarity`` is the cosine of the two learned
embeddings, for context: an embedding puts *similar* products close, so it cannot tell copies from siblings.

Candidates are each product's ``k`` nearest neighbours in X (searched in X's top principal directions),
so the cost is one k-NN search, never all n² pairs. A pair is listed when its similarity is at least the
threshold; pairs that share a product are joined into a ``group`` (connected components). Measured on the
demo catalog's planted copies: docs/ANALYSIS.md.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from product_repr.analysis import neighbours
from product_repr.errors import ConfigError

#: the default threshold on :func:`similarity`
THRESHOLD = 0.94
#: pairs are kept in a run from this similarity up, so any threshold at or above it needs no new search
FLOOR = 0.8
K = 10
#: candidates are searched in the top SEARCH_DIM principal directions of X, then scored column by column
SEARCH_DIM = 64
#: random pairs drawn to measure each column's typical distance
SAMPLE_PAIRS = 5000
#: pairs whose column distances are computed at a time (bounds the copies of their feature blocks)
PAIR_CHUNK = 65_536
#: ... and when X is read from a RowFile, whose rows are read whole (8,192 pairs of 2,095 columns: 137 MB)
FILE_PAIR_CHUNK = 8_192
PAIR_COLUMNS = ("product_a", "product_b", "similarity", "embedding_similarity")
COLUMNS = (*PAIR_COLUMNS, "group")


def typical_distances(X: np.ndarray, spans: Sequence, *, seed: int = 0) -> np.ndarray:
    """Per span, the median distance between the blocks of two random products (float64, len(spans))."""
    from product_repr.features.rowfile import RowFile

    rng = np.random.default_rng(seed)
    a, b = rng.integers(len(X), size=(2, SAMPLE_PAIRS)) if len(X) else (np.zeros(0, int),) * 2
    if isinstance(X, RowFile):  # each sampled row read once, not once per column
        (A, B), a, b = (X[a], X[b]), np.arange(len(a)), np.arange(len(b))
    else:
        A = B = X
    return np.array([float(np.median(np.linalg.norm(A[a, sp.start:sp.stop] - B[b, sp.start:sp.stop], axis=1)))
                     if len(a) else 0.0 for sp in spans])


def column_distances(X: np.ndarray, spans: Sequence, a: np.ndarray, b: np.ndarray,
                     typical: np.ndarray | None = None) -> np.ndarray:
    """(len(a), len(spans)): each pair's distance per source column over the column's typical distance,
    capped at 1. A column whose typical distance is 0 (one value for most products) counts 0 when the two
    blocks are equal and 1 otherwise."""
    from product_repr.features.rowfile import RowFile

    typical = typical_distances(X, spans) if typical is None else typical
    out = np.empty((len(a), len(spans)), dtype=np.float64)
    on_file = isinstance(X, RowFile)
    chunk = FILE_PAIR_CHUNK if on_file else PAIR_CHUNK
    for lo in range(0, len(a), chunk):  # the pairs' blocks are copied a chunk at a time, not all at once
        pa, pb = a[lo:lo + chunk], b[lo:lo + chunk]
        m = len(pa)
        if on_file:  # each pair's two rows read once, then cut by column (views, no copies)
            (A, B), pa, pb = (X[pa], X[pb]), slice(None), slice(None)
        else:  # one column's blocks of the chunk's pairs copied at a time
            A = B = X
        for j, sp in enumerate(spans):
            d = np.linalg.norm(A[pa, sp.start:sp.stop] - B[pb, sp.start:sp.stop], axis=1).astype(np.float64)
            out[lo:lo + m, j] = np.minimum(d / typical[j], 1.0) if typical[j] > 1e-9 else \
                (d > 1e-6).astype(np.float64)
    return out


def similarities(X: np.ndarray, spans: Sequence, a: np.ndarray, b: np.ndarray,
                 typical: np.ndarray | None = None, progress=None) -> np.ndarray:
    """float32 (len(a),): each pair's column-by-column similarity, 1 − the mean of its
    :func:`column_distances`, computed a chunk of pairs at a time (no (pairs, columns) matrix: 7 million
    candidate pairs of a million products by 50 columns would be 2.8 GB); ``progress(pairs done)`` after
    each chunk."""
    typical = typical_distances(X, spans) if typical is None else typical
    out = np.empty(len(a), dtype=np.float32)
    for lo in range(0, len(a), PAIR_CHUNK):
        out[lo:lo + PAIR_CHUNK] = 1.0 - column_distances(X, spans, a[lo:lo + PAIR_CHUNK], b[lo:lo + PAIR_CHUNK],
                                                         typical).mean(axis=1)
        if progress is not None:
            progress(min(len(a), lo + PAIR_CHUNK))
    return out


def candidate_pairs(X: np.ndarray, spans: Sequence, *, k: int = K,
                    progress=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, similarity): every product with each of its ``k`` nearest neighbours in X (float (n, p)),
    each unordered pair once (a < b), most similar first by the column-by-column similarity.
    ``progress(step, done, total)`` follows the two steps: ``"search"`` (products searched) and ``"score"``
    (candidate pairs scored).

    The neighbours are searched in X's top :data:`SEARCH_DIM` principal directions when X is wider
    (``neighbours.neighbour_graph``), which keeps the cost of 50,000 rows to seconds: a near-copy is
    close in every projection, so it is found there and then scored on all of X.
    """
    n = len(X)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    from product_repr.features.rowfile import as_rows

    X = as_rows(X)
    def follow(step: str, total: int):
        return None if progress is None else lambda done, *_: progress(step, int(done), total)

    ids = neighbours.neighbour_graph(X, min(k, n - 1), max_dim=SEARCH_DIM, progress=follow("search", n))
    a = np.repeat(np.arange(n), ids.shape[1])
    b = ids.ravel()
    del ids
    keep = b >= 0
    a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    del keep
    pair = np.unique(a * n + b)
    a, b = pair // n, pair % n
    del pair
    s = similarities(X, spans, a, b, progress=follow("score", len(a))) if len(spans) else np.ones(len(a), np.float32)
    order = np.lexsort((b, a, -s))
    return a[order], b[order], s[order]


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


def pairs(X: np.ndarray, spans: Sequence, product_ids: Sequence, *, Z: np.ndarray | None = None,
          floor: float = FLOOR, k: int = K, progress=None) -> pd.DataFrame:
    """Candidate pairs with similarity >= ``floor``: DataFrame(product_a, product_b, similarity,
    embedding_similarity), most similar first. What a run keeps (``duplicates.parquet``); pick a threshold
    with :func:`at_threshold`. ``spans``: the feature space's. ``Z`` (n, d): the learned embeddings, for
    ``embedding_similarity`` (NaN without it). ``progress``: see :func:`candidate_pairs`."""
    _check_threshold(floor, "floor")
    ids = np.asarray(product_ids).astype(str)
    if len(ids) != len(X):
        raise ConfigError(f"{len(ids)} product ids for {len(X)} rows of features")
    a, b, s = candidate_pairs(X, spans, k=k, progress=progress)
    keep = s >= floor
    a, b, s = a[keep], b[keep], s[keep]
    if Z is not None and len(a):
        Zn = neighbours.normalise(np.asarray(Z, dtype=np.float32))
        z = np.einsum("ij,ij->i", Zn[a], Zn[b]).astype(np.float32)
    else:
        z = np.full(len(a), np.nan, dtype=np.float32)
    return pd.DataFrame({"product_a": ids[a], "product_b": ids[b], "similarity": s, "embedding_similarity": z},
                        columns=list(PAIR_COLUMNS))


def at_threshold(candidates: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """The pairs of ``candidates`` (from :func:`pairs`) with similarity >= ``threshold``, most similar first,
    with their ``group``: pairs sharing a product are one group, numbered 1.. from the most similar."""
    _check_threshold(threshold, "threshold")
    found = candidates.loc[candidates["similarity"] >= threshold].sort_values(
        "similarity", ascending=False, kind="stable").reset_index(drop=True)
    codes, _ = pd.factorize(pd.concat([found["product_a"], found["product_b"]], ignore_index=True))
    a, b = codes[: len(found)], codes[len(found):]
    found["group"] = groups(a, b, int(codes.max()) + 1 if len(codes) else 0)
    return found


def duplicate_pairs(X: np.ndarray, spans: Sequence, product_ids: Sequence, *, Z: np.ndarray | None = None,
                    threshold: float = THRESHOLD, k: int = K) -> pd.DataFrame:
    """The near-identical pairs: DataFrame(product_a, product_b, similarity, embedding_similarity, group),
    similarity >= ``threshold``, most similar first. Raises ConfigError for a threshold outside [-1, 1]."""
    _check_threshold(threshold, "threshold")
    return at_threshold(pairs(X, spans, product_ids, Z=Z, floor=threshold, k=k), threshold)


def _check_threshold(value: float, what: str) -> None:
    if not -1.0 <= float(value) <= 1.0:
        raise ConfigError(f"{what} {value} is not a cosine similarity; choose a value in [-1, 1] "
                          f"(default {THRESHOLD})")


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
