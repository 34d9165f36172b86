"""Cosine nearest neighbours: for all products at once, and for one product.

Vectors are L2-normalised to float32 and searched with faiss ``IndexFlatIP``
(exact inner product, i.e. cosine similarity). Above :data:`EXACT_ROWS` rows the
all-products search is approximate (:func:`search_all`: faiss IVF, its probes raised
until the recall@k measured against the exact search on a sample reaches
:data:`TARGET_RECALL`), since the exact one grows with the square of the rows. A zero vector stays zero, so its
similarity to everything is 0 — never NaN. When a product is excluded from its
own list it is dropped *by id*, not by position: with exact duplicates the
duplicate may tie with (or beat, by rounding) the product itself.

The same functions serve the learned embedding ``Z`` and the raw feature matrix
``X``; :func:`overlap` compares the two neighbour lists ("what the model thinks
is similar" against "what the columns say").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from product_repr.errors import ConfigError

try:  # faiss is a requirement; the numpy path only keeps the module usable without it
    import faiss
except ImportError:  # pragma: no cover - exercised only where faiss is absent
    faiss = None

_BLOCK = 4096  # rows per block in the numpy fallback: bounds memory to _BLOCK * n floats

#: above this many rows the all-products search is approximate (search_all)
EXACT_ROWS = 200_000
#: the approximate search's recall@k against the exact one on a sample is raised at least to this
TARGET_RECALL = 0.97
#: rows whose exact neighbours measure the approximate search's recall
RECALL_SAMPLE = 1_000
#: queries searched at a time: bounds faiss's working memory per search (an IVF search holds the ids and
#: distances of every query's probed lists: a million queries probing 64 lists, 0.8 GB) and paces progress
QUERY_CHUNK = 65_536


def normalise(Z: np.ndarray) -> np.ndarray:
    """Rows of ``Z`` scaled to unit L2 norm, float32 C-contiguous, shape (n, d).

    Zero rows (and rows with non-finite values, set to zero) stay zero.
    Raises ConfigError if ``Z`` is not a 2-D array.
    """
    Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-D array (products x dimensions), got shape {Z.shape}")
    Z = np.array(Z, dtype=np.float32, order="C", copy=True)
    Z[~np.isfinite(Z)] = 0.0
    norms = np.sqrt(np.einsum("ij,ij->i", Z, Z, dtype=np.float64)).astype(np.float32)
    nonzero = norms > 0
    Z[nonzero] /= norms[nonzero, None]
    return Z


def _check_k(n: int, k: int, exclude_self: bool) -> None:
    limit = n - 1 if exclude_self else n
    if k < 1 or k > limit:
        raise ConfigError(
            f"k={k} neighbours asked for {n} products; choose 1 <= k <= {max(limit, 1)}"
            + (" (a product is not its own neighbour)" if exclude_self else "")
        )


def _search(base: np.ndarray, queries: np.ndarray, k: int, index=None,
            progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k inner products of ``queries`` against ``base`` (both normalised), sorted descending.
    ``progress(queries done)``, when given, after each :data:`QUERY_CHUNK` queries."""
    if faiss is not None:
        if index is None:
            index = faiss.IndexFlatIP(base.shape[1])
            index.add(base)
        return _in_chunks(index, queries, k, progress)
    ids_out = np.empty((len(queries), k), dtype=np.int64)
    sims_out = np.empty((len(queries), k), dtype=np.float32)
    for lo in range(0, len(queries), _BLOCK):
        block = queries[lo : lo + _BLOCK] @ base.T
        if k < block.shape[1]:
            part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(block.shape[1]), (len(block), 1))
        part_sims = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-part_sims, axis=1, kind="stable")
        ids_out[lo : lo + len(block)] = np.take_along_axis(part, order, axis=1)
        sims_out[lo : lo + len(block)] = np.take_along_axis(part_sims, order, axis=1)
    return ids_out, sims_out


def _drop_self(rows: np.ndarray, ids: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """From (m, k+1) results drop each row's own id; where it is absent, drop the last column."""
    is_self = ids == rows[:, None]
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    m = len(rows)
    return ids[keep].reshape(m, k), sims[keep].reshape(m, k)


def _self_first(rows: np.ndarray, ids: np.ndarray, sims: np.ndarray, self_sims: np.ndarray):
    """Put each row's own id in column 0 (ties with duplicates resolved in favour of self)."""
    is_self = ids == rows[:, None]
    m, k = ids.shape
    # rows where self is absent from the top k (more than k exact duplicates): it replaces the last entry
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    rest_ids = ids[~is_self].reshape(m, k - 1)
    rest_sims = sims[~is_self].reshape(m, k - 1)
    out_ids = np.concatenate([rows[:, None], rest_ids], axis=1)
    out_sims = np.concatenate([self_sims[:, None].astype(np.float32), rest_sims], axis=1)
    return out_ids, out_sims


class NeighbourIndex:
    """Normalised embeddings built once, queried many times.

    ``NeighbourIndex(Z)`` costs one pass over ``Z``; ``.query(i, k)`` then takes
    about a millisecond at 100k x 32 (one matrix-vector product and a partial sort).
    """

    def __init__(self, Z: np.ndarray):
        self.vectors = normalise(Z)
        self._faiss = None

    def __len__(self) -> int:
        return len(self.vectors)

    def _index(self):
        if faiss is not None and self._faiss is None:
            self._faiss = faiss.IndexFlatIP(self.vectors.shape[1])
            self._faiss.add(self.vectors)
        return self._faiss

    def query(self, i: int, k: int = 10, *, exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most cosine-similar products to product ``i``.

        Returns (ids int64 (k,), sims float32 (k,)) sorted by similarity, descending.
        Raises ConfigError for an out-of-range ``i`` or ``k``.
        """
        n = len(self.vectors)
        if not 0 <= int(i) < n:
            raise ConfigError(f"product index {i} is out of range; there are {n} products (0 .. {n - 1})")
        i = int(i)
        _check_k(n, k, exclude_self)
        return self.query_vector(self.vectors[i], k, exclude=i if exclude_self else None, self_id=i)

    def query_vector(
        self, v: np.ndarray, k: int = 10, *, exclude: int | None = None, self_id: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` products most cosine-similar to the vector ``v`` (shape (d,)), optionally skipping id ``exclude``."""
        n = len(self.vectors)
        v = normalise(np.asarray(v, dtype=np.float32).reshape(1, -1))[0]
        if v.shape[0] != self.vectors.shape[1]:
            raise ConfigError(f"query vector has {v.shape[0]} dimensions, the index has {self.vectors.shape[1]}")
        # einsum, not BLAS: a one-vector product gains nothing from threads, and on a busy
        # machine BLAS thread hand-offs made it 20x slower (28 ms instead of ~1 ms at 100k x 32)
        sims = np.einsum("ij,j->i", self.vectors, v)
        if exclude is not None:
            sims[exclude] = -np.inf
        elif self_id is not None:
            sims[self_id] = np.inf  # self first even when an exact duplicate ties
        k = min(k, n)
        top = np.argpartition(-sims, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-sims[top], kind="stable")]
        out = sims[top].astype(np.float32)
        if exclude is None and self_id is not None:
            out[top == self_id] = float(self.vectors[self_id] @ self.vectors[self_id])
        return top.astype(np.int64), out

    def all(self, k: int = 10, *, exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` neighbours of every product: (ids int64 (n, k), sims float32 (n, k))."""
        n = len(self.vectors)
        _check_k(n, k, exclude_self)
        rows = np.arange(n, dtype=np.int64)
        if exclude_self:
            ids, sims = _search(self.vectors, self.vectors, k + 1, self._index())
            return _drop_self(rows, ids, sims, k)
        ids, sims = _search(self.vectors, self.vectors, k, self._index())
        self_sims = np.einsum("ij,ij->i", self.vectors, self.vectors)
        return _self_first(rows, ids, sims, self_sims)


def all_neighbours(Z: np.ndarray, k: int = 10, *, exclude_self: bool = True,
                   exact: bool | None = None, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-``k`` neighbours of every row of ``Z`` (shape (n, d)): exact up to :data:`EXACT_ROWS`
    rows (or as ``exact`` says), above that approximate with a measured recall (:func:`search_all`).

    Returns ``(ids, sims)``: int64 (n, k) row indices and float32 (n, k) cosine
    similarities, each row sorted descending. With ``exclude_self`` a row never
    lists itself; without it, column 0 is the row itself (similarity 1, or 0 for
    a zero vector).

    Raises ConfigError if ``Z`` is not 2-D or ``k`` does not fit the number of rows.
    """
    ids, sims, _ = search_all(Z, k, exclude_self=exclude_self, exact=exact, progress=progress)
    return ids, sims


def search_all(Z: np.ndarray, k: int = 10, *, exclude_self: bool = True, exact: bool | None = None,
               seed: int = 0, progress=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`all_neighbours` with how they were found: ``(ids, sims, info)``, ``info`` JSON-safe with
    ``method`` ("exact" or "approximate (faiss IVF)") and, when approximate, ``nlist``, ``nprobe`` and
    ``recall`` (the share of the exact top-k found, measured on ``sample`` rows).

    The approximate search clusters the rows into ~4·√n lists (k-means on a sample) and looks in the
    ``nprobe`` lists nearest each query; ``nprobe`` doubles from 8 until the measured recall reaches
    :data:`TARGET_RECALL` (or every list is searched, which is exact). ``progress(rows done)``, when given,
    follows the search of every row's neighbours, :data:`QUERY_CHUNK` rows at a time.
    """
    Zn = normalise(Z)
    n = len(Zn)
    _check_k(n, k, exclude_self)
    rows = np.arange(n, dtype=np.int64)
    want = k + 1 if exclude_self else k
    info: dict = {"method": "exact"}
    if (exact is False or (exact is None and n > EXACT_ROWS)) and faiss is not None and n > 4 * want:
        ids, sims, info = _approximate(Zn, Zn, want, seed, progress)
        info["k"] = int(k)
    else:
        ids, sims = _search(Zn, Zn, want, progress=progress)
    if exclude_self:
        ids, sims = _drop_self(rows, ids, sims, k)
    else:
        ids, sims = _self_first(rows, ids, sims, np.einsum("ij,ij->i", Zn, Zn))
    return ids, sims, info


def search_rows(base: np.ndarray, queries: np.ndarray, k: int, *, exact: bool | None = None, seed: int = 0,
                progress=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The ``k`` rows of ``base`` (m, d) nearest by cosine to each row of ``queries`` (q, d), with how they
    were found: ``(ids int64 (q, k), sims float32 (q, k), info)`` as :func:`search_all`'s. Exact while
    m × q is at most :data:`EXACT_ROWS` squared (or as ``exact`` says), above that by an IVF index over
    ``base`` with its recall measured on a sample of the queries. ``progress(queries done)``."""
    B, Q = normalise(base), normalise(queries)
    _check_k(len(B), k, False)
    if (exact is False or (exact is None and len(B) * len(Q) > EXACT_ROWS ** 2)) and faiss is not None \
            and len(B) > 4 * k:
        ids, sims, info = _approximate(B, Q, k, seed, progress)
        return ids, sims, {**info, "k": int(k)}
    ids, sims = _search(B, Q, k, progress=progress)
    return ids, sims, {"method": "exact"}


def _approximate(base: np.ndarray, queries: np.ndarray, k: int, seed: int,
                 progress=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Each query's top-``k`` rows of ``base`` (both normalised; the same array for a self-search) by an IVF
    index whose probes are raised until its recall on a sample of the queries is enough."""
    n, d = base.shape
    rng = np.random.default_rng(seed)
    nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))  # faiss wants >= 39 training rows per list
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    train = base[np.sort(rng.choice(n, size=min(n, nlist * 64), replace=False))]
    index.cp.seed = int(seed)
    index.train(train)
    index.add(base)
    q = len(queries)
    sample = np.sort(rng.choice(q, size=min(q, RECALL_SAMPLE), replace=False))
    truth, _ = _search(base, queries[sample], k)
    nprobe, recall = 8, 0.0
    while True:
        index.nprobe = min(nprobe, nlist)
        found, _ = _in_chunks(index, queries[sample], k)
        recall = float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found, truth)]))
        if recall >= TARGET_RECALL or index.nprobe >= nlist:
            break
        nprobe *= 2
    ids, sims = _in_chunks(index, queries, k, progress)
    lost = (ids < 0).any(axis=1)  # fewer than k rows in the probed lists: search those rows exactly
    if lost.any():
        ids[lost], sims[lost] = _search(base, queries[lost], k)
    return ids, sims, {"method": "approximate (faiss IVF)", "nlist": int(nlist), "nprobe": int(index.nprobe),
                       "recall": round(recall, 4), "sample": int(len(sample))}


def _in_chunks(index, queries: np.ndarray, k: int, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64, sims) of a faiss ``index``'s top-``k`` for ``queries``, searched :data:`QUERY_CHUNK`
    queries at a time, each chunk followed by ``progress(queries done)`` when given."""
    if len(queries) <= QUERY_CHUNK and progress is None:
        sims, ids = index.search(queries, k)
        return ids.astype(np.int64, copy=False), sims
    ids = np.empty((len(queries), k), dtype=np.int64)
    sims = np.empty((len(queries), k), dtype=np.float32)
    for lo in range(0, len(queries), QUERY_CHUNK):
        part = queries[lo:lo + QUERY_CHUNK]
        sims[lo:lo + len(part)], ids[lo:lo + len(part)] = index.search(part, k)
        if progress is not None:
            progress(lo + len(part))
    return ids, sims


def nearest_rows(base: np.ndarray, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``base`` (m, d) nearest by cosine to each row of ``queries`` (q, d): (ids int64
    (q, k) row positions into ``base``, sims float32 (q, k)). Raises ConfigError when k does not fit."""
    B = normalise(base)
    _check_k(len(B), k, False)
    return _search(B, normalise(queries), k)


GRAPH_DIM = 256  # neighbour_graph searches wider matrices in their top GRAPH_DIM principal directions
GRAPH_SVD_ROWS = 100_000  # ... found on at most this many rows (a seeded sample of a bigger table)
FILE_SVD_ROWS = 10_000  # ... or of these, when X is read from a RowFile (a big table: its sample is read, not sliced)
_GRAPH_CHUNK = 50_000


def neighbour_graph(X: np.ndarray, k: int = 10, *, max_dim: int = GRAPH_DIM, seed: int = 0,
                    progress=None) -> np.ndarray:
    """Each row's ``k`` nearest cosine neighbours in ``X`` (n, p), itself excluded: int64 (n, min(k, n-1)).

    For the learners whose positive pairs are neighbours. When p > ``max_dim`` the unit rows are first
    projected on their top ``max_dim`` right singular vectors (randomized SVD, seeded), which keeps the
    neighbourhoods (kNN@10 on the real catalogs within 0.004 of the full matrix, docs/LEARNERS.md) and
    bounds the exact search: 100,000 rows x 1,024 columns took 23 s on 2 CPU cores. ``progress(rows done)``
    follows the search (:func:`search_all`). Raises ConfigError for fewer than 2 rows.
    """
    n = len(X)
    if n < 2:
        raise ConfigError(f"a neighbour graph needs at least 2 rows, got {n}")
    if X.shape[1] <= max_dim:
        ids, _ = all_neighbours(normalise(X), min(int(k), n - 1), progress=progress)
        return ids
    from sklearn.utils.extmath import randomized_svd

    # the directions come from the unit rows (of a seeded sample of a big table); every row is then projected
    # a chunk at a time, so no normalised copy of the whole of X is made
    from product_repr.features.rowfile import RowFile

    limit = FILE_SVD_ROWS if isinstance(X, RowFile) else GRAPH_SVD_ROWS
    rows = slice(None) if n <= limit else np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    _, _, vt = randomized_svd(normalise(X[rows]), n_components=max_dim, n_iter=2, random_state=seed)
    basis = np.ascontiguousarray(vt.T.astype(np.float32))
    from product_repr.features.rowfile import chunk_rows, row_chunks

    U = np.empty((n, basis.shape[1]), dtype=np.float32)  # fewer directions than max_dim on a small sample
    for lo, block in row_chunks(X, chunk_rows(X.shape[1], _GRAPH_CHUNK)):
        U[lo:lo + len(block)] = normalise(block) @ basis
    ids, _ = all_neighbours(U, min(int(k), n - 1), progress=progress)
    return ids


def query(
    Z: np.ndarray | NeighbourIndex, i: int, k: int = 10, *, exclude_self: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest cosine neighbours of row ``i``: (ids int64 (k,), sims float32 (k,)).

    Pass a :class:`NeighbourIndex` instead of ``Z`` to reuse its normalised
    matrix across calls (the dashboard does); with a raw array the matrix is
    normalised on every call. Equals row ``i`` of :func:`all_neighbours`, up to
    the order of exact ties.

    Raises ConfigError for an out-of-range ``i`` or ``k``.
    """
    index = Z if isinstance(Z, NeighbourIndex) else NeighbourIndex(Z)
    return index.query(i, k, exclude_self=exclude_self)


def overlap(ids_a: np.ndarray, ids_b: np.ndarray) -> np.ndarray:
    """Per-row share of neighbours two lists have in common, float32 (n,) in [0, 1].

    ``ids_a`` (n, ka) and ``ids_b`` (n, kb), e.g. neighbours in the learned
    embedding and in the raw feature space; the share is ``|A ∩ B| / min(ka, kb)``.
    Raises ConfigError if the row counts differ.
    """
    a = np.asarray(ids_a)
    b = np.asarray(ids_b)
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b):
        raise ConfigError(f"neighbour lists must be (n, k) arrays of the same n; got {a.shape} and {b.shape}")
    denom = max(min(a.shape[1], b.shape[1]), 1)
    out = np.empty(len(a), dtype=np.float32)
    step = max(1, 2_000_000 // max(a.shape[1] * b.shape[1], 1))
    for lo in range(0, len(a), step):
        blk_a, blk_b = a[lo : lo + step], b[lo : lo + step]
        common = (blk_a[:, :, None] == blk_b[:, None, :]).any(axis=2).sum(axis=1)
        out[lo : lo + step] = common / denom
    return out


def neighbours_frame(product_ids: np.ndarray, ids: np.ndarray, sims: np.ndarray) -> pd.DataFrame:
    """Long table of neighbours: product_id, rank (1..k), neighbour_id, similarity.

    ``product_ids`` (n,) names the rows; ``ids``/``sims`` are (n, k) from
    :func:`all_neighbours`. Raises ConfigError on mismatched shapes.
    """
    pid = np.asarray(product_ids, dtype=object)
    ids = np.asarray(ids)
    sims = np.asarray(sims)
    if ids.shape != sims.shape or ids.ndim != 2 or len(ids) != len(pid):
        raise ConfigError(
            f"neighbour ids {ids.shape}, similarities {sims.shape} and {len(pid)} product ids do not line up"
        )
    n, k = ids.shape
    return pd.DataFrame(
        {
            "product_id": np.repeat(pid, k),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int32), n),
            "neighbour_id": pid[ids.reshape(-1)],
            "similarity": sims.reshape(-1).astype(np.float32),
        }
    )


def from_frame(frame: pd.DataFrame | None, product_ids, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The first ``k`` neighbours of a :func:`neighbours_frame` back as arrays, rows in ``product_ids`` order.

    Returns (ids int64 (n, k) row positions into ``product_ids``, sims float32 (n, k)), or None when the
    frame is missing, holds fewer than ``k`` neighbours for some product, or names products that are not in
    ``product_ids``: then the caller computes them (a run stores its top-10, :func:`all_neighbours`).
    """
    pid = np.asarray([str(p) for p in product_ids], dtype=object)
    n = len(pid)
    if frame is None or k < 1 or len(frame) < n * k or not {"product_id", "rank", "neighbour_id", "similarity"} <= set(frame.columns):
        return None
    part = frame[frame["rank"].to_numpy() <= k]
    if len(part) != n * k:
        return None
    position = pd.Index(pid)
    rows = position.get_indexer(part["product_id"].astype(str))
    cols = position.get_indexer(part["neighbour_id"].astype(str))
    rank = part["rank"].to_numpy(dtype=np.int64) - 1
    if (rows < 0).any() or (cols < 0).any() or not position.is_unique:
        return None
    ids = np.full((n, k), -1, dtype=np.int64)
    sims = np.zeros((n, k), dtype=np.float32)
    ids[rows, rank] = cols
    sims[rows, rank] = part["similarity"].to_numpy(dtype=np.float32)
    if (ids < 0).any():  # a product with a gap in its ranks
        return None
    return ids, sims


def isolation(sims: np.ndarray) -> np.ndarray:
    """How alone each product sits: 1 − mean cosine similarity to its k nearest neighbours, float64 (n,).

    ``sims`` float (n, k) from :func:`all_neighbours`; about 0 for a product in a tight group, up to 2 for one
    whose neighbours point the other way.
    """
    sims = np.asarray(sims, dtype=np.float64)
    return 1.0 - sims.mean(axis=1) if sims.size else np.zeros(len(sims))


def umap_knn(Z: np.ndarray, k: int, *, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """The exact kNN graph in the form umap-learn's ``precomputed_knn`` expects.

    Returns (ids int64 (n, k), dists float32 (n, k)) with each row itself in
    column 0 at distance 0, then its ``k - 1`` nearest other rows, ascending.
    ``metric``: ``"cosine"`` (distance ``1 - similarity``, in [0, 2]) or
    ``"euclidean"``. Raises ConfigError for an unknown metric or a ``k`` that
    does not fit.
    """
    n = len(Z)
    _check_k(n, k, exclude_self=False)
    rows = np.arange(n, dtype=np.int64)
    if metric == "cosine":
        if k == 1:
            return rows[:, None], np.zeros((n, 1), dtype=np.float32)
        ids, sims = all_neighbours(Z, k - 1, exclude_self=True)
        dists = np.clip(1.0 - sims, 0.0, 2.0)
    elif metric == "euclidean":
        V = np.nan_to_num(np.ascontiguousarray(Z, dtype=np.float32))
        if k == 1:
            return rows[:, None], np.zeros((n, 1), dtype=np.float32)
        if faiss is not None:
            index = faiss.IndexFlatL2(V.shape[1])
            index.add(V)
            sq, ids = index.search(V, k)
            ids = ids.astype(np.int64)
        else:  # squared distances = |a|^2 + |b|^2 - 2ab, via the cosine machinery's block search
            sq_norms = np.einsum("ij,ij->i", V, V)
            ids = np.empty((n, k), dtype=np.int64)
            sq = np.empty((n, k), dtype=np.float32)
            for lo in range(0, n, _BLOCK):
                d = sq_norms[lo : lo + _BLOCK, None] + sq_norms[None, :] - 2 * V[lo : lo + _BLOCK] @ V.T
                top = np.argsort(d, axis=1, kind="stable")[:, :k]
                ids[lo : lo + len(d)] = top
                sq[lo : lo + len(d)] = np.take_along_axis(d, top, axis=1)
        ids, sq = _drop_self(rows, ids, sq, k - 1)
        dists = np.sqrt(np.maximum(sq, 0.0))
    else:
        raise ConfigError(f"metric {metric!r} is not supported for the kNN graph; use 'cosine' or 'euclidean'")
    ids = np.concatenate([rows[:, None], ids], axis=1)
    dists = np.concatenate([np.zeros((n, 1), dtype=np.float32), dists.astype(np.float32)], axis=1)
    return ids, dists
