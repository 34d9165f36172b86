"""Clusters of the learned embedding, each named by what its products share.

:func:`cluster` finds density clusters (scikit-learn's HDBSCAN) of the run's 2D UMAP map of the embedding
(the Map page's layout: UMAP keeps each product's nearest neighbours together and packs them densely, which
HDBSCAN needs; on the 32-dimensional embedding itself it left 20–70% of the products unclustered, measured
in docs/BENCHMARKS.md) or, with ``cosine``, of the unit-length embeddings; products in no dense region get
-1 ("unclustered"). Above
:data:`MAX_ROWS` products it clusters a seeded sample and gives every other product its nearest sampled
product's cluster, which keeps 100,000 products to seconds. :func:`describe` names each cluster: its most
telling words (class-based TF-IDF of the text columns: frequent in this cluster, rare in the others) and
the categorical values most of its products share, with its size and the median of each numeric column.
Measured against the real catalogs' labels beside k-means: docs/BENCHMARKS.md (``bench/clusters.py``).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from product_repr.analysis import neighbours
from product_repr.errors import ConfigError

UNCLUSTERED = -1
MAX_ROWS = 20_000
#: the smallest cluster, as a share of the products (and at least MIN_SIZE products)
MIN_SHARE = 0.005
MIN_SIZE = 10
#: a categorical value names a cluster when at least this share of its products have it
DOMINANT = 0.6
WORDS = 3


def default_min_size(n: int) -> int:
    return max(MIN_SIZE, int(round(MIN_SHARE * n)))


def cluster(Z: np.ndarray, *, cosine: bool = True, min_size: int | None = None, seed: int = 0) -> np.ndarray:
    """Cluster number of every row of ``Z`` (n, d): int64 (n,), 0.. by decreasing size, -1 unclustered.
    ``cosine``: cluster the unit-length rows (an embedding); False for a map's coordinates (Euclidean).
    ``min_size``: the smallest cluster (default: 0.5% of the rows, at least 10). Raises ConfigError for
    fewer than 2 rows or a min_size below 2."""
    from sklearn.cluster import HDBSCAN

    U = np.asarray(Z, dtype=np.float32)
    U = neighbours.normalise(U) if cosine else np.ascontiguousarray(U)
    n = len(U)
    if n < 2:
        raise ConfigError(f"clustering needs at least 2 products, got {n}")
    size = default_min_size(n) if min_size is None else int(min_size)
    if size < 2:
        raise ConfigError(f"min_size must be at least 2, got {min_size}")
    sample = np.arange(n)
    if n > MAX_ROWS:
        sample = np.sort(np.random.default_rng(seed).choice(n, size=MAX_ROWS, replace=False))
        size = max(2, int(round(size * MAX_ROWS / n)))
    fitted = HDBSCAN(min_cluster_size=min(size, len(sample)), copy=True).fit_predict(U[sample])
    labels = np.full(n, UNCLUSTERED, dtype=np.int64)
    labels[sample] = fitted
    if len(sample) < n:
        rest = np.setdiff1d(np.arange(n), sample)
        labels[rest] = fitted[nearest(U[sample], U[rest], cosine=cosine)]
    return _by_size(labels)


def nearest(base: np.ndarray, queries: np.ndarray, *, cosine: bool = True) -> np.ndarray:
    """Row of ``base`` nearest to each row of ``queries`` (int64 (q,)), by cosine or Euclidean distance."""
    if cosine:
        return neighbours.nearest_rows(base, queries, 1)[0][:, 0]
    from scipy.spatial import cKDTree

    return np.asarray(cKDTree(base).query(queries, k=1)[1], dtype=np.int64)


def assign_all(Z: np.ndarray, labels: np.ndarray, *, cosine: bool = True) -> np.ndarray:
    """``labels`` with every unclustered row given its nearest clustered row's cluster."""
    labels = np.asarray(labels).copy()
    loose = labels == UNCLUSTERED
    if loose.any() and (~loose).any():
        labels[loose] = labels[~loose][nearest(Z[~loose], Z[loose], cosine=cosine)]
    return labels


def _by_size(labels: np.ndarray) -> np.ndarray:
    found = labels[labels != UNCLUSTERED]
    if not len(found):
        return labels
    values, counts = np.unique(found, return_counts=True)
    order = values[np.lexsort((values, -counts))]
    renumber = {int(v): i for i, v in enumerate(order)}
    return np.array([renumber.get(int(v), UNCLUSTERED) for v in labels], dtype=np.int64)


def kmeans(Z: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """k-means of the unit-length rows of ``Z`` (the comparison for :func:`cluster`): int64 (n,)."""
    from sklearn.cluster import KMeans

    U = neighbours.normalise(np.asarray(Z, dtype=np.float32))
    return KMeans(n_clusters=max(1, min(int(k), len(U))), n_init=3, random_state=seed).fit_predict(U).astype(np.int64)


def telling_words(texts: Sequence[str], labels: np.ndarray, *, top: int = WORDS) -> dict[int, list[str]]:
    """Each cluster's ``top`` words by class-based TF-IDF: a word's frequency in the cluster's texts times
    log(1 + average words per cluster / the word's frequency over all clusters). Unclustered rows count
    in the frequencies but get no words. {cluster: [word, ...]}."""
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels)
    groups = sorted(int(c) for c in np.unique(labels) if c != UNCLUSTERED)
    if not groups:
        return {}
    keys = [*groups, UNCLUSTERED] if (labels == UNCLUSTERED).any() else groups
    docs = [" ".join(str(t) for t, lab in zip(texts, labels) if lab == c) for c in keys]
    try:
        vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b", lowercase=True)
        counts = vectorizer.fit_transform(docs).toarray().astype(np.float64)
    except ValueError:  # no words at all (numbers only, empty texts)
        return {c: [] for c in groups}
    words = vectorizer.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    idf = np.log1p(counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1.0))
    weight = tf * idf
    out = {}
    for row, c in enumerate(keys[: len(groups)]):
        best = np.argsort(-weight[row], kind="stable")[:top]
        out[c] = [str(words[j]) for j in best if counts[row, j] > 0]
    return out


def describe(labels: np.ndarray, rows: pd.DataFrame, *, text: Sequence[str] = (), categorical: Sequence[str] = (),
             numeric: Sequence[str] = ()) -> pd.DataFrame:
    """One row per cluster (unclustered last): cluster, size, share, label, words, shared (the categorical
    values held by at least :data:`DOMINANT` of its products, with their share) and the median of each
    ``numeric`` column. ``rows``: the catalog rows in the order of ``labels``; the label is the telling
    words, else the shared values, else "cluster N"."""
    labels = np.asarray(labels)
    if len(rows) != len(labels):
        raise ConfigError(f"{len(labels)} cluster labels for {len(rows)} products")
    rows = rows.reset_index(drop=True)
    texts = rows[list(text)].astype("string").fillna("").agg(" ".join, axis=1).tolist() if text else [""] * len(rows)
    words = telling_words(texts, labels)
    records = []
    for c in [*sorted(int(v) for v in np.unique(labels) if v != UNCLUSTERED),
              *([UNCLUSTERED] if (labels == UNCLUSTERED).any() else [])]:
        part = rows.loc[labels == c]
        shared = []
        for col in categorical:
            values = part[col].astype("string").dropna()
            if len(values):
                top = values.value_counts(normalize=True)
                if top.iloc[0] >= DOMINANT:
                    shared.append(f"{col}: {top.index[0]} ({top.iloc[0]:.0%})")
        said = words.get(c, [])
        if c == UNCLUSTERED:
            label = "unclustered"
        else:
            label = " · ".join(said) or (shared[0].split(" (")[0] if shared else f"cluster {c}")
        record = {"cluster": c, "size": len(part), "share": len(part) / max(len(rows), 1), "label": label,
                  "words": ", ".join(said), "shared": "; ".join(shared)}
        for col in numeric:
            record[f"median {col}"] = pd.to_numeric(part[col], errors="coerce").median()
        records.append(record)
    return pd.DataFrame.from_records(records)
