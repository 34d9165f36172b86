"""Anomaly scores: which products do not fit the catalog, and in which of their columns.

A product is odd when one of its values is not what its *other* values predict: a kettle priced like a
car, a t-shirt that weighs 30 kg, a title from one department filed with another's brand. Three steps:

1. **Predict each column from the others** (:func:`masked_reconstruction`): the column's block of X is
   set to the column's mean and the decoder's output for that block is kept. The model never sees the
   value it predicts, so however long it trained it cannot copy an anomaly back (a plain reconstruction
   can, and then ranks it as ordinary).
2. **A surprise per product and column** (:func:`surprises`):
   - numbers: the squared error of the standardised value (0 when the value is missing);
   - two-valued columns (booleans, flags) and the missing flag of a numeric column: how much less likely
     the observed level is under the model than under the column's base rate, in nats
     (``max(0, log p_base(v) - log p_model(v))``), minus the median of that among the products with the
     same level, so a rare but valid level (a product out of stock, a missing rating) is not odd by itself;
   - categories: the same, for the observed level;
   - text: the squared distance between the text's vector and the one predicted.
3. **One scale** (:func:`scores`): each column's :func:`rarity`, ``log10(n / m)`` with m the products
   at least as surprising in that column, so a heavy-tailed column (prices) and a tight one (weights of
   t-shirts) are compared by how rare a surprise is, not by its size. The ``score`` is the largest rarity
   (one extreme column puts a product on top), ties broken by how many typical spreads beyond the usual
   it is (:func:`spreads`); ``spreads`` summed over the columns is what flags a product.

Measured on the demo catalog and on real catalogs with planted anomalies: docs/ANALYSIS.md and
``bench/anomalies.py``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from product_repr.errors import ConfigError

P_MIN = 1e-4  # model probabilities are clipped here: at most 9.2 nats of surprise per level
SPREAD_QUANTILE = 0.9
#: floor of a column's spread, as a share of its mean surprise (and absolutely), so an almost constant
#: column does not turn tiny differences into huge scores
SPREAD_FLOOR = 0.1
ABSOLUTE_FLOOR = 1e-3
#: floor of the spread of a column scored by level surprise (categories, flags), in nats: most products'
#: levels are at least as likely under the model as by base rate (surprise 0), so the quantiles are 0
LEVEL_FLOOR = 1.0
#: a level needs this many products before its own typical surprise is subtracted (see _centred_by_level)
LEVEL_ROWS = 20
DRAWS = 2
CHUNK_ROWS = 50_000  # masked_reconstruction predicts this many rows at a time
RESERVED = ("product_id", "score", "spreads")
#: products whose ``spreads`` are at least this many are counted as flagged (measured on the demo:
#: docs/ANALYSIS.md)
FLAG_AT = 10.0
#: weight of log(1 + largest spread) in the score: breaks ties between equally rare columns
TIE = 0.1
#: a product must be at least this many typical spreads beyond a column's usual to be rare in it
MIN_SPREADS = 1.0


def masked_reconstruction(reconstruct: Callable[[np.ndarray], np.ndarray], X: np.ndarray, spans: Sequence, *,
                          draws: int = DRAWS, seed: int = 0, fill: str = "mean",
                          fill_values: np.ndarray | None = None) -> np.ndarray:
    """X̂ (n, p) float32 where each span's block is predicted with that block hidden.

    ``reconstruct``: the learner's ``reconstruct`` (X (n, p) -> X̂ (n, p)); ``spans``: the feature space's.
    ``fill="mean"`` (the default) puts the column's mean over X (or ``fill_values`` (p,), the means of the
    whole catalog when X holds only some of its rows) in the span's block: one reconstruction per span, and
    each row's prediction depends on that row alone. ``fill="swap"``: each of ``draws`` passes per span puts
    another row's values (a random permutation) there and the outputs are averaged.
    """
    X = np.asarray(X, dtype=np.float32)
    if draws < 1:
        raise ConfigError(f"draws must be at least 1, got {draws}")
    if fill not in ("mean", "swap"):
        raise ConfigError(f"fill must be 'mean' or 'swap', got {fill!r}")
    if fill_values is not None:
        fill_values = np.asarray(fill_values, dtype=np.float32).reshape(-1)
        if len(fill_values) != X.shape[1]:
            raise ConfigError(f"fill_values has {len(fill_values)} values for {X.shape[1]} feature columns")
    rng = np.random.default_rng(seed)
    out = np.zeros_like(X)
    if fill == "mean":  # each row's prediction is its own: chunk by chunk of rows, one copy of a chunk at a time
        means = X.mean(axis=0) if fill_values is None else fill_values
        for lo in range(0, len(X), CHUNK_ROWS):
            rows = slice(lo, lo + CHUNK_ROWS)
            work = X[rows].copy()
            for span in spans:
                block = slice(span.start, span.stop)
                work[:, block] = means[block]
                out[rows, block] = np.asarray(reconstruct(work))[:, block]
                work[:, block] = X[rows, block]
        return out
    work = X.copy()
    for span in spans:
        block = slice(span.start, span.stop)
        total = np.zeros((len(X), span.stop - span.start), dtype=np.float64)
        for _ in range(draws):
            work[:, block] = X[rng.permutation(len(X)), block]
            total += np.asarray(reconstruct(work), dtype=np.float64)[:, block]
        work[:, block] = X[:, block]
        out[:, block] = (total / draws).astype(np.float32)
    return out


def _probabilities(block: np.ndarray) -> np.ndarray:
    p = np.clip(np.nan_to_num(block.astype(np.float64), nan=0.0), 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / max(p.shape[1], 1)), where=total > 0)


def _level_surprise(p_model: np.ndarray, p_base: np.ndarray) -> np.ndarray:
    """max(0, log p_base - log p_model): nats by which the model finds the observed level less likely."""
    return np.maximum(np.log(np.clip(p_base, P_MIN, 1.0)) - np.log(np.clip(p_model, P_MIN, 1.0)), 0.0)


def _centred_by_level(surprise: np.ndarray, level: np.ndarray) -> np.ndarray:
    """``surprise`` minus the median surprise of the products with the same level (levels of at least
    ``LEVEL_ROWS`` products), kept where positive: a level the model never predicts well (a rare, valid
    one) is not odd by itself; a product whose level the model is surer than usual is wrong stands out."""
    out = surprise.copy()
    values, inverse, counts = np.unique(level, return_inverse=True, return_counts=True)
    for j in np.flatnonzero(counts >= LEVEL_ROWS):
        rows = inverse == j
        out[rows] = np.maximum(surprise[rows] - np.median(surprise[rows]), 0.0)
    return out


def _binary_surprise(observed: np.ndarray, predicted: np.ndarray, low: float, high: float) -> np.ndarray:
    """Level surprise of a two-valued dimension: ``observed`` is ``low`` or ``high``; ``predicted`` is read
    as the probability of ``high`` by its position between them."""
    is_high = np.isclose(observed, high)
    p_high = np.clip((predicted - low) / (high - low), 0.0, 1.0)
    base_high = float(is_high.mean())
    p_model = np.where(is_high, p_high, 1.0 - p_high)
    p_base = np.where(is_high, base_high, 1.0 - base_high)
    return _centred_by_level(_level_surprise(p_model, p_base), is_high)


def _two_levels(values: np.ndarray) -> tuple[float, float] | None:
    levels = np.unique(values)
    return (float(levels[0]), float(levels[-1])) if len(levels) == 2 else None


def surprises(X: np.ndarray, X_hat: np.ndarray, spans: Sequence) -> pd.DataFrame:
    """Raw surprise (n rows, one float64 column per source column) of ``X`` under the prediction ``X_hat``.

    ``X_hat`` should come from :func:`masked_reconstruction`. Column kinds are read from the spans (loss
    "ce" = categorical; a numeric span is [value, missing flag]; other "mse" spans are text vectors).
    """
    X, X_hat = np.asarray(X), np.asarray(X_hat)
    if X.shape != X_hat.shape or X.ndim != 2:
        raise ConfigError(f"features {X.shape} and prediction {X_hat.shape} must be the same (n, p) shape")
    out: dict[str, np.ndarray] = {}
    levels: list[str] = []  # columns scored by level surprise only, in nats
    for span in spans:  # in float64 one span at a time: no float64 copy of the whole matrices
        x = X[:, span.start:span.stop].astype(np.float64)
        x_hat = X_hat[:, span.start:span.stop].astype(np.float64)
        role = getattr(span.role, "value", span.role)
        if span.loss == "ce":
            level = np.argmax(x, axis=1)
            base = np.bincount(level, minlength=x.shape[1]) / max(len(x), 1)
            rows = np.arange(len(x))
            out[span.name] = _centred_by_level(_level_surprise(_probabilities(x_hat)[rows, level], base[level]),
                                               level)
            levels.append(span.name)
        elif role == "numeric" and x.shape[1] == 2:
            value, flag = x[:, 0], x[:, 1]
            present = flag < 0.5
            two = _two_levels(value[present]) if present.any() else None
            if two is not None:
                part = np.zeros(len(x))
                part[present] = _binary_surprise(value[present], x_hat[present, 0], *two)
                levels.append(span.name)
            else:
                part = np.where(present, np.square(x_hat[:, 0] - value), 0.0)
            if 0 < (~present).sum() < len(x):
                part = part + _binary_surprise(flag, x_hat[:, 1], 0.0, 1.0)
            out[span.name] = part
        else:
            out[span.name] = np.square(x_hat - x).sum(axis=1)
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(X)), dtype=np.float64)
    frame.attrs["levels"] = levels
    return frame


def spreads(raw: pd.DataFrame) -> pd.DataFrame:
    """Per-column surprise in typical spreads above the column's usual: ``max(0, (s - median) / spread)``,
    with spread = the ``SPREAD_QUANTILE`` quantile minus the median, at least ``SPREAD_FLOOR`` x the
    column's mean surprise (and ``ABSOLUTE_FLOOR``; ``LEVEL_FLOOR`` nats for the columns in
    ``raw.attrs["levels"]``). ``raw``: :func:`surprises`; columns named by :func:`column_of`."""
    frame: dict[str, np.ndarray] = {}
    levels = set(raw.attrs.get("levels", ()))
    for name in raw.columns:
        s = raw[name].to_numpy(dtype=np.float64)
        median, high = np.quantile(s, [0.5, SPREAD_QUANTILE]) if len(s) else (0.0, 0.0)
        floor = LEVEL_FLOOR if name in levels else max(SPREAD_FLOOR * float(np.mean(s)) if len(s) else 0.0,
                                                       ABSOLUTE_FLOOR)
        spread = max(high - median, floor)
        frame[column_of(name)] = np.maximum((s - median) / spread, 0.0)
    return pd.DataFrame(frame, index=raw.index, dtype=np.float64)


def rarity(spread: np.ndarray) -> np.ndarray:
    """``log10(n / m)`` with m the number of products at least this far out (``spread``: a column of
    :func:`spreads`): log10(n) for the single farthest product of a column ("1 in 10^rarity"), and 0 for
    every product within ``MIN_SPREADS`` of the usual, so a column's most surprising product is not rare
    when its surprise is small (a barely unexpected out-of-stock flag)."""
    z = np.nan_to_num(np.asarray(spread, dtype=np.float64), nan=0.0)
    n = len(z)
    if not n:
        return z
    at_least = n - np.searchsorted(np.sort(z), z, side="left")
    return np.where(z >= MIN_SPREADS, np.log10(n / np.maximum(at_least, 1)), 0.0)


def scores(raw: pd.DataFrame) -> pd.DataFrame:
    """Per-column rarity of the surprise, the product's ``spreads`` and its ``score``.

    ``raw``: :func:`surprises`. Each source column: :func:`rarity` of its :func:`spreads` (a heavy-tailed column and a tight one are
    compared by how rare a product's surprise is *in that column*, not by its size). ``spreads``: the sum
    of :func:`spreads` over the columns (the flag: how far beyond the usual the product is in all).
    ``score``: the largest rarity plus ``TIE`` x log(1 + the largest spread), so one extreme column puts a
    product on top and, among equally rare ones, the farther out goes first.
    """
    z = spreads(raw)
    rare = {name: rarity(z[name].to_numpy()) for name in z.columns}
    out = pd.DataFrame(rare, index=raw.index, dtype=np.float64)
    out["spreads"] = z.sum(axis=1) if len(z.columns) else 0.0
    most = out.drop(columns="spreads").max(axis=1) if len(rare) else 0.0
    out["score"] = most + TIE * np.log1p(z.max(axis=1) if len(z.columns) else 0.0)
    return out


def anomaly_scores(reconstruct: Callable[[np.ndarray], np.ndarray], X: np.ndarray, spans: Sequence, *,
                   draws: int = DRAWS, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """(:func:`scores` frame, masked X̂): the whole computation for one learner with a decoder."""
    X_hat = masked_reconstruction(reconstruct, X, spans, draws=draws, seed=seed)
    return scores(surprises(X, X_hat, spans)), X_hat


def column_of(span_name: str) -> str:
    """The scores-table column of a source column (renamed only if it clashes with product_id/score)."""
    return f"{span_name} (column)" if span_name in RESERVED else span_name


def flagged(scored: pd.DataFrame, threshold: float = FLAG_AT) -> np.ndarray:
    """Boolean (n,): the products whose ``spreads`` are at least ``threshold``."""
    return scored["spreads"].to_numpy(dtype=np.float64) >= float(threshold)


def explain(scored: pd.DataFrame, df: pd.DataFrame, feature_space, reconstruct: Callable[[np.ndarray], np.ndarray],
            X: np.ndarray, *, top: int = 20, neighbours: np.ndarray | None = None, columns: int = 3,
            product_ids: Sequence | None = None) -> list:
    """Why each of the ``top`` products by ``scored["score"]`` is odd: a list of
    ``reconstruction.Explanation`` (highest score first), each naming its most surprising columns, the
    value it has, what similar products have and what the model expected from its *other* columns.

    ``scored``: :func:`scores` (an extra ``product_id`` column is fine), row i = row i of ``df``, of ``X``
    (n, p) and of ``neighbours`` (n, k row indices, optional). Only the ``top`` rows are predicted again
    (one reconstruction of those rows per source column)."""
    from product_repr.analysis import reconstruction

    n = len(scored)
    if len(X) != n:
        raise ConfigError(f"scores ({n} rows) and features ({len(X)} rows) must have the same rows")
    spans = feature_space.spans
    frame = pd.DataFrame({reconstruction.column_name(sp.name): scored[column_of(sp.name)].to_numpy()
                          for sp in spans if column_of(sp.name) in scored.columns}, index=scored.index)
    frame["error"] = scored["score"].to_numpy(dtype=np.float64)
    total = np.nan_to_num(frame["error"].to_numpy(), nan=-np.inf)
    rows = np.argsort(-total, kind="stable")[: max(0, int(top))]
    X = np.asarray(X, dtype=np.float32)
    predicted = masked_reconstruction(reconstruct, X[rows], spans, fill_values=X.mean(axis=0)) if len(rows) else X[:0]
    X_hat = {int(r): predicted[i] for i, r in enumerate(rows)}
    if product_ids is None and "product_id" in scored.columns:
        product_ids = scored["product_id"].to_numpy()
    return reconstruction.explain(frame, df, feature_space, X_hat, top=top, neighbours=neighbours,
                                  columns=columns, product_ids=product_ids)
