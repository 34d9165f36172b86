"""FeatureSpace: a table in, a float32 feature matrix out, one span per source column.

Encoding per role (see docs/FEATURES.md for the user-facing account):

- numeric -> ``[value, missing flag]``: numbers read with ``schema.as_numbers``, the median
  imputed, a signed ``log1p`` when the right tail is heavy, standardised with statistics of
  the winsorised (0.5%-99.5%) values and clipped to ``±CLIP`` so no value can explode;
- categorical -> one-hot of the ``max_levels`` most frequent levels, ``(other)`` and, when
  missing values were seen at fit, ``(missing)``; values are stripped of surrounding spaces;
- text -> :class:`product_repr.features.text.TextEncoder` (TF-IDF word + char n-grams, truncated SVD),
  with a pretrained sentence encoder's vectors appended when ``text_encoder`` names one (the
  default ``"auto"`` uses one whenever it is installed, see :mod:`product_repr.features.sentence`).

ID, IGNORE and excluded columns are never encoded.
"""
from __future__ import annotations

from collections.abc import Iterator

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from product_repr.features import sentence as sentences
from product_repr.errors import FeatureError, NotFittedError
from product_repr.data.schema import Role
from product_repr.features.text import TextEncoder

CLIP = 10.0  # standardised numeric values are clipped to ±CLIP
OTHER = "(other)"
MISSING = "(missing)"
STATE_VERSION = 1
DEFAULT_TEXT_WEIGHT = 10.0  # a text span's total std; measured best on real catalogs (docs/QUALITY.md)
TEXT_DIM_RANGE = (64, 256)  # automatic text_dim: rows // 32 within this range (docs/FEATURES.md)
TEXT_BUDGET = 1024  # automatic text_dim: all text spans together stay about this wide
TRANSFORM_CHUNK = 50_000  # transform encodes longer tables chunk by chunk
ENCODED_ROLES = (Role.NUMERIC, Role.CATEGORICAL, Role.TEXT)
TFIDF = "tfidf"  # text_encoder value: TF-IDF -> SVD only
AUTO = "auto"  # text_encoder value: the default sentence model when installed, else TF-IDF only


def resolve_text_encoder(choice: str) -> str:
    """The concrete text encoding for ``choice``: ``"tfidf"`` or an installed sentence model's name.

    ``"auto"`` picks :data:`product_repr.features.sentence.DEFAULT_MODEL` when it is installed. Raises
    FeatureError for an unknown name or a named model that is not installed.
    """
    if choice == AUTO:
        return sentences.DEFAULT_MODEL if sentences.DEFAULT_MODEL in sentences.available() else TFIDF
    if choice == TFIDF:
        return TFIDF
    info = sentences.model_info(choice)
    if choice not in sentences.available():
        raise FeatureError(f"text encoder {choice!r} is not installed; run `python3 -m pip install "
                           f"{info.requirement}` or choose text_encoder='tfidf'")
    return choice


@dataclass(frozen=True)
class Span:
    """Where one source column lives in X, and how its reconstruction is scored.

    ``loss`` is ``"mse"`` for numeric and text spans, ``"ce"`` for categorical (one-hot) spans.
    """

    name: str
    role: Role
    start: int
    stop: int
    loss: str

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    @property
    def width(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role.value, "start": self.start, "stop": self.stop, "loss": self.loss}

    @classmethod
    def from_dict(cls, d: dict) -> "Span":
        return cls(d["name"], Role(d["role"]), int(d["start"]), int(d["stop"]), d["loss"])


# ---------------------------------------------------------------------------------------------
# numeric columns: pure functions over a float64 array
# ---------------------------------------------------------------------------------------------
def signed_log1p(v: np.ndarray) -> np.ndarray:
    """``sign(v) * log1p(|v|)``; finite for every finite input."""
    return np.sign(v) * np.log1p(np.abs(v))


def signed_expm1(t: np.ndarray) -> np.ndarray:
    """Inverse of :func:`signed_log1p` (overflow to ±inf is clipped to the float64 range)."""
    with np.errstate(over="ignore"):
        out = np.sign(t) * np.expm1(np.abs(t))
    return np.clip(out, -np.finfo(np.float64).max, np.finfo(np.float64).max)


def heavy_tailed(v: np.ndarray) -> bool:
    """Whether finite values ``v`` need a log: a long right tail or extreme spread.

    Right tail: ``(q99 - q50) > 3 (q50 - q01)`` (a log-normal with sigma 1 gives ~10, a normal 1);
    spread: ``(q99 - q01) > 10 IQR`` (a normal gives 3.4); or magnitudes over 1e15, which a
    plain standardisation cannot handle safely. Columns of at most two distinct values (flags)
    never get a log.
    """
    if v.size < 2 or np.unique(v).size <= 2:
        return False
    if np.max(np.abs(v)) > 1e15:
        return True
    q01, q25, q50, q75, q99 = np.quantile(v, [0.01, 0.25, 0.5, 0.75, 0.99])
    if q99 == q01:
        return False
    right = (q99 - q50) > 3.0 * (q50 - q01)
    spread = (q99 - q01) > 10.0 * (q75 - q25)
    return bool(right or spread)


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def fit_numeric(v: np.ndarray) -> dict:
    """JSON-safe state of one numeric column from its values ``v`` (n,) float64 with NaN missing."""
    obs = v[np.isfinite(v)]
    if obs.size == 0:
        return {"log": False, "fill": 0.0, "center": 0.0, "scale": 1.0, "missing_share": 1.0,
                "stats": {k: None for k in ("median", "q05", "q95", "min", "max", "mean", "std")}}
    log = heavy_tailed(obs)
    t = signed_log1p(obs) if log else obs
    lo, hi = np.quantile(t, [0.005, 0.995])
    w = np.clip(t, lo, hi)
    center = float(np.mean(w))
    scale = float(np.std(w))
    if not (np.isfinite(scale) and scale > 1e-12 * max(1.0, abs(center))):
        scale = 1.0  # constant column: all values map to 0
    median = float(np.median(obs))
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(np.mean(obs)), float(np.std(obs))
    q05, q95 = np.quantile(obs, [0.05, 0.95])
    stats = {"median": median, "q05": float(q05), "q95": float(q95), "min": float(obs.min()),
             "max": float(obs.max()), "mean": _finite_or_none(mean), "std": _finite_or_none(std)}
    return {"log": bool(log), "fill": median, "center": center, "scale": scale,
            "missing_share": float(1.0 - obs.size / max(v.size, 1)), "stats": stats}


def encode_numeric(v: np.ndarray, state: dict) -> np.ndarray:
    """(n, 2) float32: standardised (clipped) value and missing flag of ``v`` (n,) float64."""
    missing = ~np.isfinite(v)
    filled = np.where(missing, state["fill"], v)
    t = signed_log1p(filled) if state["log"] else filled
    z = np.clip((t - state["center"]) / state["scale"], -CLIP, CLIP)
    return np.stack([z, missing.astype(np.float64)], axis=1).astype(np.float32)


def decode_numeric_values(z: np.ndarray, state: dict) -> np.ndarray:
    """Feature-space values ``z`` back to original units (inverse of the value dimension)."""
    t = np.asarray(z, dtype=np.float64) * state["scale"] + state["center"]
    return signed_expm1(t) if state["log"] else t


# ---------------------------------------------------------------------------------------------
# categorical columns
# ---------------------------------------------------------------------------------------------
def category_strings(series: pd.Series) -> list[str | None]:
    """Values as stripped strings; missing and blank values become None."""
    out: list[str | None] = []
    for v in series.tolist():
        if v is None or (not isinstance(v, str) and pd.isna(v) is True):
            out.append(None)
            continue
        s = (v if isinstance(v, str) else str(v)).strip()
        out.append(s if s else None)
    return out


def fit_categorical(values: list[str | None], max_levels: int) -> dict:
    """JSON-safe state: the ``max_levels`` most frequent levels (ties by name) and a missing flag."""
    counts = pd.Series([v for v in values if v is not None], dtype=object).value_counts(sort=False)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    levels = [str(k) for k, _ in ranked[:max_levels]]
    return {"levels": levels, "has_missing": any(v is None for v in values), "n_levels_seen": len(ranked)}


def category_columns(state: dict) -> list[str]:
    """Level names in span order: the kept levels, ``(other)``, then ``(missing)`` if seen at fit."""
    return [*state["levels"], OTHER, *([MISSING] if state["has_missing"] else [])]


def encode_categorical(values: list[str | None], state: dict) -> np.ndarray:
    """(n, width) float32 one-hot; unseen levels -> (other); missing -> (missing) or (other)."""
    names = category_columns(state)
    index = {level: i for i, level in enumerate(state["levels"])}
    other = len(state["levels"])
    missing = other + 1 if state["has_missing"] else other
    codes = np.fromiter((missing if v is None else index.get(v, other) for v in values),
                        dtype=np.int64, count=len(values))
    out = np.zeros((len(values), len(names)), dtype=np.float32)
    out[np.arange(len(values)), codes] = 1.0
    return out


def auto_text_dim(rows: int, text_columns: int = 1) -> int:
    """SVD components per text column for a table of ``rows`` rows: ``rows // 32`` in [64, 256],
    and at most ``TEXT_BUDGET // text_columns`` (but at least 8) when there are many text columns.

    Measured (docs/FEATURES.md): small catalogs lose nothing at 64 components, while catalogs of
    thousands of short, fine-grained titles gain up to 0.05 in 10-NN precision from 256.
    """
    lo, hi = TEXT_DIM_RANGE
    dim = min(hi, max(lo, rows // 32))
    return int(min(dim, max(8, TEXT_BUDGET // max(text_columns, 1))))


# ---------------------------------------------------------------------------------------------
# the feature space
# ---------------------------------------------------------------------------------------------
class FeatureSpace:
    """Encode the numeric, categorical and text columns of ``schema`` into one float32 matrix.

    ``exclude``: columns never encoded (e.g. the evaluation label). ``max_levels``: one-hot
    levels kept per categorical column. ``text_dim``: SVD components per text column (fewer
    when the data support fewer); None chooses :func:`auto_text_dim` of the fitted rows.
    ``text_weight``: each text span's total standard deviation (1 = as much as one standardised
    numeric column; the default :data:`DEFAULT_TEXT_WEIGHT`, 10, gave the raw features and the
    learned embeddings a better kNN precision on every real catalog than 2, see docs/FEATURES.md).
    ``text_encoder``: ``"auto"`` (a pretrained sentence
    encoder when one is installed, else TF-IDF only), ``"tfidf"``, or a model name of
    :data:`product_repr.features.sentence.MODELS`; the choice made is ``text_encoder_`` after fit.
    ``seed``: text sampling and SVD.

    After :meth:`fit`: ``spans`` (one per encoded column, contiguous, covering all columns of
    X), ``feature_names``, ``columns``. Nothing is pickled: :meth:`to_dict` gives JSON-safe
    state plus numpy arrays.
    """

    def __init__(self, schema: Any, *, exclude: Iterable[str] = (), max_levels: int = 50,
                 text_dim: int | None = None, text_weight: float = DEFAULT_TEXT_WEIGHT, text_encoder: str = AUTO,
                 seed: int = 0) -> None:
        if int(max_levels) < 1:
            raise FeatureError(f"max_levels must be at least 1, got {max_levels}")
        if text_dim is not None and int(text_dim) < 1:
            raise FeatureError(f"text_dim must be at least 1, got {text_dim}")
        if not float(text_weight) > 0:
            raise FeatureError(f"text_weight must be positive, got {text_weight}")
        text_encoder = str(text_encoder)
        if text_encoder not in (AUTO, TFIDF):
            sentences.model_info(text_encoder)
        self.schema = schema
        self.exclude = [str(c) for c in exclude]
        self.max_levels = int(max_levels)
        self.text_dim = None if text_dim is None else int(text_dim)
        self.text_weight = float(text_weight)
        self.text_encoder_choice = text_encoder
        self.text_encoder_: str | None = None
        self.seed = int(seed)
        self.spans: list[Span] = []
        self.feature_names: list[str] = []
        self.last_missing_columns: list[str] = []
        self._states: dict[str, dict] = {}
        self._text: dict[str, TextEncoder] = {}
        self._fitted = False

    # -- which columns -------------------------------------------------------------------------
    def _plan(self) -> list[tuple[str, Role, str | None]]:
        infos = list(self.schema.columns)
        names = [info.name for info in infos]
        unknown = [c for c in self.exclude if c not in names]
        if unknown:
            raise FeatureError(f"cannot exclude {', '.join(map(repr, unknown))}: no such column in the schema; "
                               f"columns are {', '.join(map(repr, names))}")
        plan = [(info.name, Role(info.role), getattr(info, "parse", None)) for info in infos
                if Role(info.role) in ENCODED_ROLES and info.name not in self.exclude]
        if not plan:
            found = {}
            for info in infos:
                key = "excluded" if info.name in self.exclude else Role(info.role).value
                found.setdefault(key, []).append(repr(info.name))
            listing = "; ".join(f"{k}: {', '.join(v)}" for k, v in found.items()) or "no columns at all"
            raise FeatureError(f"no column to encode ({listing}); mark a column numeric, categorical or text "
                               f"(Schema.with_roles) or exclude fewer columns")
        return plan

    @property
    def columns(self) -> list[str]:
        """Encoded source columns, in span order (after fit)."""
        self._check_fitted()
        return [s.name for s in self.spans]

    # -- fit / transform -----------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> "FeatureSpace":
        """Learn every column's encoding from ``df`` (n >= 1 rows). Returns self.

        Raises FeatureError when no column can be encoded, a schema column is absent from
        ``df``, or ``df`` has no rows.
        """
        self._fit(df, None)
        return self

    def _fit(self, df: pd.DataFrame, text_blocks: dict[str, np.ndarray] | None) -> None:
        """Fit every column; with ``text_blocks`` given, also keep each text column's encoding of ``df``."""
        plan = self._plan()
        absent = [name for name, _, _ in plan if name not in df.columns]
        if absent:
            raise FeatureError(f"column(s) {', '.join(map(repr, absent))} of the schema are not in the table; "
                               f"infer the schema from this table or exclude them")
        if len(df) == 0:
            raise FeatureError("the table has no rows; a feature space needs at least one product")
        self._states, self._text, spans, names = {}, {}, [], []
        n_text = sum(role is Role.TEXT for _, role, _ in plan)
        self.text_encoder_ = resolve_text_encoder(self.text_encoder_choice) if n_text else TFIDF
        model = None if self.text_encoder_ == TFIDF else self.text_encoder_
        start = 0
        for i, (name, role, parse) in enumerate(plan):
            series = df[name]
            if role is Role.NUMERIC:
                state = {"role": role.value, "parse": parse, **fit_numeric(_numbers(series, parse))}
                cols, loss = [name, f"{name}__missing"], "mse"
            elif role is Role.CATEGORICAL:
                state = {"role": role.value, **fit_categorical(category_strings(series), self.max_levels)}
                cols, loss = [f"{name}={level}" for level in category_columns(state)], "ce"
            else:
                dim = self.text_dim or auto_text_dim(len(df), n_text)
                enc = TextEncoder(dim, weight=self.text_weight, seed=self.seed + i, sentence=model)
                if text_blocks is None:
                    enc.fit(series)
                else:
                    text_blocks[name] = enc.fit_transform(series)
                self._text[name] = enc
                state = {"role": role.value}
                cols, loss = enc.feature_names(name), "mse"
            self._states[name] = state
            spans.append(Span(name, role, start, start + len(cols), loss))
            names.extend(cols)
            start += len(cols)
        self.spans, self.feature_names = spans, names
        self._fitted = True

    def transform(self, df: pd.DataFrame, *, chunk_rows: int | None = None) -> np.ndarray:
        """Encode ``df`` to X: float32 (n, p), finite, p = ``spans[-1].stop``.

        A table longer than ``chunk_rows`` (default :data:`TRANSFORM_CHUNK`) is encoded chunk by chunk into X,
        so the working memory beside X is one chunk's; every row's encoding is its own, so the result is the
        same. Columns absent from ``df`` are encoded as missing (numeric: median + flag 1;
        categorical: (missing) or (other); text: empty) and listed in ``last_missing_columns``.
        Raises NotFittedError before fit, FeatureError if none of the encoded columns is present.
        """
        chunk = max(1, int(chunk_rows or TRANSFORM_CHUNK))
        if len(df) <= chunk:
            return self._transform(df, {})
        self._check_fitted()
        X = np.empty((len(df), self.spans[-1].stop), dtype=np.float32)
        for lo in range(0, len(df), chunk):
            X[lo:lo + chunk] = self._transform(df.iloc[lo:lo + chunk], {})
        return X

    def _transform(self, df: pd.DataFrame, text_blocks: dict[str, np.ndarray]) -> np.ndarray:
        self._check_fitted()
        self.last_missing_columns = [s.name for s in self.spans if s.name not in df.columns]
        if len(self.last_missing_columns) == len(self.spans):
            raise FeatureError(f"none of the encoded columns ({', '.join(map(repr, self.columns))}) is in the "
                               f"table (it has {', '.join(map(repr, map(str, df.columns))) or 'no columns'}); "
                               f"use a table with the same columns as the one the model was trained on")
        n = len(df)
        X = np.zeros((n, self.spans[-1].stop), dtype=np.float32)
        for span in self.spans:
            present = span.name in df.columns
            series = df[span.name] if present else pd.Series([None] * n, index=df.index, dtype=object)
            state = self._states[span.name]
            if span.role is Role.NUMERIC:
                v = _numbers(series, state["parse"]) if present else np.full(n, np.nan)
                block = encode_numeric(v, state)
            elif span.role is Role.CATEGORICAL:
                block = encode_categorical(category_strings(series), state)
            elif span.name in text_blocks:
                block = text_blocks[span.name]
            else:
                block = self._text[span.name].transform(series)
            X[:, span.slice] = block
        bad = ~np.isfinite(X)
        assert not bad.any(), f"non-finite features in columns {np.unique(np.nonzero(bad)[1])[:5]}"
        return X

    def fit_transform(self, df: pd.DataFrame) -> np.ndarray:
        """``fit(df)`` then ``transform(df)``: float32 (n, p); text n-grams are counted once."""
        blocks: dict[str, np.ndarray] = {}
        self._fit(df, blocks)
        return self._transform(df, blocks)

    def transform_chunks(self, df: pd.DataFrame, *, chunk_rows: int | None = None) -> Iterator[np.ndarray]:
        """``transform(df)`` a chunk of ``chunk_rows`` rows at a time, in row order (for a
        :class:`~product_repr.features.rowfile.RowFile`): by default as many rows as make
        :data:`~product_repr.features.rowfile.CHUNK_BYTES` of X."""
        from product_repr.features.rowfile import chunk_rows as rows_for

        self._check_fitted()
        chunk = max(1, int(chunk_rows or rows_for(self.spans[-1].stop)))
        for lo in range(0, len(df), chunk):
            yield self._transform(df.iloc[lo:lo + chunk], {})

    # -- explanations --------------------------------------------------------------------------
    def span(self, col: str) -> Span:
        """The span of source column ``col``. Raises FeatureError if it is not encoded."""
        self._check_fitted()
        for s in self.spans:
            if s.name == col:
                return s
        raise FeatureError(f"column {col!r} is not encoded; encoded columns are {', '.join(map(repr, self.columns))}")

    def _state_of(self, col: str, role: Role) -> dict:
        s = self.span(col)
        if s.role is not role:
            raise FeatureError(f"column {col!r} is {s.role.value}, not {role.value}")
        return self._states[col]

    def text_encoder(self, col: str) -> TextEncoder:
        """The fitted :class:`TextEncoder` of text column ``col`` (e.g. for its sparse ``tfidf``)."""
        self._state_of(col, Role.TEXT)
        return self._text[col]

    def category_levels(self, col: str) -> list[str]:
        """Level names of categorical column ``col`` in span order (kept levels, (other), (missing))."""
        return category_columns(self._state_of(col, Role.CATEGORICAL))

    def numeric_stats(self, col: str) -> dict:
        """Original-unit statistics of numeric column ``col``: median, q05, q95, min, max, mean,
        std (None when unknown), ``log`` (whether a signed log1p was applied) and ``missing_share``."""
        state = self._state_of(col, Role.NUMERIC)
        return {**state["stats"], "log": state["log"], "missing_share": state["missing_share"]}

    def decode_numeric(self, col: str, values: np.ndarray) -> np.ndarray:
        """Values of ``col``'s value dimension (feature space, any shape) -> original units (float64)."""
        return decode_numeric_values(values, self._state_of(col, Role.NUMERIC))

    # -- state -----------------------------------------------------------------------------------
    def to_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-safe state, arrays for ``np.savez``). Round-trips exactly through from_dict."""
        self._check_fitted()
        columns, arrays = {}, {}
        for i, span in enumerate(self.spans):
            state = dict(self._states[span.name])
            if span.role is Role.TEXT:
                text_state, text_arrays = self._text[span.name].to_dict()
                state["text"] = text_state
                state["arrays"] = f"c{i}"
                arrays.update({f"c{i}.{k}": v for k, v in text_arrays.items()})
            columns[span.name] = state
        state = {
            "version": STATE_VERSION,
            "schema": self.schema.to_dict(),
            "exclude": list(self.exclude),
            "max_levels": self.max_levels,
            "text_dim": self.text_dim,
            "text_weight": self.text_weight,
            "text_encoder": self.text_encoder_choice,
            "text_encoder_used": self.text_encoder_,
            "seed": self.seed,
            "spans": [s.to_dict() for s in self.spans],
            "feature_names": list(self.feature_names),
            "columns": columns,
        }
        return state, arrays

    @classmethod
    def from_dict(cls, state: dict, arrays: dict[str, np.ndarray]) -> "FeatureSpace":
        """Rebuild a fitted FeatureSpace from ``to_dict()`` output. Raises FeatureError if incomplete."""
        from product_repr.data.schema import Schema

        try:
            if state.get("version") != STATE_VERSION:
                raise FeatureError(f"feature state version {state.get('version')!r} is not {STATE_VERSION}; "
                                   f"refit the feature space with this version of product_repr")
            fs = cls(Schema.from_dict(state["schema"]), exclude=state["exclude"], max_levels=state["max_levels"],
                     text_dim=state["text_dim"], text_weight=state["text_weight"],
                     text_encoder=state.get("text_encoder", TFIDF), seed=state["seed"])
            fs.text_encoder_ = state.get("text_encoder_used", TFIDF)
            fs.spans = [Span.from_dict(d) for d in state["spans"]]
            fs.feature_names = list(state["feature_names"])
            for span in fs.spans:
                col = dict(state["columns"][span.name])
                if span.role is Role.TEXT:
                    prefix = col.pop("arrays") + "."
                    text_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
                    fs._text[span.name] = TextEncoder.from_dict(col.pop("text"), text_arrays)
                fs._states[span.name] = col
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, FeatureError):
                raise
            raise FeatureError(f"saved feature state is incomplete or corrupt ({err!r}); refit the feature space") from err
        if not fs.spans or fs.spans[-1].stop != len(fs.feature_names):
            raise FeatureError("saved feature state is inconsistent (spans and feature names differ); refit it")
        fs._fitted = True
        return fs

    def save(self, directory: str | Path) -> None:
        """Write ``features.json`` and ``features.npz`` into ``directory`` (created if needed)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        state, arrays = self.to_dict()
        (d / "features.json").write_text(json.dumps(state, allow_nan=False), encoding="utf-8")
        np.savez(d / "features.npz", **arrays)

    @classmethod
    def load(cls, directory: str | Path) -> "FeatureSpace":
        """Read what :meth:`save` wrote. Raises FeatureError if files are missing or corrupt."""
        d = Path(directory)
        try:
            state = json.loads((d / "features.json").read_text(encoding="utf-8"))
            with np.load(d / "features.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except FileNotFoundError as err:
            raise FeatureError(f"{err.filename} not found; save the feature space there first") from err
        except (OSError, ValueError) as err:
            raise FeatureError(f"cannot read the feature space in {d} ({err}); save it again") from err
        return cls.from_dict(state, arrays)

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError("FeatureSpace is not fitted; call fit(df) first")


def _numbers(series: pd.Series, parse: str | None) -> np.ndarray:
    from product_repr.data.schema import as_numbers

    return np.asarray(as_numbers(series, parse), dtype=np.float64)
