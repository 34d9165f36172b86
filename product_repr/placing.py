"""New products placed in a saved run: encoded by the run's own feature space and encoder, no training.

What a search or recommender team needs every day, and an analyst adding products to a catalog: for each new
product its embedding, its nearest products among the run's, how far the model's reconstruction of it is off
(on the run's scale, and as a percentile of the run's products: a new product the model cannot rebuild is
unlike anything it was trained on), and, when the run's encoded products are at hand, whether it is already in
the catalog (a near-duplicate by the measure of :mod:`product_repr.analysis.duplicates`).

The CLI's ``embed`` command and the Runs page's "Place new products" both call :func:`place`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from product_repr.analysis import duplicates, neighbours, reconstruction
from product_repr.errors import RunError

#: nearest run products listed per new product by default
K = 5
#: unseen levels quoted per column in a note
QUOTED = 3


@dataclass
class Placed:
    """The new products as placed in a run.

    ``frame``: one row per new product: ``product_id``, ``nearest`` (the closest run product) and
    ``similarity`` (cosine of the embeddings); with a decoder ``reconstruction_error`` (on the run's scale),
    ``error_percentile`` (share of the run's products with a smaller error, 0-100) and ``worst_column``; with
    the run's encoded products ``catalog_match`` (the nearest products' best duplicate similarity, 1 =
    identical), ``match`` (that product) and ``already_in_catalog`` (``catalog_match`` at least
    :data:`product_repr.analysis.duplicates.THRESHOLD`); then ``neighbour_1..k`` and ``similarity_1..k``.
    ``embeddings``: (n, d) float32, one row per new product. ``notes``: what the reader should know (values
    the run never saw, how the errors were scaled).
    """

    frame: pd.DataFrame
    embeddings: np.ndarray
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """``frame`` with the embedding as ``e0 .. e{d-1}`` after it: the layout ``embed --out`` writes."""
        dims = pd.DataFrame(self.embeddings, columns=[f"e{j}" for j in range(self.embeddings.shape[1])])
        return pd.concat([self.frame.reset_index(drop=True), dims], axis=1)


def required_columns(run) -> list[str]:
    """The source columns the run's feature space encodes: a new table must have each of them."""
    return list(run.feature_space.columns)


def check_columns(run, df: pd.DataFrame, *, name: str = "the new table") -> None:
    """Raise RunError naming the columns ``df`` lacks that the run encodes, and the way out."""
    have = {str(c) for c in df.columns}
    missing = [c for c in required_columns(run) if c not in have]
    if missing:
        raise RunError(
            f"{name} lacks {len(missing)} column{'s' if len(missing) != 1 else ''} that run {run.name!r} encodes: "
            f"{', '.join(map(repr, missing))}; add {'them' if len(missing) != 1 else 'it'} with the same name "
            "(empty cells are read as missing values)")
    if not len(df):
        raise RunError(f"{name} has no rows; give it at least one product")


def unseen_levels(run, df: pd.DataFrame) -> list[str]:
    """A sentence per categorical column where new products have values the run does not encode (read as
    "(other)"): how many products, and a few of the values."""
    from product_repr.features.space import OTHER, category_strings

    notes = []
    for span in run.feature_space.spans:
        if span.loss != "ce" or span.name not in df.columns:
            continue
        known = set(run.feature_space.category_levels(span.name)) - {OTHER}
        values = [v for v in category_strings(df[span.name]) if v is not None]
        new = [v for v in values if v not in known]
        if new:
            seen = list(dict.fromkeys(new))
            quoted = ", ".join(repr(v[:40]) for v in seen[:QUOTED]) + (", …" if len(seen) > QUOTED else "")
            notes.append(f"{span.name}: {len(new):,} new product{'s' if len(new) != 1 else ''} "
                         f"{'have values' if len(new) != 1 else 'has a value'} the run does not know ({quoted}); "
                         f"read as {OTHER}")
    return notes


def place(run, df: pd.DataFrame, *, k: int = K, run_X: np.ndarray | None = None,
          name: str = "the new table") -> Placed:
    """Place the products of ``df`` in ``run`` (see :class:`Placed`).

    ``run_X``: the run's own products encoded by its feature space (n_run, p), when the caller has them: for
    the reconstruction scale of a run saved before run.json recorded it, and for ``catalog_match``.
    Raises RunError when ``df`` lacks a column the run encodes or has no rows.
    """
    from product_repr.data.fingerprint import product_ids

    check_columns(run, df, name=name)
    fs = run.feature_space
    X = fs.transform(df)
    Z = np.asarray(run.learner.encode(X), dtype=np.float32)
    ids = product_ids(df, run.schema)
    run_ids = np.asarray([str(p) for p in run.product_ids], dtype=object)
    k = max(1, min(int(k), len(run_ids)))
    near, sims = neighbours.nearest_rows(run.embeddings, Z, k)
    frame = pd.DataFrame({"product_id": ids, "nearest": run_ids[near[:, 0]], "similarity": sims[:, 0]})
    notes = unseen_levels(run, df)
    if run.learner.has_decoder:
        errors, note = _errors(run, X, run_X)
        if note:
            notes.append(note)
        frame["reconstruction_error"] = errors["error"].to_numpy()
        if run.reconstruction is not None and len(run.reconstruction):
            ranked = np.sort(run.reconstruction["error"].to_numpy(dtype=np.float64))
            frame["error_percentile"] = 100.0 * np.searchsorted(ranked, frame["reconstruction_error"]) / len(ranked)
        per_column = errors.drop(columns=["error"])
        frame["worst_column"] = per_column.idxmax(axis=1).to_numpy() if per_column.shape[1] else ""
    if run_X is not None:
        best, match = _catalog_match(X, run_X, fs.spans, near)
        frame["catalog_match"] = best
        frame["match"] = run_ids[match]
        frame["already_in_catalog"] = best >= duplicates.THRESHOLD
    for j in range(k):
        frame[f"neighbour_{j + 1}"] = run_ids[near[:, j]]
        frame[f"similarity_{j + 1}"] = sims[:, j]
    return Placed(frame=frame, embeddings=Z, notes=notes)


def _errors(run, X: np.ndarray, run_X: np.ndarray | None) -> tuple[pd.DataFrame, str | None]:
    """Per-column reconstruction errors of the new rows ``X`` on the run's scale, and a note when that scale
    had to come from elsewhere."""
    scales = ((run.info or {}).get("reconstruction") or {}).get("scales")
    note = None
    if not scales:
        if run_X is not None:
            scales = reconstruction.column_scales(run_X, run.feature_space.spans)
        else:
            scales = reconstruction.column_scales(X, run.feature_space.spans)
            note = (f"run {run.name!r} was saved before run.json recorded its error scale and its table is not "
                    "here: the errors are on the new table's own scale, so the percentiles are rough; pass the "
                    "run's table to score on the run's scale")
    missing = [s.name for s in run.feature_space.spans if s.name not in scales]
    if missing:
        raise RunError(f"run {run.name!r} records no error scale for {', '.join(missing)}; its run.json does not "
                       "match its feature space. Retrain the run")
    return reconstruction.errors(X, run.learner.reconstruct(X), run.feature_space.spans, scales=scales), note


def _catalog_match(X: np.ndarray, run_X: np.ndarray, spans: Sequence, near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each new row, the best duplicate similarity among its embedding neighbours ``near`` (n, k) in the
    run, and which run row that is."""
    if run_X.shape[1] != X.shape[1]:
        raise RunError(f"the run's encoded products have {run_X.shape[1]} features and the new ones {X.shape[1]}; "
                       "encode both with the run's feature space")
    typical = duplicates.typical_distances(run_X, spans)
    both = np.vstack([run_X, X])
    n_run, k = len(run_X), near.shape[1]
    a = np.repeat(np.arange(len(X)) + n_run, k)
    b = near.reshape(-1)
    similarity = 1.0 - duplicates.column_distances(both, spans, a, b, typical).mean(axis=1)
    similarity = similarity.reshape(len(X), k)
    pick = similarity.argmax(axis=1)
    rows = np.arange(len(X))
    return similarity[rows, pick], near[rows, pick]
