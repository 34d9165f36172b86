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
   - categories: how much less likely the model finds the observed level than the level it finds most
     likely, in nats (``log p_model(top) - log p_model(v)``), less the median of that among the products
     with the same level (the levels of fewer than ``LEVEL_ROWS`` products pooled), so a level the model
     cannot place is not odd by itself; and, where another categorical column nearly fixes this one
     (:func:`dependency_surprises`: ``color_code`` and ``color_name``, a sub-category and its category), a
     pair of levels that no other product has counts too;
   - text: the squared distance between the text's vector and the one predicted; and, where another text
     column's values repeat (a brand written out), how unlike the text is to the same column of the other
     products sharing that value (:func:`group_surprises`), put on the scale of the first and the larger
     of the two kept.
3. **One scale** (:func:`scores`): each column's :func:`rarity`, ``log10(n / m)`` with m the products
   at least as surprising in that column, so a heavy-tailed column (prices) and a tight one (weights of
   t-shirts) are compared by how rare a surprise is, not by its size. The ``score`` is the largest rarity
   (one extreme column puts a product on top), ties broken by how many typical spreads beyond the usual
   it is (:func:`spreads`); ``spreads`` summed over the columns is what flags a product.

Measured on the demo catalog and on real catalogs with planted anomalies: docs/ANALYSIS.md and
``bench/anomalies.py``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from product_repr.errors import ConfigError
from product_repr.analysis.reconstruction import TEXT_UNUSUAL, probabilities, quote

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
#: a categorical column A "nearly fixes" B when guessing B as the commonest B among the products with A's
#: level is right for at least this share of the products (see dependency_surprises)
DEPENDENCY = 0.9
#: a text column whose values repeat (a brand, a maker, a seller written out) groups the products that
#: share a value when at least ``GROUP_SHARE`` of them are in groups of at least ``GROUP_ROWS`` (see
#: group_surprises); a key whose groups' vector sums would take more than ``GROUP_BYTES`` is left out
GROUP_ROWS = 3
GROUP_SHARE = 0.5
GROUP_BYTES = 256 * 2**20
#: the why of a text names its group when the text is less than this share as alike to the group's other
#: members as their median member is (bigbasket, 4,000 rows: 9 of 13 titles from another category, 1 of 40
#: products at random)
GROUP_UNLIKE = 0.5
DRAWS = 2
CHUNK_ROWS = 50_000  # masked_reconstruction and anomaly_scores predict at most this many rows at a time
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
    each row's prediction depends on that row alone. When ``reconstruct`` is a learner's own method, the
    learner's ``masked_reconstruct`` computes the same without the masked copies. ``fill="swap"``: each of ``draws`` passes per span puts
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
        learner = getattr(reconstruct, "__self__", None)  # a learner's own reconstruct: its faster way
        if callable(getattr(learner, "masked_reconstruct", None)):
            return learner.masked_reconstruct(X, spans, means)
        from product_repr.features.rowfile import chunk_rows

        step = chunk_rows(X.shape[1], CHUNK_ROWS)
        for lo in range(0, len(X), step):
            rows = slice(lo, lo + step)
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


def _level_surprise(p_model: np.ndarray, p_base: np.ndarray) -> np.ndarray:
    """max(0, log p_base - log p_model): nats by which the model finds the observed level less likely."""
    return np.maximum(np.log(np.clip(p_base, P_MIN, 1.0)) - np.log(np.clip(p_model, P_MIN, 1.0)), 0.0)


def _centred_by_level(surprise: np.ndarray, level: np.ndarray) -> np.ndarray:
    """``surprise`` minus the median surprise of the products with the same level, kept where positive;
    the products of levels with fewer than ``LEVEL_ROWS`` products are taken together as one group. A
    level the model never predicts well (a rare, valid one) is not odd by itself; a product whose level
    the model is surer than usual is wrong stands out."""
    out = surprise.copy()
    values, inverse, counts = np.unique(level, return_inverse=True, return_counts=True)
    for j in np.flatnonzero(counts >= LEVEL_ROWS):
        rows = inverse == j
        out[rows] = np.maximum(surprise[rows] - np.median(surprise[rows]), 0.0)
    rare = counts[inverse] < LEVEL_ROWS
    if rare.any():
        out[rare] = np.maximum(surprise[rare] - np.median(surprise[rare]), 0.0)
    return out


def _odds_surprise(p_observed: np.ndarray, p_top: np.ndarray) -> np.ndarray:
    """log p_top - log p_observed (both clipped at ``P_MIN``): nats by which the model prefers the level it
    finds most likely over the observed one (0 when that is the observed one)."""
    return np.maximum(np.log(np.clip(p_top, P_MIN, 1.0)) - np.log(np.clip(p_observed, P_MIN, 1.0)), 0.0)


def _dependencies(levels: dict[str, np.ndarray]) -> list[tuple[str, str, np.ndarray]]:
    """``(a, b, joint)`` for each ordered pair of categorical columns where a nearly fixes b
    (``DEPENDENCY``, and clearly better than guessing b's commonest level for everyone); ``joint`` (levels
    of a, levels of b) counts the products. ``levels``: column -> level index per product."""
    out = []
    n = len(next(iter(levels.values()))) if levels else 0
    sizes = {name: int(level.max()) + 1 if len(level) else 1 for name, level in levels.items()}
    for a, la in levels.items():
        for b, lb in levels.items():
            if a == b or not n:
                continue
            joint = np.bincount(la * sizes[b] + lb, minlength=sizes[a] * sizes[b]).reshape(sizes[a], sizes[b])
            right = joint.max(axis=1).sum() / n
            if right >= DEPENDENCY and right > joint.sum(axis=0).max() / n + 0.05:
                out.append((a, b, joint))
    return out


def _pair_surprise(joint: np.ndarray, la, lb, n: int):
    """``log p(b) - log p(b | a)`` for products with levels ``la``, ``lb`` (arrays or one of each):
    ``p(b | a)`` over the other products with level ``la``, smoothed towards ``p(b)`` by one product."""
    base = joint.sum(axis=0)[lb] / n
    return np.log(base) - np.log((joint[la, lb] - 1.0 + base) / (joint.sum(axis=1)[la] - 1.0 + 1.0))


def dependency_surprises(levels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per categorical column b: nats by which b's observed level is less likely among the *other*
    products with the same level of a column a that nearly fixes b (:func:`_dependencies`) than in the
    catalog, ``max(0, log p(b) - log p(b | a))``, the largest over such columns a (0 where there is none).
    ``p(b | a)`` leaves the product itself out and is smoothed towards ``p(b)`` by one product, so a pair
    of levels no other product has (a colour code that disagrees with its colour name) is surprising in
    proportion to how many products have that level of a, and a pair many products share is not at all.
    ``levels``: column -> level index (int, n) per product."""
    n = len(next(iter(levels.values()))) if levels else 0
    out = {name: np.zeros(n) for name in levels}
    for a, b, joint in _dependencies(levels):
        la, lb = levels[a], levels[b]
        np.maximum(out[b], _pair_surprise(joint, la, lb, n), out=out[b])
    return out


def dependency_reason(levels: dict[str, np.ndarray], names: dict[str, Sequence[str]], row: int,
                      column: str, dependencies: list | None = None) -> str | None:
    """A sentence for a product whose ``column`` level disagrees with a column that nearly fixes it
    (the strongest such disagreement), or None when there is none. ``names``: column -> level names;
    ``dependencies``: :func:`_dependencies` of ``levels`` when the caller has it (it reads every row)."""
    best, text = 0.0, None
    n = len(levels[column])
    for a, b, joint in _dependencies(levels) if dependencies is None else dependencies:
        if b != column:
            continue
        la, lb = int(levels[a][row]), int(levels[b][row])
        others, group = joint[la, lb] - 1, joint[la].sum() - 1
        surprise = float(_pair_surprise(joint, la, lb, n))
        if surprise > best:
            usual = int(np.argmax(joint[la] - np.eye(joint.shape[1], dtype=np.int64)[lb]))
            share = (joint[la, usual] - (usual == lb)) / max(group, 1)
            best = surprise
            text = (f"{b} {names[b][lb]!r} with {a} {names[a][la]!r}: "
                    + (f"{others} of the {group} other products with that {a} have it; "
                       if others else f"none of the {group} other products with that {a} has it; ")
                    + f"{share:.0%} have {names[b][usual]!r}")
    return text


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


def _text_spans(spans: Sequence) -> list:
    return [sp for sp in spans if sp.loss != "ce" and not _numeric(sp)]


def _unit(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``block`` scaled to length 1 (float32), and which rows have any length at all."""
    block = np.asarray(block, dtype=np.float32)
    norm = np.linalg.norm(block, axis=1)
    present = norm > 1e-6
    return block / np.where(present, norm, 1.0)[:, None], present


def text_groups(X, spans: Sequence) -> dict[str, np.ndarray]:
    """Per text column whose values repeat: the group (int64, n) of each product, products with the same
    value in one group, -1 for a product whose value fewer than ``GROUP_ROWS`` products share. A column
    counts when at least ``GROUP_SHARE`` of the products are in such groups (brands do; titles do not).
    Identical values have identical blocks of X: a block is hashed by one fixed random projection."""
    from product_repr.features.rowfile import row_chunks

    n = len(X)
    out: dict[str, np.ndarray] = {}
    texts = _text_spans(spans)
    if not n or not texts:
        return out
    rng = np.random.default_rng(0)
    projections = {sp.name: rng.normal(size=sp.stop - sp.start) for sp in texts}
    hashes: dict[str, list[np.ndarray]] = {sp.name: [] for sp in texts}
    for _, block in row_chunks(X):
        for sp in texts:
            hashes[sp.name].append(np.round(block[:, sp.start:sp.stop].astype(np.float64) @ projections[sp.name], 6))
    for sp in texts:
        _, ids, counts = np.unique(np.concatenate(hashes[sp.name]), return_inverse=True, return_counts=True)
        ids = ids.reshape(-1)
        grouped = counts[ids] >= GROUP_ROWS
        if grouped.mean() < GROUP_SHARE:
            continue
        keep = np.flatnonzero(counts >= GROUP_ROWS)
        relabel = np.full(len(counts), -1, dtype=np.int64)
        relabel[keep] = np.arange(len(keep))
        out[sp.name] = relabel[ids]
    return out


def group_surprises(X, spans: Sequence, groups: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Per text column c: how unlike each product's c is to the c of the other products in its group of a
    repeating text column k (:func:`text_groups`): 1 - cosine between the product's vector of c and the
    sum of the others' (unit vectors), the largest over such k; 0 outside any group and for an empty c.
    A title from another department under a brand that sells only one kind of thing stands out; so does
    a brand written in by mistake. Three passes over X's rows; no copy of a text block is kept."""
    from scipy.sparse import csr_matrix

    from product_repr.features.rowfile import row_chunks

    groups = text_groups(X, spans) if groups is None else groups
    out: dict[str, np.ndarray] = {}
    for key, group in groups.items():
        size = int(group.max()) + 1 if len(group) else 0
        for sp in _text_spans(spans):
            width = sp.stop - sp.start
            if sp.name == key or not size or size * width * 4 > GROUP_BYTES:
                continue
            sums = np.zeros((size, width), dtype=np.float32)
            for lo, block in row_chunks(X):
                v, present = _unit(block[:, sp.start:sp.stop])
                g = group[lo:lo + len(block)]
                rows = np.flatnonzero((g >= 0) & present)
                member = csr_matrix((np.ones(len(rows), np.float32), (g[rows], np.arange(len(rows)))),
                                    shape=(size, len(rows)))
                sums += np.asarray(member @ v[rows], dtype=np.float32)
            surprise = np.zeros(len(group))
            for lo, block in row_chunks(X):
                v, present = _unit(block[:, sp.start:sp.stop])
                g = group[lo:lo + len(block)]
                rows = np.flatnonzero((g >= 0) & present)
                surprise[lo + rows] = 1.0 - _cosine_to_rest(v[rows], sums[g[rows]])
            out[sp.name] = np.maximum(out.get(sp.name, 0.0), surprise)
    return out


def _cosine_to_rest(v: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Cosine between each unit row of ``v`` and the sum of the other members of its group, given each row's
    group sum ``totals`` (its own row included; (m, w), or (w,) for one group); 1 where the rest sums to 0."""
    others = totals - v
    norm = np.linalg.norm(others, axis=1)
    return np.divide((others * v).sum(axis=1), norm, out=np.ones(len(v), np.float32), where=norm > 1e-6)


def _on_scale_of(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``values`` put on ``reference``'s scale by rank: the i-th smallest value becomes the reference's
    quantile at that rank, so the larger of the two per product is "the rarer of the two"."""
    n = len(values)
    if n < 2:
        return np.asarray(reference, dtype=np.float64).copy()
    ranks = np.empty(n)
    ranks[np.argsort(values, kind="stable")] = np.arange(n) / (n - 1)
    return np.quantile(np.asarray(reference, dtype=np.float64), ranks)


def surprises(X: np.ndarray, X_hat: np.ndarray, spans: Sequence) -> pd.DataFrame:
    """Raw surprise (n rows, one float64 column per source column) of ``X`` under the prediction ``X_hat``.

    ``X_hat`` should come from :func:`masked_reconstruction`. Column kinds are read from the spans (loss
    "ce" = categorical; a numeric span is [value, missing flag]; other "mse" spans are text vectors).
    """
    X, X_hat = np.asarray(X), np.asarray(X_hat)
    if X.shape != X_hat.shape or X.ndim != 2:
        raise ConfigError(f"features {X.shape} and prediction {X_hat.shape} must be the same (n, p) shape")
    two = _two_level_columns(X, spans)
    return _surprises_of([_parts(X, X_hat, spans, two)], spans, two, len(X), group_surprises(X, spans))


def _numeric(span) -> bool:
    return span.loss != "ce" and getattr(span.role, "value", span.role) == "numeric" and span.stop - span.start == 2


def _two_level_columns(X, spans: Sequence) -> dict[str, tuple[float, float] | None]:
    """Per numeric span ([value, missing flag]), its two values when the present values take exactly two
    (a boolean or a flag: scored by level surprise), else None; read a chunk of rows at a time."""
    from product_repr.features.rowfile import row_chunks

    seen: dict[str, set] = {sp.name: set() for sp in spans if _numeric(sp)}
    for _, block in row_chunks(X):
        for sp in spans:
            if sp.name in seen and len(seen[sp.name]) <= 2:
                value, flag = block[:, sp.start].astype(np.float64), block[:, sp.start + 1]
                seen[sp.name].update(np.unique(value[flag < 0.5])[:3].tolist())
    return {name: (min(v), max(v)) if len(v) == 2 else None for name, v in seen.items()}


def _parts(X: np.ndarray, X_hat: np.ndarray, spans: Sequence, two: dict) -> dict[str, dict[str, np.ndarray]]:
    """What :func:`_surprises_of` needs of some rows, per span: the finished surprise where it depends on
    those rows alone, else what the catalog-wide base rates and level medians are applied to."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for span in spans:  # in float64 one span at a time: no float64 copy of the whole matrices
        x = X[:, span.start:span.stop].astype(np.float64)
        x_hat = X_hat[:, span.start:span.stop].astype(np.float64)
        if span.loss == "ce":
            level = np.argmax(x, axis=1)
            p = probabilities(x_hat)
            out[span.name] = {"level": level, "p": p[np.arange(len(x)), level], "top": p.max(axis=1)}
        elif _numeric(span):
            value, flag = x[:, 0], x[:, 1]
            present = flag < 0.5
            part = {"flag": flag.astype(np.float32), "p_flag": x_hat[:, 1].astype(np.float32)}
            if two[span.name] is not None:
                part.update(present=present, value=value.astype(np.float32), p_value=x_hat[:, 0].astype(np.float32))
            else:
                part["square"] = np.where(present, np.square(x_hat[:, 0] - value), 0.0)
            out[span.name] = part
        else:
            out[span.name] = {"square": np.square(x_hat - x).sum(axis=1)}
    return out


def _surprises_of(chunks: list[dict], spans: Sequence, two: dict, n: int,
                  grouped: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """:func:`surprises` of ``n`` rows from the :func:`_parts` of their consecutive chunks (base rates and
    level medians over all of them); ``grouped``: :func:`group_surprises` of the same rows."""
    grouped = grouped or {}
    def joined(name: str, key: str) -> np.ndarray:
        return np.concatenate([c[name][key] for c in chunks]) if len(chunks) != 1 else chunks[0][name][key]

    out: dict[str, np.ndarray] = {}
    levels: list[str] = []  # columns scored by level surprise only, in nats
    categories = {span.name: joined(span.name, "level") for span in spans if span.loss == "ce"}
    pairs = dependency_surprises(categories)
    for span in spans:
        if span.loss == "ce":
            level = categories[span.name]
            model = _centred_by_level(_odds_surprise(joined(span.name, "p"), joined(span.name, "top")), level)
            out[span.name] = np.maximum(model, pairs[span.name])
            levels.append(span.name)
        elif _numeric(span):
            flag = joined(span.name, "flag").astype(np.float64)
            present = flag < 0.5
            if two[span.name] is not None:
                part = np.zeros(n)
                value, p_value = joined(span.name, "value"), joined(span.name, "p_value")
                part[present] = _binary_surprise(value[present].astype(np.float64),
                                                 p_value[present].astype(np.float64), *two[span.name])
                levels.append(span.name)
            else:
                part = joined(span.name, "square")
            if 0 < (~present).sum() < n:
                part = part + _binary_surprise(flag, joined(span.name, "p_flag").astype(np.float64), 0.0, 1.0)
            out[span.name] = part
        else:
            square = joined(span.name, "square")
            out[span.name] = np.maximum(square, _on_scale_of(grouped[span.name], square)) \
                if span.name in grouped else square
    frame = pd.DataFrame(out, index=pd.RangeIndex(n), dtype=np.float64)
    frame.attrs["levels"] = levels
    return frame


def spreads(raw: pd.DataFrame) -> pd.DataFrame:
    """Per-column surprise in typical spreads above the column's usual: ``max(0, (s - median) / spread)``,
    with spread = the ``SPREAD_QUANTILE`` quantile minus the median, at least ``SPREAD_FLOOR`` x the
    column's mean surprise (and ``ABSOLUTE_FLOOR``; ``LEVEL_FLOOR`` nats for the columns in
    ``raw.attrs["levels"]``). ``raw``: :func:`surprises`; columns named by :func:`column_of`."""
    levels = set(raw.attrs.get("levels", ()))
    frame = {column_of(name): _spread(raw[name].to_numpy(dtype=np.float64), name in levels) for name in raw.columns}
    return pd.DataFrame(frame, index=raw.index, dtype=np.float64)


def _spread(s: np.ndarray, level: bool) -> np.ndarray:
    """One column of :func:`spreads` (``level``: the column is scored by level surprise)."""
    median, high = np.quantile(s, [0.5, SPREAD_QUANTILE]) if len(s) else (0.0, 0.0)
    floor = LEVEL_FLOOR if level else max(SPREAD_FLOOR * float(np.mean(s)) if len(s) else 0.0, ABSOLUTE_FLOOR)
    spread = max(high - median, floor)
    return np.maximum((s - median) / spread, 0.0)


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
    levels = set(raw.attrs.get("levels", ()))
    n = len(raw)
    rare: dict[str, np.ndarray] = {}
    total, most, farthest = np.zeros(n), np.zeros(n), np.zeros(n)
    for name in raw.columns:  # a column at a time: no frame of spreads beside the rarities (a million rows)
        z = _spread(raw[name].to_numpy(dtype=np.float64), name in levels)
        rare[column_of(name)] = r = rarity(z)
        total += np.nan_to_num(z)  # as DataFrame.sum and .max, which skip a missing value
        np.fmax(farthest, z, out=farthest)
        np.fmax(most, r, out=most)
    out = pd.DataFrame(rare, index=raw.index, dtype=np.float64)
    out["spreads"] = total
    out["score"] = most + TIE * np.log1p(farthest)
    return out


def anomaly_scores(reconstruct: Callable[[np.ndarray], np.ndarray], X: np.ndarray, spans: Sequence, *,
                   progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The :func:`scores` frame of every row of X (an array or a RowFile): the whole computation for one
    learner with a decoder. The rows are predicted a chunk at a time (:func:`~product_repr.features.rowfile.chunk_rows`,
    at most :data:`CHUNK_ROWS`) with the catalog's column means in the hidden block, so only a chunk's
    prediction is ever held; ``progress(rows done)`` after each chunk."""
    from product_repr.features.rowfile import as_rows, chunk_rows, row_chunks

    X = as_rows(X)
    means = np.asarray(X.mean(axis=0), dtype=np.float32)
    two = _two_level_columns(X, spans)
    chunks = []
    for lo, block in row_chunks(X, chunk_rows(X.shape[1], CHUNK_ROWS)):
        chunks.append(_parts(block, masked_reconstruction(reconstruct, block, spans, fill_values=means), spans, two))
        if progress is not None:
            progress(lo + len(block))
    return scores(_surprises_of(chunks, spans, two, len(X), group_surprises(X, spans)))


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
    from product_repr.features.rowfile import as_rows

    X = as_rows(X)
    predicted = masked_reconstruction(reconstruct, X[rows], spans, fill_values=X.mean(axis=0)) if len(rows) else \
        np.zeros((0, X.shape[1]), np.float32)
    X_hat = {int(r): predicted[i] for i, r in enumerate(rows)}
    if product_ids is None and "product_id" in scored.columns:
        product_ids = scored["product_id"].to_numpy()
    out = reconstruction.explain(frame, df, feature_space, X_hat, top=top, neighbours=neighbours,
                                 columns=columns, product_ids=product_ids)
    if not out:
        return out
    texts = {sp.name: sp for sp in _text_spans(spans)}
    groups = text_groups(X, spans) if any(r.column in texts for e in out for r in e.reasons) else {}
    if groups:  # a text unlike the same column of the products sharing its brand: say so, with the figures
        for i, e in enumerate(out):
            reasons = [dataclasses.replace(r, text=_with_group(r.text, said))
                       if r.column in texts and (said := group_reason(X, texts[r.column], spans, groups, e.row, df))
                       else r for r in e.reasons]
            out[i] = dataclasses.replace(e, reasons=reasons)
    categorical = [sp for sp in spans if sp.loss == "ce"]
    if len(categorical) < 2:
        return out
    levels = _levels(X, categorical)
    names = {sp.name: [str(v) for v in feature_space.category_levels(sp.name)] for sp in categorical}
    dependencies = _dependencies(levels)
    if not dependencies:
        return out
    for i, e in enumerate(out):  # a level that disagrees with a column that nearly fixes it: say which
        reasons = [dataclasses.replace(r, text=dependency_reason(levels, names, e.row, r.column, dependencies)
                                       or r.text) if r.column in levels else r for r in e.reasons]
        out[i] = dataclasses.replace(e, reasons=reasons)
    return out


def _with_group(text: str, said: str) -> str:
    vague = f" {TEXT_UNUSUAL}"
    return f"{text[:-len(vague)]} {said}" if text.endswith(vague) else f"{text}, {said}"


def group_reason(X, span, spans: Sequence, groups: dict[str, np.ndarray], row: int, df: pd.DataFrame) -> str | None:
    """Why ``row``'s text in ``span`` is odd among the products sharing its value of a repeating text column
    (:func:`text_groups`), e.g. "unlike the title of the 7 other products with brand 'Fresho' (similarity
    0.12 to them; 0.58 for a typical one of them)"; None when it is at least ``GROUP_UNLIKE`` times as alike
    to them as their median member, or it is in no group. Reads the rows of its groups only."""
    best = None
    for key, group in groups.items():
        if key == span.name or group[row] < 0:
            continue
        members = np.flatnonzero(group == group[row])
        v, present = _unit(np.asarray(X[members])[:, span.start:span.stop])
        at = int(np.searchsorted(members, row))
        if not present[at] or present.sum() < GROUP_ROWS:
            continue
        v = v[present]
        at = int(present[:at].sum())
        cos = _cosine_to_rest(v, v.sum(axis=0))
        typical = float(np.median(np.delete(cos, at)))
        if typical <= 0 or cos[at] >= GROUP_UNLIKE * typical:  # a group alike in nothing says nothing
            continue
        gap = typical - float(cos[at])
        if best is None or gap > best[0]:
            best = (gap, key, len(v) - 1, float(cos[at]), typical)
    if best is None:
        return None
    _, key, others, own, typical = best
    value = df[key].iloc[row] if key in df.columns else None
    shown = f" {quote(value)}" if value is not None else ""
    return (f"unlike the {span.name} of the {others:,} other products with {key}{shown} (similarity {own:.2f} to "
            f"them; {typical:.2f} for a typical one of them)")


def _levels(X, spans: Sequence) -> dict[str, np.ndarray]:
    """Level index (n,) of every product in each categorical span, read a chunk of rows at a time."""
    from product_repr.features.rowfile import row_chunks

    parts: dict[str, list[np.ndarray]] = {sp.name: [] for sp in spans}
    for _, block in row_chunks(X):
        for sp in spans:
            parts[sp.name].append(np.argmax(block[:, sp.start:sp.stop], axis=1))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}
