"""The tables a person reads about runs: quality against the baselines, neighbour lists, selections, unusual
and isolated products, changed neighbourhoods.

Pure functions of arrays, frames and runs (anything with ``name``, ``info``, ``metrics``, ``embeddings``,
``reconstruction``); the dashboard draws them and the CLI can print them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from product_repr.analysis.evaluation import PRACTITIONER
from product_repr.analysis.neighbours import isolation

KNN = "kNN precision"
QUALITY = (KNN, "linear probe", "trustworthiness")


def _metric(metrics: Mapping, prefix: str, space: str) -> float | None:
    for key, value in (metrics or {}).items():
        if str(key).startswith(prefix) and isinstance(value, Mapping):
            v = value.get(space)
            return None if v is None else float(v)
    return None


def _quality(metrics: Mapping, space: str) -> dict[str, float | None]:
    return {KNN: _metric(metrics, "knn_precision@", space), "linear probe": _metric(metrics, "linear_probe", space),
            "trustworthiness": _metric(metrics, "trustworthiness", space)}


def metrics_table(runs: Sequence[Any]) -> pd.DataFrame:
    """One row per run plus its raw-feature and PCA baselines (each baseline once per table, label and d).

    Columns: name, kind (run | baseline), learner, d, kNN precision, linear probe, trustworthiness, mean
    reconstruction error, training time (s), label. Missing values are NaN (no label chosen, no decoder); a
    baseline without any figure is left out.
    """
    rows, seen = [], set()
    for run in runs:
        metrics = run.metrics or {}
        info = run.info or {}
        data = info.get("data", {}) or {}
        d = int(np.asarray(run.embeddings).shape[1])
        label = metrics.get("label") or data.get("label")
        rec = run.reconstruction
        rows.append({"name": run.name, "kind": "run", "learner": info.get("learner", getattr(run.learner, "name", "?")),
                     "d": d, **_quality(metrics, "model"),
                     "mean reconstruction error": float(rec["error"].mean()) if rec is not None else None,
                     "training time (s)": (info.get("timings", {}) or {}).get("train_s"), "label": label})
        spaces = (("raw", "raw features", None), ("pca", f"PCA to d={d}", d),
                  *((name, title, None) for name, title in PRACTITIONER.items()))
        for space, title, dim in spaces:
            key = (space, data.get("sha256"), label, dim)
            figures = _quality(metrics, space)
            if key in seen or (figures[KNN] is None and figures["linear probe"] is None):
                continue
            seen.add(key)
            rows.append({"name": title, "kind": "baseline", "learner": "—", "d": dim, **figures,
                         "mean reconstruction error": None, "training time (s)": None, "label": label})
    table = pd.DataFrame(rows, columns=["name", "kind", "learner", "d", *QUALITY, "mean reconstruction error",
                                        "training time (s)", "label"])
    for c in (*QUALITY, "mean reconstruction error", "training time (s)"):
        table[c] = pd.to_numeric(table[c], errors="coerce")
    return table


def knn_verdict(metrics: Mapping) -> str | None:
    """``"better than"``, ``"no better than"`` or ``"worse than"`` PCA by kNN precision (±0.01), with the two
    figures, e.g. ``"better than PCA (0.712 vs 0.654)"``; None without both figures."""
    model, pca = _metric(metrics, "knn_precision@", "model"), _metric(metrics, "knn_precision@", "pca")
    if model is None or pca is None:
        return None
    gain = model - pca
    verdict = "better than" if gain > 0.01 else ("no better than" if gain > -0.01 else "worse than")
    return f"{verdict} PCA ({model:.3f} vs {pca:.3f})"


BASELINE_NAMES = {"raw": "the raw features", "pca": "PCA", **{k: f"the {v}" for k, v in PRACTITIONER.items()}}


def baseline_verdict(metrics: Mapping) -> str | None:
    """The learned embedding against the best baseline by kNN precision (raw features, PCA, and where scored the
    sentence encoder alone and beside the raw features), ±0.01 as :func:`knn_verdict`, e.g. ``"better than the
    best baseline, the sentence encoder of the text (0.712 vs 0.690)"``; None without figures."""
    model = _metric(metrics, "knn_precision@", "model")
    scored = {name: _metric(metrics, "knn_precision@", name) for name in BASELINE_NAMES}
    scored = {name: v for name, v in scored.items() if v is not None}
    if model is None or not scored:
        return None
    best = max(scored, key=scored.get)
    gain = model - scored[best]
    verdict = "better than" if gain > 0.01 else ("no better than" if gain > -0.01 else "worse than")
    return f"{verdict} the best baseline, {BASELINE_NAMES[best]} ({model:.3f} vs {scored[best]:.3f})"


def neighbour_table(query_ids: np.ndarray, sims: np.ndarray, product_ids: Sequence[str],
                    rows: pd.DataFrame | None, columns: Sequence[str], *, shared: set[str] | None = None) -> pd.DataFrame:
    """One row per neighbour: rank, product_id, similarity (cosine), then ``columns`` of ``rows``.

    ``query_ids`` are row positions into ``product_ids``; ``rows`` is indexed by product id; with ``shared``
    a boolean column "in both" says whether the neighbour is also in the other space's list.
    """
    pids = [str(product_ids[int(i)]) for i in query_ids]
    table = pd.DataFrame({"rank": np.arange(1, len(pids) + 1), "product_id": pids,
                          "similarity": np.round(np.asarray(sims, dtype=np.float64), 4)})
    if shared is not None:
        table["in both"] = [p in shared for p in pids]
    if rows is not None:
        for c in columns:
            if c in rows.columns:
                table[c] = rows[c].reindex(pids).to_numpy()
    return table


def with_attributes(table: pd.DataFrame, rows: pd.DataFrame | None, columns: Sequence[str | None]) -> pd.DataFrame:
    """``table`` (with a product_id column) plus ``columns`` of ``rows`` (indexed by product id), in place."""
    if rows is not None:
        for c in columns:
            if c is not None and c in rows.columns:
                table[c] = rows[c].reindex(table["product_id"].astype(str)).to_numpy()
    return table


def unusual_products(rec: pd.DataFrame, *, top: int = 20, columns_per_product: int = 3) -> pd.DataFrame:
    """The ``top`` products with the largest reconstruction error and the columns that make them unusual.

    ``rec`` is a run's reconstruction frame (product_id, error, one error column per source column). A column
    "makes a product unusual" when its error is above that column's mean error; the ratio (×mean) is compared,
    because squared errors and cross-entropies live on different scales. Returns error_rank, product_id,
    error, unusual in (text).
    """
    columns = [c for c in rec.columns if c not in ("product_id", "error")]
    order = np.argsort(-np.nan_to_num(rec["error"].to_numpy(dtype=np.float64), nan=-np.inf), kind="stable")[:top]
    part = rec.iloc[order]
    means = rec[columns].mean(axis=0).replace(0, np.nan) if columns else pd.Series(dtype=float)
    reasons = []
    for _, row in part.iterrows():
        ratios = (row[columns].astype(float) / means).dropna().sort_values(ascending=False)
        picked = [f"{c} (×{r:.1f})" for c, r in ratios.head(columns_per_product).items() if r > 1.0]
        reasons.append(", ".join(picked) if picked else "—")
    return pd.DataFrame({"error_rank": np.arange(1, len(part) + 1), "product_id": part["product_id"].astype(str).to_numpy(),
                         "error": part["error"].to_numpy(dtype=np.float64).round(4), "unusual in": reasons})


def explanations_table(explanations: Sequence[Any]) -> pd.DataFrame:
    """``reconstruction.explain``'s output as a table: error_rank, product_id, error, why."""
    return pd.DataFrame({"error_rank": np.arange(1, len(explanations) + 1),
                         "product_id": [str(e.product_id) for e in explanations],
                         "error": np.round([float(e.error) for e in explanations], 4),
                         "why": [e.text or "—" for e in explanations]})


def isolated_products(product_ids: Sequence[str], ids: np.ndarray, sims: np.ndarray, *, top: int = 20) -> pd.DataFrame:
    """The ``top`` most isolated products (:func:`neighbours.isolation`): rank, product_id, isolation, nearest
    (id) and nearest similarity. ``ids``/``sims`` (n, k) as from ``neighbours.all_neighbours``."""
    score = isolation(sims)
    order = np.argsort(-score, kind="stable")[:top]
    pids = np.asarray([str(p) for p in product_ids], dtype=object)
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1), "product_id": pids[order],
                         "isolation": np.round(score[order], 4),
                         "nearest": pids[np.asarray(ids)[order, 0]] if len(order) else [],
                         "nearest similarity": np.round(np.asarray(sims, dtype=np.float64)[order, 0], 4)})


def selection_table(product_ids: Sequence[str], selected: Sequence[str], rows: pd.DataFrame | None, *,
                    extra: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The ``selected`` products (in selection order; unknown ids dropped) with ``extra`` values and their rows.

    ``extra`` maps a column name to values in run order (e.g. the map's colour); catalog columns whose names are
    already taken (``product_id``, an extra) are left out, so every column name is unique.
    """
    position = {str(p): i for i, p in enumerate(product_ids)}
    index = [position[str(p)] for p in selected if str(p) in position]
    table = pd.DataFrame({"product_id": [str(product_ids[i]) for i in index]})
    for name, values in (extra or {}).items():
        if name not in table.columns:
            table[name] = np.asarray(values)[index]
    if rows is not None:
        part = rows.iloc[index].reset_index(drop=True)
        part = part[[c for c in part.columns if c not in table.columns]]
        table = pd.concat([table, part], axis=1)
    return table


def selection_summary(table: pd.DataFrame, *, categorical: Sequence[str] = (), numeric: Sequence[str] = (),
                      top: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a selection holds: (counts — column, value, products, share — of the ``top`` values of each
    ``categorical`` column; statistics — column, count, min, median, mean, max — of each ``numeric`` one).
    ``table``: the selected products' rows (:func:`selection_table`)."""
    counts = []
    for col in categorical:
        if col in table.columns:
            values = table[col].astype("string").fillna("(missing)").value_counts()
            counts += [(col, str(v), int(c), c / max(len(table), 1)) for v, c in values.head(top).items()]
    stats = []
    for col in numeric:
        if col in table.columns:
            v = pd.to_numeric(table[col], errors="coerce").dropna()
            stats.append((col, int(len(v)), *(float(f(v)) if len(v) else np.nan
                                              for f in (np.min, np.median, np.mean, np.max))))
    return (pd.DataFrame(counts, columns=["column", "value", "products", "share"]),
            pd.DataFrame(stats, columns=["column", "count", "min", "median", "mean", "max"]))


def neighbourhood_changes(ids_a: Sequence[str], nn_a: np.ndarray, ids_b: Sequence[str], nn_b: np.ndarray) -> pd.DataFrame:
    """How much each product's neighbour list differs between two runs: 1 − overlap, by product id.

    ``nn_a`` (n_a, k) / ``nn_b`` (n_b, k) are row positions into ``ids_a`` / ``ids_b``; only products in both
    runs count, and neighbours are compared by product id. Returns product_id, change in [0, 1], shared
    (count), sorted by change descending.
    """
    pos_b = {str(p): i for i, p in enumerate(ids_b)}
    ids_a = [str(p) for p in ids_a]
    ids_b = [str(p) for p in ids_b]
    k = min(nn_a.shape[1], nn_b.shape[1])
    out_id, change, shared = [], [], []
    for i, pid in enumerate(ids_a):
        j = pos_b.get(pid)
        if j is None:
            continue
        common = len({ids_a[t] for t in nn_a[i, :k]} & {ids_b[t] for t in nn_b[j, :k]})
        out_id.append(pid)
        shared.append(common)
        change.append(1.0 - common / max(k, 1))
    frame = pd.DataFrame({"product_id": out_id, "change": np.round(change, 4), "shared": shared})
    return frame.sort_values(["change", "product_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
