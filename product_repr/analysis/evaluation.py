"""How good is a representation? Label-based metrics beside two baselines.

Every metric is computed three times on the *same rows*: for the learned
embedding ``Z`` ("model"), for the raw encoded feature matrix ``X`` ("raw") and
for PCA of ``X`` to the embedding's size ("pca"). A learner earns its keep only
if it beats both.

- ``knn_precision@k``: for each labelled product, the share of its ``k`` nearest
  cosine neighbours (itself left out) that carry the same label, averaged.
- ``linear_probe_accuracy``: cross-validated accuracy of a standardised
  logistic regression predicting the label from the vectors.
- ``trustworthiness``: whether the 2-D/3-D map keeps neighbours that are
  neighbours in the embedding (1 = no false neighbours on the map).
- ``chance``: the kNN precision / accuracy of guessing by class frequency,
  ``sum p_c^2``.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from product_repr.analysis import neighbours
from product_repr.errors import ConfigError


def _label_array(labels, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask of rows with a label, labels as str for those rows)."""
    values = pd.Series(np.asarray(labels, dtype=object))
    if len(values) != n:
        raise ConfigError(f"{len(values)} labels for {n} products; pass one label per product (missing as None)")
    missing = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    keep = ~missing
    return keep, values[keep].astype(str).to_numpy(dtype=object)


def _codes(labels: np.ndarray) -> np.ndarray:
    return pd.factorize(pd.Series(labels, dtype=object))[0].astype(np.int64)


def knn_precision(Z: np.ndarray, labels, k: int = 10) -> float:
    """Leave-one-out cosine kNN precision: mean share of a product's ``k`` neighbours with its label.

    ``Z`` (n, d); ``labels`` length n, missing labels (None, NaN, "") drop the
    row from both the queries and the neighbour pool. Raises ConfigError when
    fewer than ``k + 1`` rows carry a label.
    """
    Z = np.asarray(Z)
    keep, lab = _label_array(labels, len(Z))
    if keep.sum() < k + 1:
        raise ConfigError(
            f"kNN precision@{k} needs at least {k + 1} labelled products, found {int(keep.sum())}; "
            "choose a smaller k or a label column with more values"
        )
    codes = _codes(lab)
    ids, _ = neighbours.all_neighbours(Z[keep], k)
    return float((codes[ids] == codes[:, None]).mean())


def _probe_rows(codes: np.ndarray, folds: int, sample: int | None, rng: np.random.Generator) -> np.ndarray:
    """Rows usable by a stratified ``folds``-fold probe: classes with >= folds members, optionally subsampled."""
    counts = np.bincount(codes)
    rows = np.flatnonzero(counts[codes] >= folds)
    if sample is not None and len(rows) > sample:
        # stratified subsample: keep each class's share, at least `folds` rows per class
        picked = []
        for c in np.unique(codes[rows]):
            members = rows[codes[rows] == c]
            take = max(folds, int(round(len(members) * sample / len(rows))))
            picked.append(rng.choice(members, size=min(take, len(members)), replace=False))
        rows = np.sort(np.concatenate(picked))
    return rows


def linear_probe_accuracy(
    Z: np.ndarray, labels, folds: int = 3, seed: int = 0, *, sample: int | None = 20_000
) -> float:
    """Stratified ``folds``-fold CV accuracy of a standardised logistic regression on ``Z`` (n, d).

    Rows with a missing label, and classes with fewer than ``folds`` members
    (they cannot be stratified), are left out. Above ``sample`` rows a stratified
    sample is used to bound the time. Returns NaN when fewer than two classes remain.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if folds < 2:
        raise ConfigError(f"linear probe needs folds >= 2, got {folds}")
    Z = np.asarray(Z, dtype=np.float32)
    keep, lab = _label_array(labels, len(Z))
    codes = _codes(lab)
    rows = _probe_rows(codes, folds, sample, np.random.default_rng(seed))
    if len(rows) == 0 or len(np.unique(codes[rows])) < 2:
        return float("nan")
    X = np.nan_to_num(Z[keep][rows], nan=0.0, posinf=0.0, neginf=0.0)
    y = codes[rows]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, X, y, cv=cv, scoring="accuracy")
    return float(np.mean(scores))


def trustworthiness(
    Z: np.ndarray, coords: np.ndarray, k: int = 10, sample: int = 5000, seed: int = 0, *, metric: str = "cosine"
) -> float:
    """scikit-learn's trustworthiness of the map ``coords`` (n, 2|3) for the embedding ``Z`` (n, d).

    Computed on a random sample of at most ``sample`` rows (the same rows in
    both spaces); neighbours in ``Z`` by ``metric`` (cosine, as the map is built),
    on the map by Euclidean distance. 1.0 means every map neighbour is a true
    neighbour. Returns NaN for fewer than 4 rows; ``k`` is lowered to fit tiny inputs.
    """
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    Z = np.asarray(Z, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if len(Z) != len(coords):
        raise ConfigError(f"map has {len(coords)} rows but the embedding has {len(Z)}; they must match")
    n = len(Z)
    if n > sample:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
        Z, coords = Z[rows], coords[rows]
        n = sample
    k = min(k, (n - 1) // 2)
    if k < 1:
        return float("nan")
    if metric == "cosine":
        # sklearn's cosine distance is undefined for a zero row: give it a tiny constant direction instead
        zero = ~np.any(Z != 0, axis=1)
        if zero.any():
            Z = Z.copy()
            Z[zero, 0] = 1e-12
    return float(sk_trustworthiness(Z, np.nan_to_num(coords), n_neighbors=k, metric=metric))


def pca_baseline(X: np.ndarray, d: int, *, seed: int = 0) -> np.ndarray:
    """PCA of ``X`` (n, p) to ``min(d, p, n)`` components, float32 (n, d')."""
    from sklearn.decomposition import PCA

    X = np.nan_to_num(np.asarray(X, dtype=np.float32))
    d_eff = max(1, min(d, X.shape[1], X.shape[0]))
    return PCA(n_components=d_eff, random_state=seed).fit_transform(X).astype(np.float32)


def chance_level(labels) -> float:
    """Sum of squared class frequencies over labelled rows: the score of guessing by frequency."""
    _, lab = _label_array(labels, len(labels))
    if len(lab) == 0:
        return float("nan")
    freq = np.bincount(_codes(lab)) / len(lab)
    return float(np.sum(freq**2))


def _clean(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


def side_by_side(*blocks: np.ndarray) -> np.ndarray:
    """``blocks`` (each (n, d_i)) side by side, each scaled to a total variance of 1 so each counts the same
    in a cosine: float32 (n, sum d_i)."""
    def unit(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        return m / np.sqrt(max(float(m.var(axis=0).sum()), 1e-12))
    return np.hstack([unit(b) for b in blocks]).astype(np.float32)


#: baselines beyond raw and PCA that :func:`evaluate` scores when given their spaces, with their titles
PRACTITIONER = {"sentence": "sentence encoder of the text", "sentence_raw": "sentence encoder + raw features"}


def evaluate(
    Z: np.ndarray,
    X: np.ndarray,
    labels=None,
    *,
    coords: np.ndarray | None = None,
    baseline_coords: dict[str, np.ndarray] | None = None,
    k: int = 10,
    seed: int = 0,
    baselines: dict | None = None,
    practitioner: dict[str, np.ndarray] | None = None,
) -> dict:
    """All metrics for ``Z`` (n, d) beside the raw ``X`` (n, p) and PCA(X, d) baselines.

    Returns a JSON-safe dict::

        {"n_rows": labelled rows, "n_classes": int, "chance": float, "k": k,
         "knn_precision@10": {"model": .., "raw": .., "pca": ..},
         "linear_probe_accuracy": {"model": .., "raw": .., "pca": ..},
         "trustworthiness": {"model": ..}}          # only with coords

    Values that cannot be computed (too few rows or classes) are None and a
    ``notes`` list says why. ``baseline_coords`` may add maps of the baselines
    (keys "raw", "pca") to the trustworthiness entry. ``baselines``: a dict that
    holds (or receives) the raw and PCA figures, which depend only on X, the
    labels, d, k and seed — pass the same dict for the same inputs to compute
    them once (the pipeline keeps one per table, feature settings and label).
    ``practitioner``: more baseline spaces by name (:data:`PRACTITIONER`: the
    sentence encoder's vectors of the text columns, and those beside the other
    raw features), scored like raw and PCA and cached with them.
    Raises ConfigError if ``Z`` and ``X`` have different row counts.
    """
    Z = np.asarray(Z, dtype=np.float32)
    X = np.asarray(X, dtype=np.float32)
    if len(Z) != len(X):
        raise ConfigError(f"embedding has {len(Z)} rows but the feature matrix has {len(X)}; they must match")
    out: dict = {"k": int(k), "embedding_dim": int(Z.shape[1]) if Z.ndim == 2 else 0}
    notes: list[str] = []
    if labels is not None:
        keep, lab = _label_array(labels, len(Z))
        n_rows = int(keep.sum())
        n_classes = int(len(np.unique(lab))) if n_rows else 0
        out.update({"n_rows": n_rows, "n_classes": n_classes, "chance": _clean(chance_level(labels))})
        cache = baselines if baselines is not None else {}
        if not cache:  # raw and PCA figures: computed once per (X, labels, d, k, seed)
            cache["pca"] = pca_baseline(X, Z.shape[1], seed=seed)
        spaces = {"model": Z, "raw": X, "pca": cache["pca"], **(practitioner or {})}
        k_eff = min(k, n_rows - 1)
        key = f"knn_precision@{k_eff if k_eff >= 1 else k}"

        def figure(kind: str, name: str, fn) -> float | None:
            if name == "model":
                return _clean(fn(spaces[name]))
            if (kind, name) not in cache:
                cache[(kind, name)] = _clean(fn(spaces[name]))
            return cache[(kind, name)]

        if k_eff >= 1 and n_classes >= 1:
            if k_eff < k:
                notes.append(f"only {n_rows} labelled products: kNN precision uses k={k_eff}")
            out[key] = {name: figure("knn", name, lambda S: knn_precision(S, labels, k_eff)) for name in spaces}
        else:
            out[key] = {name: None for name in spaces}
            notes.append(f"kNN precision needs at least 2 labelled products, found {n_rows}")
        probe = {name: figure("probe", name, lambda S: linear_probe_accuracy(S, labels, seed=seed))
                 for name in spaces}
        if probe["model"] is None:
            notes.append("linear probe needs two classes with at least 3 products each")
        out["linear_probe_accuracy"] = probe
    if coords is not None:
        trust = {"model": _clean(trustworthiness(Z, coords, k=k, seed=seed))}
        for name, C in (baseline_coords or {}).items():
            if name not in ("raw", "pca"):
                raise ConfigError(f"baseline map {name!r} is unknown; use 'raw' or 'pca'")
            source = X if name == "raw" else pca_baseline(X, Z.shape[1], seed=seed)
            trust[name] = _clean(trustworthiness(source, C, k=k, seed=seed))
        out["trustworthiness"] = trust
    if notes:
        out["notes"] = notes
    return out


def planted_recall(
    errors: np.ndarray | pd.Series,
    neighbours_ids: np.ndarray,
    product_ids: Sequence,
    truth: dict,
    top_fraction: float = 0.02,
) -> dict:
    """Recall of the demo catalog's planted truth.

    ``errors`` (n,) reconstruction error per product (or None for learners
    without a decoder); ``neighbours_ids`` (n, k) row indices from
    :func:`neighbours.all_neighbours` (self excluded); ``product_ids`` (n,);
    ``truth`` = ``{"anomalies": [product id, ...], "near_duplicates": [[id, id], ...]}``.

    Returns ``{"anomaly_recall": share of planted anomalies within the top
    ``top_fraction`` of error, "duplicate_top1": share of near-duplicate pairs
    where either product is the other's top-1 neighbour, "duplicate_top1_both"
    (each is the other's top-1), "n_anomalies",
    "n_duplicate_pairs", "top_fraction"}``. Ids not present are ignored.
    """
    pid = [str(p) for p in product_ids]
    position = {p: i for i, p in enumerate(pid)}
    n = len(pid)
    out: dict = {"top_fraction": float(top_fraction)}
    anomalies = [position[str(a)] for a in truth.get("anomalies", []) if str(a) in position]
    out["n_anomalies"] = len(anomalies)
    if errors is not None and anomalies:
        err = np.asarray(errors, dtype=np.float64)
        if len(err) != n:
            raise ConfigError(f"{len(err)} errors for {n} products; they must match")
        top = max(1, int(np.ceil(top_fraction * n)))
        order = np.argsort(-np.nan_to_num(err, nan=-np.inf), kind="stable")[:top]
        flagged = set(order.tolist())
        out["anomaly_recall"] = sum(a in flagged for a in anomalies) / len(anomalies)
    else:
        out["anomaly_recall"] = None
    pairs = [
        (position[str(a)], position[str(b)])
        for a, b in truth.get("near_duplicates", [])
        if str(a) in position and str(b) in position
    ]
    out["n_duplicate_pairs"] = len(pairs)
    if pairs and neighbours_ids is not None:
        nb = np.asarray(neighbours_ids)
        either = sum(bool(nb[a, 0] == b or nb[b, 0] == a) for a, b in pairs)
        both = sum(bool(nb[a, 0] == b and nb[b, 0] == a) for a, b in pairs)
        out["duplicate_top1"] = either / len(pairs)
        out["duplicate_top1_both"] = both / len(pairs)
    else:
        out["duplicate_top1"] = out["duplicate_top1_both"] = None
    return out
