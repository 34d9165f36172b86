"""Reconstruction error per product and per source column, and plain-language explanations.

For learners with a decoder (autoencoder, denoising, multi-task) the error of a
product says how far the model's reconstruction ``X_hat`` is from its features
``X``; split by span it says *which* attribute is unusual.

Every column's error is put on one comparable scale, where **1.0 means "as far
off as a guess that only knows the column's overall distribution"**:

- numeric and text spans (loss "mse"): the squared error summed over the
  span's dimensions, divided by the span's total variance in ``X`` (the squared
  error of always predicting the column mean). A numeric span is [value,
  missing flag]; a text span has many SVD dimensions whose variances add up,
  so a per-dimension mean would make text errors look tiny;
- categorical spans (loss "ce"): the cross-entropy ``-log p(true level)``
  (p clipped to [1e-6, 1]) divided by the column's entropy (the cross-entropy
  of guessing by level frequency), at least ln 2 so a nearly constant column
  does not magnify its rare levels without bound.

The product's ``error`` is the sum of its column errors.

The contrastive learner has no decoder and therefore no reconstruction error;
the pipeline leaves its reconstruction empty and the pages say so.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from product_repr.errors import ConfigError

P_MIN = 1e-6  # probabilities are clipped here before the log: max cross-entropy 13.8 nats
RESERVED = ("product_id", "error")
#: with at least this many neighbours' values, a numeric reason quotes their 10th–90th percentile range
NEAR_QUANTILE_FROM = 5


def column_name(span_name: str) -> str:
    """The errors-table column of a source column (renamed only if it clashes with product_id/error)."""
    return f"{span_name} (column)" if span_name in RESERVED else span_name


def _true_levels(block: np.ndarray) -> np.ndarray:
    return np.argmax(block, axis=1)


def probabilities(block: np.ndarray) -> np.ndarray:
    """Rows of a categorical block of X_hat as probabilities (renormalised; softmax output stays as is)."""
    p = np.clip(np.nan_to_num(block.astype(np.float64), nan=0.0), 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / max(p.shape[1], 1)), where=total > 0)


def column_scales(X: np.ndarray, spans: Sequence) -> dict[str, float]:
    """Per source column, the error of a distribution-only guess (the divisor of :func:`errors`).

    mse spans: total variance of the span's dimensions (1.0 if below 1e-6,
    i.e. a constant column); ce spans: entropy of the level frequencies in
    nats, at least ln 2.
    """
    from product_repr.features.rowfile import RowFile

    if isinstance(X, RowFile):
        return _file_scales(X, spans)
    X = np.asarray(X)
    out: dict[str, float] = {}
    for span in spans:
        block = X[:, span.start : span.stop].astype(np.float64)
        if span.loss == "ce":
            freq = np.bincount(_true_levels(block), minlength=span.width) / max(len(block), 1)
            freq = freq[freq > 0]
            out[span.name] = float(max(-(freq * np.log(freq)).sum(), np.log(2)))
        else:
            var = float(block.var(axis=0).sum()) if len(block) else 0.0
            out[span.name] = var if var > 1e-6 else 1.0
    return out


def _file_scales(X, spans: Sequence) -> dict[str, float]:
    """:func:`column_scales` of a RowFile, a chunk of rows at a time (``rowfile.column_moments``)."""
    from product_repr.features.rowfile import column_moments, row_chunks

    n = len(X)
    _, variances = column_moments(X)
    counts = {span.name: np.zeros(span.width, dtype=np.int64) for span in spans if span.loss == "ce"}
    for _, block in row_chunks(X):
        for span in spans:
            if span.loss == "ce":
                counts[span.name] += np.bincount(_true_levels(block[:, span.start:span.stop]), minlength=span.width)
    out: dict[str, float] = {}
    for span in spans:
        if span.loss == "ce":
            freq = counts[span.name] / max(n, 1)
            freq = freq[freq > 0]
            out[span.name] = float(max(-(freq * np.log(freq)).sum(), np.log(2)))
        else:
            var = float(variances[span.start:span.stop].sum()) if n else 0.0
            out[span.name] = var if var > 1e-6 else 1.0
    return out


#: rows reconstructed at a time by :func:`model_errors`: the reconstruction is held for one chunk, not the table
CHUNK_ROWS = 50_000


def model_errors(X: np.ndarray, reconstruct, spans: Sequence, *, scales: dict[str, float] | None = None,
                 chunk_rows: int = CHUNK_ROWS, progress=None) -> pd.DataFrame:
    """:func:`errors` of ``reconstruct(X)`` (a learner's ``reconstruct``), chunk by chunk of rows (at most
    ``chunk_rows``, fewer for a wide X: ``features.rowfile.chunk_rows``) on the scales of the whole of X
    (default :func:`column_scales`): the same frame, without a second (n, p) matrix. ``progress(rows done)``
    after each chunk."""
    from product_repr.features.rowfile import chunk_rows as rows_for, row_chunks

    scales = scales or column_scales(X, spans)
    parts = []
    for lo, block in row_chunks(X, rows_for(X.shape[1], chunk_rows)):
        parts.append(errors(block, reconstruct(block), spans, scales=scales))
        if progress is not None:
            progress(lo + len(block))
    return pd.concat(parts, ignore_index=True) if len(parts) != 1 else parts[0]


def errors(X: np.ndarray, X_hat: np.ndarray, spans: Sequence, *, scales: dict[str, float] | None = None) -> pd.DataFrame:
    """Reconstruction error of every product, per source column and in total.

    ``X``, ``X_hat``: float (n, p) features and reconstruction (categorical spans
    of ``X_hat`` hold probabilities); ``spans``: the FeatureSpace's spans.
    ``scales``: per-column divisors (default :func:`column_scales` of ``X``;
    pass the training set's to score new rows on the same scale).

    Returns a DataFrame with n rows: one float64 column per span (named after
    the source column) and ``error``, their sum. Raises ConfigError when shapes
    do not match or spans fall outside X.
    """
    X = np.asarray(X)
    X_hat = np.asarray(X_hat)
    if X.shape != X_hat.shape or X.ndim != 2:
        raise ConfigError(f"features {X.shape} and reconstruction {X_hat.shape} must be the same (n, p) shape")
    if spans and max(s.stop for s in spans) > X.shape[1]:
        raise ConfigError(f"spans reach column {max(s.stop for s in spans)} but X has {X.shape[1]}; use this model's feature space")
    scales = scales or column_scales(X, spans)
    columns: dict[str, np.ndarray] = {}
    for span in spans:
        x = X[:, span.start : span.stop].astype(np.float64)
        x_hat = X_hat[:, span.start : span.stop].astype(np.float64)
        if span.loss == "ce":
            p = probabilities(x_hat)[np.arange(len(x)), _true_levels(x)]
            raw = -np.log(np.clip(p, P_MIN, 1.0))
        elif span.loss == "mse":
            raw = np.square(np.nan_to_num(x_hat - x, nan=0.0, posinf=1e6, neginf=-1e6)).sum(axis=1)
        else:
            raise ConfigError(f"span {span.name!r} has loss {span.loss!r}; expected 'mse' or 'ce'")
        columns[column_name(span.name)] = raw / scales[span.name]
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(X)), dtype=np.float64)
    total = np.zeros(len(X), dtype=np.float64)
    for values in columns.values():
        total += values
    frame["error"] = total
    return frame


# ---------------------------------------------------------------------------------------------
# explanations
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    """One unusual column of one product: its error and a sentence saying why."""

    column: str
    error: float
    text: str


@dataclass(frozen=True)
class Explanation:
    """Why product ``row`` (``product_id``) has a high reconstruction error."""

    row: int
    product_id: str
    error: float
    reasons: list[Reason] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "; ".join(r.text for r in self.reasons)


def fmt_number(v: float) -> str:
    """A number for people: 40,000 · 12.5 · 0.034."""
    if v is None or not np.isfinite(v):
        return "missing"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:,.1f}".rstrip("0").rstrip(".")
    if a == 0:
        return "0"
    return f"{v:.3g}"


def _numbers(df: pd.DataFrame, feature_space, col: str) -> np.ndarray:
    """Column ``col`` of ``df`` as float64 in original units, read the way the feature space reads it."""
    try:
        from product_repr.data.schema import as_numbers

        return np.asarray(as_numbers(df[col], feature_space.schema.parse(col)), dtype=np.float64)
    except (AttributeError, ImportError, ValueError):
        return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)


def quote(value, limit: int = 40) -> str:
    text = " ".join(str(value).split())
    return f"'{text[: limit - 1]}…'" if len(text) > limit else f"'{text}'"


def _parse_of(feature_space, col: str) -> str | None:
    try:
        return feature_space.schema.parse(col)
    except (AttributeError, ValueError):
        return None


def _range_text(lo: float, hi: float) -> str:
    return fmt_number(lo) if fmt_number(lo) == fmt_number(hi) else f"{fmt_number(lo)}–{fmt_number(hi)}"


def _numeric_reason(col, row, df, feature_space, X_hat, span, neighbour_rows, values_cache) -> str:
    if col not in values_cache:
        values_cache[col] = _numbers(df, feature_space, col)
    values = values_cache[col]
    value = values[row]
    try:
        expected = float(feature_space.decode_numeric(col, X_hat[row][span.start]))
    except Exception:  # noqa: BLE001 - an explanation must never fail because of decoding
        expected = float("nan")
    near = values[neighbour_rows] if neighbour_rows is not None else np.array([])
    near = near[np.isfinite(near)]
    if _parse_of(feature_space, col) == "bool":
        shown = "missing" if not np.isfinite(value) else ("yes" if value else "no")
        if len(near):
            where = f"{int((near != 0).sum())} of {len(near)} similar products are yes"
        else:
            stats = feature_space.numeric_stats(col)
            share = stats.get("mean")
            where = "the column has no values" if share is None else f"{share:.0%} of products are yes"
        hint = f" (model expected yes with p≈{min(max(expected, 0.0), 1.0):.2f})" if np.isfinite(expected) else ""
        return f"{col} {shown} where {where}{hint}"
    shown = "missing" if not np.isfinite(value) else fmt_number(value)
    if len(near) >= NEAR_QUANTILE_FROM:  # the middle of the range: one odd neighbour does not stretch it
        lo, hi = np.quantile(near, [0.1, 0.9])
        where = f"most similar products have {_range_text(lo, hi)}"
    elif len(near):
        where = f"similar products have {_range_text(np.min(near), np.max(near))}"
    else:
        stats = feature_space.numeric_stats(col)
        if stats.get("q05") is None:
            where = "the column has no values"
        else:
            where = f"most products have {_range_text(stats['q05'], stats['q95'])}"
    hint = f" (model expected about {fmt_number(expected)})" if np.isfinite(expected) else ""
    return f"{col} {shown} where {where}{hint}"


def _categorical_reason(col, row, df, feature_space, X_hat, span) -> str:
    levels = list(feature_space.category_levels(col))
    p = probabilities(np.asarray(X_hat[row][span.start : span.stop])[None, :])[0]
    raw = df[col].iloc[row]
    missing = raw is None or (not isinstance(raw, str) and pd.isna(raw)) or not str(raw).strip()
    actual = "(missing)" if missing else str(raw).strip()
    if actual in levels:
        index = levels.index(actual)
    elif missing and "(missing)" in levels:
        index = levels.index("(missing)")
    else:
        index = levels.index("(other)") if "(other)" in levels else int(np.argmax(p))
    best = int(np.argmax(p))
    shown = "missing" if missing else quote(actual)
    if best != index:
        return f"{col} {shown} where the model expected {quote(levels[best])} (p={p[index]:.2f})"
    return f"{col} {shown} is unusual for its other attributes (p={p[index]:.2f})"


#: what the why says of a text that does not fit the product's other columns (a text has no single expected
#: value); anomalies.explain replaces it with the group the text does not fit, when it knows one
TEXT_UNUSUAL = "unusual for its other attributes"


def _text_reason(col, row, df) -> str:
    raw = df[col].iloc[row] if col in df.columns else None
    if raw is None or (not isinstance(raw, str) and pd.isna(raw)) or not str(raw).strip():
        return f"{col} missing where the model expected text"
    return f"{col} {quote(raw)} {TEXT_UNUSUAL}"


def explain(
    errors_df: pd.DataFrame,
    df: pd.DataFrame,
    feature_space,
    X_hat: np.ndarray,
    top: int = 10,
    neighbours: np.ndarray | None = None,
    *,
    columns: int = 3,
    product_ids: Sequence | None = None,
) -> list[Explanation]:
    """Plain-language reasons for the ``top`` products by ``errors_df["error"]``.

    ``errors_df``: from :func:`errors` (an extra ``product_id`` column is fine),
    row i = row i of ``df`` (the source table) and of ``X_hat`` (n, p), or ``X_hat`` a mapping from the
    explained rows to their predicted rows (p,) (``anomalies.explain`` predicts only those).
    ``feature_space``: the fitted FeatureSpace (``spans``, ``numeric_stats``,
    ``category_levels``, ``decode_numeric``). ``neighbours``: optional (n, k)
    row indices of each product's nearest neighbours; numeric ranges then come
    from those products ("similar products have 20–60"), else from the column's
    5th–95th percentile. Each product gets its ``columns`` worst columns, those
    with at least a third of the worst column's error.

    Returns a list of :class:`Explanation`, highest error first. Raises
    ConfigError when the tables do not line up.
    """
    n = len(errors_df)
    if len(df) != n or (isinstance(X_hat, np.ndarray) and len(X_hat) != n):
        raise ConfigError(f"errors ({n} rows), table ({len(df)}) and reconstruction ({len(X_hat)}) must have the same rows")
    if "error" not in errors_df.columns:
        raise ConfigError("errors table has no 'error' column; build it with reconstruction.errors()")
    if neighbours is not None and len(neighbours) != n:
        raise ConfigError(f"neighbours have {len(neighbours)} rows for {n} products; pass all_neighbours() of the same rows")
    if product_ids is None:
        product_ids = errors_df["product_id"].to_numpy() if "product_id" in errors_df.columns else np.arange(n)
    spans = {column_name(s.name): s for s in feature_space.spans}
    cols = [c for c in errors_df.columns if c in spans]
    total = errors_df["error"].to_numpy(dtype=np.float64)
    order = np.argsort(-np.nan_to_num(total, nan=-np.inf), kind="stable")[: max(0, int(top))]
    per_column = errors_df[cols].to_numpy(dtype=np.float64)
    cache: dict[str, np.ndarray] = {}
    out: list[Explanation] = []
    for row in order:
        row = int(row)
        ranked = np.argsort(-per_column[row], kind="stable")[:columns]
        worst = per_column[row, ranked[0]] if len(ranked) else 0.0
        reasons = []
        for j in ranked:
            e = float(per_column[row, j])
            if reasons and e < worst / 3:
                break
            key = cols[j]
            span = spans[key]
            nb = None if neighbours is None else np.asarray(neighbours[row])
            role = getattr(span.role, "value", span.role)
            if role == "numeric":
                text = _numeric_reason(span.name, row, df, feature_space, X_hat, span, nb, cache)
            elif role == "categorical" or span.loss == "ce":
                text = _categorical_reason(span.name, row, df, feature_space, X_hat, span)
            else:
                text = _text_reason(span.name, row, df)
            reasons.append(Reason(span.name, e, text))
        out.append(Explanation(row, str(product_ids[row]), float(total[row]), reasons))
    return out


def explanations_frame(explanations: Sequence[Explanation]) -> pd.DataFrame:
    """One row per product: product_id, row, error, reason (joined sentences), worst_column."""
    return pd.DataFrame(
        {
            "product_id": [e.product_id for e in explanations],
            "row": np.array([e.row for e in explanations], dtype=np.int64),
            "error": np.array([e.error for e in explanations], dtype=np.float64),
            "worst_column": [e.reasons[0].column if e.reasons else None for e in explanations],
            "reason": [e.text for e in explanations],
        }
    )
