"""What is wrong in a catalog, as tables a person reads: its odd products with the reason, its duplicate
pairs with the columns that differ, how much of a demo catalog's planted truth they find, and the marks a
person gives them while checking.

The dashboard's Reconstruction and Duplicates pages and the CLI's ``anomalies`` and ``duplicates``
commands all build their lists here, so both show the same products for the same run and threshold.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from product_repr.analysis import anomalies, duplicates
from product_repr.errors import ConfigError, RunError

#: the marks a person can give, by what is marked
MARKS = {"product": ("anomaly", "not an anomaly"), "pair": ("duplicate", "not a duplicate")}
MARK_COLUMNS = ("kind", "product_a", "product_b", "mark")
#: the share of the catalog at the top of the anomaly ranking that the planted recall counts
TOP_SHARE = 0.02


def anomaly_scores(run, X: np.ndarray | None = None) -> pd.DataFrame | None:
    """The run's anomaly scores (product_id, one rarity column per source column, spreads, score): the ones it stores, or
    computed from its encoded products ``X`` (n, p) for a run saved before they were kept. None for a
    learner without a decoder (or without ``X`` to compute them from)."""
    if getattr(run, "anomalies", None) is not None:
        return run.anomalies
    if not getattr(run.learner, "has_decoder", False) or X is None:
        return None
    scored = anomalies.anomaly_scores(run.learner.reconstruct, X, run.feature_space.spans)
    scored.insert(0, "product_id", [str(p) for p in run.product_ids])
    return scored


def odd_products(run, rows: pd.DataFrame, X: np.ndarray, *, top: int = 20,
                 neighbours: np.ndarray | None = None, scored: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``top`` products by anomaly score: DataFrame(rank, product_id, score, spreads, worst_column, why).

    ``rows``: the run's catalog rows in its product order; ``X``: their encoded features (n, p);
    ``neighbours``: (n, k) row indices of each product's nearest neighbours (for "most similar products
    have ..."); ``scored``: :func:`anomaly_scores` when the caller has them already.
    Raises ConfigError for a run without a decoder."""
    scored = anomaly_scores(run, X) if scored is None else scored
    if scored is None:
        raise ConfigError(f"run {run.name!r} has no decoder ({run.info.get('learner')}), so it cannot predict a "
                          "product's columns from the others; train an autoencoder, denoising or multi-task run")
    found = anomalies.explain(scored, rows.reset_index(drop=True), run.feature_space, run.learner.reconstruct, X,
                              top=top, neighbours=neighbours)
    spread = scored.set_index(scored["product_id"].astype(str))["spreads"] if "product_id" in scored.columns else None
    ids = [e.product_id for e in found]
    return pd.DataFrame({
        "rank": np.arange(1, len(found) + 1),
        "product_id": ids,
        "score": np.array([e.error for e in found], dtype=np.float64),
        "spreads": spread.reindex(ids).to_numpy(dtype=np.float64) if spread is not None else np.nan,
        "worst_column": [e.reasons[0].column if e.reasons else None for e in found],
        "why": [e.text for e in found],
    })


def kept_floor(run) -> float | None:
    """The similarity from which the run keeps its duplicate candidates, or None when it keeps none."""
    if getattr(run, "duplicates", None) is None:
        return None
    return float((run.info.get("duplicates") or {}).get("floor", duplicates.FLOOR))


def needs_features(run, threshold: float) -> bool:
    """Whether listing pairs at ``threshold`` means searching again in the encoded features."""
    floor = kept_floor(run)
    return floor is None or threshold < floor


def duplicate_candidates(run, X: np.ndarray | None = None, *, threshold: float = duplicates.THRESHOLD) -> pd.DataFrame:
    """The pairs a threshold is chosen from: the run's stored candidates when ``threshold`` is at or above
    the similarity they were kept from, else searched again in ``X`` (n, p). Raises RunError when neither
    is possible (an older run and no table to encode)."""
    floor = kept_floor(run)
    if not needs_features(run, threshold):
        return run.duplicates
    if X is None:
        why = f"keeps pairs from similarity {floor:g} up" if floor is not None else "was saved without duplicate pairs"
        raise RunError(f"run {run.name!r} {why}; pass the table it was trained on to search it at {threshold:g}")
    return duplicates.pairs(X, run.feature_space.spans, run.product_ids, Z=run.embeddings,
                            floor=min(threshold, duplicates.FLOOR))


def duplicate_list(candidates: pd.DataFrame, threshold: float = duplicates.THRESHOLD,
                   rows: pd.DataFrame | None = None, *, title: str | None = None,
                   columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The pairs at ``threshold`` (most similar first, with their ``group``) and, given the catalog ``rows``
    (index = product id), both titles and ``differs_in``: the compared ``columns`` whose values differ."""
    found = duplicates.at_threshold(candidates, threshold)
    if rows is None or not len(found):
        return found
    a, b = rows.reindex(found["product_a"].astype(str)), rows.reindex(found["product_b"].astype(str))
    if title is not None and title in rows.columns:
        found.insert(2, "title_a", a[title].astype("string").fillna("").to_numpy())
        found.insert(3, "title_b", b[title].astype("string").fillna("").to_numpy())
    compared = [c for c in (columns if columns is not None else rows.columns) if c in rows.columns]
    differ = np.zeros((len(found), len(compared)), dtype=bool)
    for j, col in enumerate(compared):
        va, vb = _comparable(a[col]), _comparable(b[col])
        differ[:, j] = va != vb
    found["differs_in"] = [", ".join(c for c, d in zip(compared, row) if d) for row in differ]
    return found


def _comparable(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip().fillna("")
    return text.to_numpy(dtype=object)


def run_clusters(run, rows: pd.DataFrame | None, *, min_size: int | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """The run's clusters and their names: (cluster per product, ``clusters.describe`` table). Clusters its
    stored 2D map (else the embeddings, by cosine); names from ``rows`` (the catalog rows in the run's order;
    without them, clusters are only numbered)."""
    from product_repr.analysis import clusters

    if run.projection is not None:
        labels = clusters.cluster(run.projection[["x", "y"]].to_numpy(), cosine=False, min_size=min_size)
    else:
        labels = clusters.cluster(run.embeddings, min_size=min_size)
    present = set() if rows is None else set(map(str, rows.columns))
    label = (run.info.get("data") or {}).get("label")
    categorical = list(dict.fromkeys([label, *run.schema.names("categorical")]))
    table = clusters.describe(labels, rows if rows is not None else pd.DataFrame(index=range(len(labels))),
                              text=[c for c in run.schema.names("text") if c in present],
                              categorical=[c for c in categorical if c in present],
                              numeric=[c for c in run.schema.names("numeric") if c in present][:3])
    return labels, table


def cluster_assignment(run, labels: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    """Each product's cluster: DataFrame(product_id, cluster, label) from :func:`run_clusters`."""
    names = dict(zip(table["cluster"].astype(int), table["label"]))
    return pd.DataFrame({"product_id": [str(p) for p in run.product_ids], "cluster": labels,
                         "label": [names[int(c)] for c in labels]})


def planted_evidence(truth: Mapping[str, Any] | None, scored: pd.DataFrame | None = None,
                     pairs: pd.DataFrame | None = None, *, flag_at: float = anomalies.FLAG_AT) -> dict:
    """How much of a demo catalog's planted ``truth`` (``data.demo``) the lists find.

    Anomalies (with ``scored``): ``anomalies`` planted, ``in_top`` of them in the top :data:`TOP_SHARE` by
    score (``top`` products), ``flagged`` of them (``spreads`` at least ``flag_at``). Duplicates (with ``pairs``, a
    :func:`duplicate_list`): ``duplicate_pairs`` planted, ``pairs_found`` of them listed, ``other_pairs``
    listed that were not planted. Empty without truth."""
    out: dict = {}
    if not truth:
        return out
    planted = {str(p) for p in truth.get("anomalies", [])}
    if scored is not None and planted:
        score = scored["score"].to_numpy(dtype=np.float64)
        ids = scored["product_id"].astype(str).to_numpy()
        top = max(1, int(np.ceil(TOP_SHARE * len(score))))
        order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")[:top]
        out.update(anomalies=len(planted), top=top, in_top=len(planted & set(ids[order])),
                   flagged=len(planted & set(ids[anomalies.flagged(scored, flag_at)])))
    copies = {frozenset(map(str, p)) for p in truth.get("near_duplicates", [])}
    if pairs is not None and copies:
        listed = [frozenset(p) for p in zip(pairs["product_a"].astype(str), pairs["product_b"].astype(str))]
        hits = sum(p in copies for p in listed)
        out.update(duplicate_pairs=len(copies), pairs_found=hits, other_pairs=len(listed) - hits)
    return out


def marks_frame(marks: Mapping[tuple[str, str, str], str]) -> pd.DataFrame:
    """A person's marks as a table: kind ("product" or "pair"), product_a, product_b ("" for a product), mark.

    ``marks``: {(kind, product_a, product_b): mark}. Raises ConfigError for an unknown kind or mark."""
    records = []
    for (kind, a, b), mark in marks.items():
        if kind not in MARKS or mark not in MARKS[kind]:
            allowed = "; ".join(f"{k}: {', '.join(v)}" for k, v in MARKS.items())
            raise ConfigError(f"mark {mark!r} for a {kind!r} is not one of the marks ({allowed})")
        records.append((kind, str(a), str(b or ""), mark))
    return pd.DataFrame.from_records(records, columns=list(MARK_COLUMNS))


def marks_from_frame(frame: pd.DataFrame | None, where: str = "marks.csv") -> dict[tuple[str, str, str], str]:
    """The {(kind, product_a, product_b): mark} of a marks table (:func:`marks_frame`; a run's marks.csv).
    Raises RunError naming ``where`` and the row for a table that is not one."""
    if frame is None:
        return {}
    missing = [c for c in MARK_COLUMNS if c not in frame.columns]
    if missing:
        raise RunError(f"{where} lacks the column(s) {', '.join(missing)}; it needs {', '.join(MARK_COLUMNS)}")
    out = {}
    for i, row in enumerate(frame[list(MARK_COLUMNS)].fillna("").astype(str).itertuples(index=False), start=2):
        kind, a, b, mark = (v.strip() for v in row)
        if kind not in MARKS or mark not in MARKS[kind]:
            raise RunError(f"{where} line {i}: {kind!r} / {mark!r} is not a known mark; marks are "
                           + "; ".join(f"{k}: {', '.join(v)}" for k, v in MARKS.items()))
        out[(kind, a, b if kind == "pair" else "")] = mark
    return out
