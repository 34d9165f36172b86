"""The map: embeddings projected to 2 or 3 dimensions with UMAP, PCA or as they are.

UMAP gets the *exact* kNN graph from :mod:`product_repr.analysis.neighbours` (faiss)
through umap-learn's ``precomputed_knn``, so it does not search again with its
approximate NN-descent. Above ``sample_limit`` rows UMAP is fitted on a random
sample and every other product is placed at the weighted mean of the map
positions of its nearest sample products (exact kNN again). umap-learn's own
``transform()`` is not used: it needs the NN-descent index that
``precomputed_knn`` skips building.

umap-learn compiles its numba kernels the first time it runs in a process
(about 25 s). :func:`warm_up` pays that once, e.g. from a background thread
when the dashboard starts; :func:`is_warm` tells whether it has been paid.
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field

import numpy as np

from product_repr.analysis import neighbours
from product_repr.errors import ConfigError

METHODS = ("umap", "pca", "none")
METRICS = ("cosine", "euclidean")

# umap-learn runs 500 epochs up to 10,000 rows and 200 above; from 5,000 rows we use 200: the map's
# trustworthiness barely moves (0.9859 -> 0.9854 at 10k x 32, demo-like clusters) and it was 3.6x faster
SMALL_ROWS = 5_000
#: above this many products UMAP is fitted on a random sample of this many and the others placed (project)
SAMPLE_LIMIT = 200_000


def default_epochs(n: int) -> int:
    """Optimisation epochs when the caller does not choose: 500 up to 5,000 rows, else 200."""
    return 500 if n <= SMALL_ROWS else 200


_warm_lock = threading.Lock()
_warm = False


@dataclass(frozen=True)
class Projection:
    """Map coordinates of every product and how they were made.

    ``coords`` float32 (n, dims), finite; ``params`` JSON-safe settings actually
    used; ``note`` a sentence for the user when something was adapted (sampling,
    tiny input), else "".
    """

    coords: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    note: str = ""


def _validate(method: str, dims: int, n_neighbors: int, min_dist: float, metric: str, sample_limit: int) -> None:
    if method not in METHODS:
        raise ConfigError(f"projection method {method!r} is unknown; choose one of {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise ConfigError(f"a map has 2 or 3 dimensions, got dims={dims}")
    if not 2 <= int(n_neighbors) <= 200:
        raise ConfigError(f"n_neighbors={n_neighbors} is out of range; choose 2 to 200 (15 is a good start)")
    if not 0.0 <= float(min_dist) <= 1.0:
        raise ConfigError(f"min_dist={min_dist} is out of range; choose 0.0 to 1.0 (0.1 is a good start)")
    if metric not in METRICS:
        raise ConfigError(f"metric {metric!r} is unknown; choose one of {', '.join(METRICS)}")
    if sample_limit < 100:
        raise ConfigError(f"sample_limit={sample_limit} is too small; use at least 100 rows")


def _pad(coords: np.ndarray, n: int, dims: int) -> np.ndarray:
    """(n, m) coordinates widened with zero columns (or cut) to (n, dims), float32, finite."""
    out = np.zeros((n, dims), dtype=np.float32)
    m = min(dims, coords.shape[1]) if coords.ndim == 2 else 0
    if m:
        out[:, :m] = coords[:, :m]
    out[~np.isfinite(out)] = 0.0
    return out


def _pca(Z: np.ndarray, dims: int, seed: int | None) -> np.ndarray:
    n, d = Z.shape
    k = min(dims, d, n - 1) if n > 1 else 0
    if k < 1 or not np.any(Z != Z[:1]):  # one row, or all rows identical: everything at the origin
        return _pad(np.zeros((n, 0)), n, dims)
    from sklearn.decomposition import PCA

    coords = PCA(n_components=k, random_state=0 if seed is None else seed).fit_transform(Z.astype(np.float64))
    return _pad(coords, n, dims)


def _place(Z: np.ndarray, sample_rows: np.ndarray, sample_coords: np.ndarray, rest: np.ndarray, k: int, metric: str,
           progress=None):
    """``(coords, info)``: coordinates for rows ``rest``, the weighted mean of their ``k`` nearest sample rows'
    coordinates, and how the nearest were found (``neighbours.search_rows``: approximate, with its measured
    recall, for a million products placed among 200,000).

    Weights follow UMAP's membership strength: exp(-(d - d_nearest) / mean gap). ``progress(rows placed)``.
    """
    base = Z[sample_rows]
    queries = Z[rest]
    k = min(k, len(sample_rows))
    info: dict = {"method": "exact"}
    if metric == "cosine":
        ids, sims, info = neighbours.search_rows(base, queries, k, progress=progress)
        dists = 1.0 - sims
    else:
        import faiss

        index = faiss.IndexFlatL2(base.shape[1])
        index.add(np.ascontiguousarray(base, dtype=np.float32))
        ids, sq = neighbours._in_chunks(index, np.ascontiguousarray(queries, dtype=np.float32), k, progress)
        dists = np.sqrt(np.maximum(sq, 0.0))
    gaps = dists - dists[:, :1]
    scale = gaps.mean(axis=1, keepdims=True) + 1e-8
    weights = np.exp(-gaps / scale)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ik,ikd->id", weights, sample_coords[ids]).astype(np.float32), info


def _umap(
    Z: np.ndarray, dims: int, n_neighbors: int, min_dist: float, metric: str, seed: int | None,
    knn: tuple[np.ndarray, np.ndarray] | None, n_epochs: int | None,
) -> np.ndarray:
    import umap

    if knn is None:
        knn = neighbours.umap_knn(Z, n_neighbors, metric=metric)
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        n_components=dims,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        n_jobs=1 if seed is not None else -1,
        n_epochs=n_epochs,
        init="pca",  # spectral init took 41 s instead of 7 s on a 50k demo map, trustworthiness 0.988 vs 0.995
        precomputed_knn=(np.asarray(knn[0], dtype=np.int64), np.asarray(knn[1], dtype=np.float32)),
        verbose=False,
    )
    with warnings.catch_warnings():
        # umap-learn warns that without an NN-descent index it cannot transform() new rows: we never call
        # transform (see the module docstring). Filtered here only, not for the whole process.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        return reducer.fit_transform(Z).astype(np.float32)


def _check_knn(knn, n: int, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    ids, dists = (np.asarray(a) for a in knn)
    if ids.shape != dists.shape or ids.ndim != 2 or len(ids) != n:
        raise ConfigError(f"precomputed kNN must be two (n, k) arrays for n={n}; got {ids.shape} and {dists.shape}")
    if ids.shape[1] < n_neighbors:
        raise ConfigError(
            f"precomputed kNN has {ids.shape[1]} neighbours per row but n_neighbors={n_neighbors}; "
            "pass at least n_neighbors columns (self included) or lower n_neighbors"
        )
    if not np.array_equal(ids[:, 0], np.arange(n)):
        raise ConfigError("precomputed kNN must list each row itself in column 0 (distance 0), as umap-learn expects")
    return ids[:, :n_neighbors], dists[:, :n_neighbors]


def project(
    Z: np.ndarray,
    *,
    method: str = "umap",
    dims: int = 2,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "cosine",
    seed: int | None = 0,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    sample_limit: int = SAMPLE_LIMIT,
    n_epochs: int | None = None,
    progress=None,
) -> Projection:
    """Project embeddings ``Z`` (n, d) to a ``dims``-dimensional map.

    ``method``: ``"umap"`` (exact kNN graph fed to umap-learn), ``"pca"``, or
    ``"none"`` (the embedding itself, only when d <= 3; zero-padded to ``dims``).
    ``seed``: an int for a reproducible map, None for a faster parallel one.
    ``knn``: optional precomputed ``(ids, dists)`` of shape (n, >= n_neighbors)
    with each row itself in column 0 (see :func:`neighbours.umap_knn`).
    Above ``sample_limit`` rows UMAP is fitted on a sample and the rest placed
    by their nearest sample products; ``progress(rows placed)`` follows that
    placing. ``n_epochs``: None means 500 up to 5,000 rows, else 200
    (:func:`default_epochs`).

    Tiny inputs never fail: fewer than ``n_neighbors + 2`` rows (or fewer
    distinct rows) fall back to PCA, a single row maps to the origin; ``note``
    says so. Raises ConfigError for invalid settings, or ``"none"`` with d > 3.
    """
    _validate(method, dims, n_neighbors, min_dist, metric, sample_limit)
    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-D array (products x dimensions), got shape {Z.shape}")
    Z = np.nan_to_num(Z, nan=0.0, posinf=0.0, neginf=0.0)
    n, d = Z.shape
    params: dict = {"dims": dims, "seed": seed}

    if method == "none":
        if d > 3:
            raise ConfigError(
                f"method 'none' shows the embedding as it is, which needs at most 3 dimensions; it has {d}. "
                "Use 'umap' or 'pca', or train with embedding_dim <= 3"
            )
        note = f"the embedding has {d} dimension(s); the other axes are 0" if d < dims else ""
        return Projection(_pad(Z, n, dims), "none", params, note)

    if method == "pca" or n < 3:
        note = "a single product sits at the origin" if n == 1 else ""
        if method == "umap":
            note = note or f"only {n} products: PCA instead of UMAP"
        return Projection(_pca(Z, dims, seed), "pca", params, note)

    params.update({"n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric})
    distinct = len(np.unique(Z[: min(n, 50_000)], axis=0))
    if n < n_neighbors + 2 or distinct < n_neighbors + 2:
        what = f"only {n} products" if n < n_neighbors + 2 else f"only {distinct} distinct embeddings"
        return Projection(
            _pca(Z, dims, seed),
            "pca",
            {"dims": dims, "seed": seed},
            f"{what}, too few for UMAP with n_neighbors={n_neighbors}: PCA instead",
        )

    if n_epochs is None:
        n_epochs = default_epochs(min(n, sample_limit))
    elif int(n_epochs) < 1:
        raise ConfigError(f"n_epochs={n_epochs} must be at least 1 (200 is a good start)")
    params["n_epochs"] = int(n_epochs)
    if n <= sample_limit:
        if knn is not None:
            knn = _check_knn(knn, n, n_neighbors)
            params["knn"] = "given"
        else:
            params["knn"] = "exact (faiss)"
        coords = _umap(Z, dims, n_neighbors, min_dist, metric, seed, knn, n_epochs)
        note = "" if seed is not None else "fast mode: no seed, so the map differs slightly between runs"
        return Projection(_pad(coords, n, dims), "umap", params, note)

    rng = np.random.default_rng(seed)
    sample_rows = np.sort(rng.choice(n, size=sample_limit, replace=False))
    rest = np.setdiff1d(np.arange(n), sample_rows, assume_unique=True)
    sample_coords = _umap(Z[sample_rows], dims, n_neighbors, min_dist, metric, seed, None, n_epochs)
    coords = np.empty((n, dims), dtype=np.float32)
    coords[sample_rows] = sample_coords
    coords[rest], placing = _place(Z, sample_rows, sample_coords, rest, n_neighbors, metric, progress)
    params.update({"knn": "exact (faiss)", "sample_rows": int(sample_limit), "placing": placing})
    found = "" if placing["method"] == "exact" else \
        f", found by an approximate index (recall@{placing['k']} {placing['recall']:.2f} on a sample)"
    note = (
        f"fitted on a {sample_limit:,}-row sample; the other {len(rest):,} products placed at the weighted mean "
        f"of their {min(n_neighbors, sample_limit)} nearest sample products{found}"
        + ("" if knn is None else " (the given kNN graph was not used)")
    )
    return Projection(_pad(coords, n, dims), "umap", params, note)


def is_warm() -> bool:
    """True once :func:`warm_up` has finished in this process."""
    return _warm


def warm_up(rows: int = 4096) -> None:
    """Fit UMAP once on ``rows`` (>= 4,096) random points so numba compiles its kernels now.

    Runs both code paths the app uses (seeded and parallel). Idempotent and
    thread-safe: a second caller waits for the first, later calls return at once.
    """
    global _warm
    if _warm:
        return
    with _warm_lock:
        if _warm:
            return
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(8, 16)).astype(np.float32)
        Z = centres[rng.integers(0, 8, size=max(rows, 4096))] + 0.3 * rng.normal(size=(max(rows, 4096), 16)).astype(
            np.float32
        )
        for seed in (0, None):
            project(Z, method="umap", dims=2, seed=seed, n_epochs=20)
        _warm = True


def start_warm_up() -> threading.Thread:
    """Run :func:`warm_up` in a daemon thread and return it (the dashboard calls this at start-up)."""
    thread = threading.Thread(target=warm_up, name="umap-warm-up", daemon=True)
    thread.start()
    return thread
