"""Reading values written as text: numbers ("₹1,099", "64%", "1.2k"), booleans, dates.

``as_numbers`` is the one place that turns a column into float64; schema
inference uses the same parsers, so what is inferred numeric is exactly what
``features.py`` later reads as numbers.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from product_repr.errors import SchemaError

#: How a numeric column's values are read (``ColumnInfo.parse``).
PARSES = (None, "number_text", "bool", "datetime")

_CURRENCY = r"(?:us\$|a\$|c\$|r\$|[$€£¥₹₩₽₺₫₪₦₱฿]|rs\.?|inr|usd|eur|gbp|jpy|cny|aud|cad|chf)"
_NUMBER_TEXT = re.compile(
    rf"^\(?\s*(?P<sign>[-+−])?\s*(?:{_CURRENCY}\s*)?(?P<sign2>[-+−])?\s*"
    r"(?P<int>\d{1,3}(?:[,\u00a0\u202f' ]\d{3})+|\d+)?(?:[.,](?P<frac>\d+))?"
    rf"\s*(?P<suffix>%|k|mn|m|bn|b)?\s*(?:{_CURRENCY})?\s*\)?$",
    re.IGNORECASE,
)
_MULTIPLIER = {"": 1.0, "%": 1.0, "k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9}

_TRUE = {"true", "yes", "y", "t", "1", "1.0", "on"}
_FALSE = {"false", "no", "n", "f", "0", "0.0", "off"}

_DATE_LIKE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(\s+\d{1,2}:\d{2}(:\d{2})?)?"
    r"|\d{1,2}\s+[a-z]{3,9}\.?,?\s+\d{4}"
    r"|[a-z]{3,9}\.?\s+\d{1,2},?\s+\d{4})\s*$",
    re.IGNORECASE,
)


def as_numbers(series: pd.Series, parse: str | None) -> np.ndarray:
    """Turn one column into numbers: float64 array of shape (n,).

    ``parse`` is how the values are read: None (plain numbers; booleans → 0/1,
    datetimes → days since 1970-01-01), ``"number_text"`` ("₹1,099" → 1099,
    "64%" → 64, "1.2k" → 1200), ``"bool"`` (true/yes/1 → 1, false/no/0 → 0) or
    ``"datetime"`` (days since 1970-01-01). Missing or unparseable values are
    NaN; ±inf becomes NaN too, so the result is finite or NaN. Never mutates
    ``series``. Raises ``SchemaError`` for an unknown ``parse``.
    """
    if parse not in PARSES:
        raise SchemaError(f"unknown parse {parse!r} for column {series.name!r}; choose one of {PARSES}")
    s = series
    if parse == "datetime" or pd.api.types.is_datetime64_any_dtype(s):
        out = _days(s)
    elif parse == "bool" or pd.api.types.is_bool_dtype(s):
        out = _booleans(s)
    elif pd.api.types.is_timedelta64_dtype(s):
        out = (s / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(s):
        out = s.to_numpy(dtype="float64", na_value=np.nan)
    elif parse == "number_text":
        out = parse_number_text(s).to_numpy(dtype="float64", na_value=np.nan)
    else:
        out = pd.to_numeric(s.astype("object"), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out = np.array(out, dtype=np.float64, copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


def parse_number_text(series: pd.Series) -> pd.Series:
    """Numbers written as text → float Series (NaN where a value is not a number)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    text = series.astype("object").where(series.notna())
    text = text.map(lambda v: v if isinstance(v, str) else (None if v is None or v != v else str(v)))
    parts = text.astype("str").str.strip().str.extract(_NUMBER_TEXT)
    ok = parts["int"].notna() | parts["frac"].notna()
    whole = parts["int"].fillna("0").str.replace(r"[,\u00a0\u202f' ]", "", regex=True)
    frac = parts["frac"].fillna("0")
    value = pd.to_numeric(whole + "." + frac, errors="coerce")
    negative = parts["sign"].isin(["-", "−"]) | parts["sign2"].isin(["-", "−"])
    value = value.where(~negative, -value)
    mult = parts["suffix"].fillna("").str.lower().map(_MULTIPLIER).astype("float64")
    value = (value * mult).where(ok & text.notna())
    plain = pd.to_numeric(text.where(~ok), errors="coerce")  # "1e5", "+.5" and other plain spellings
    value = value.fillna(plain)
    return value.astype("float64")


def is_bool_text(values: pd.Series) -> bool:
    """True when the distinct values (non-empty) are a true/false pair like yes/no or 0/1."""
    lowered = {str(v).strip().lower() for v in values.dropna().unique()[:10]}
    return len(lowered) >= 2 and lowered <= (_TRUE | _FALSE) and bool(lowered & _TRUE) and bool(lowered & _FALSE)


def _booleans(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64").to_numpy(na_value=np.nan) if s.hasnans else s.to_numpy(dtype="float64")
    lowered = s.astype("object").map(lambda v: None if _missing(v) else str(v).strip().lower())
    return lowered.map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan).to_numpy(dtype="float64")


def _missing(v: object) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def looks_like_dates(values: pd.Series) -> bool:
    """True when ≥95% of the (string) values are dates that pandas can read."""
    values = values.dropna().astype("str")
    if values.empty:
        return False
    shaped = values.str.match(_DATE_LIKE)
    if shaped.mean() < 0.95:
        return False
    parsed = to_datetime(values)
    return parsed.notna().mean() >= 0.95


def to_datetime(values: pd.Series) -> pd.Series:
    """Parse to UTC datetimes; NaT where a value is not a date. Tries one inferred format, then mixed."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values if getattr(values.dt, "tz", None) else values.dt.tz_localize("UTC")
    text = values.astype("object").map(lambda v: None if _missing(v) else str(v).strip())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
        for dayfirst in (False, True):  # 05/01/2023: the reading under which more values are dates wins
            try:
                attempt = pd.to_datetime(text, errors="coerce", utc=True, dayfirst=dayfirst)
            except (ValueError, TypeError, OverflowError):
                continue
            if attempt.notna().sum() > parsed.notna().sum():
                parsed = attempt
        if parsed.notna().sum() < 0.95 * text.notna().sum():
            try:
                mixed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
                if mixed.notna().sum() > parsed.notna().sum():
                    parsed = mixed
            except (ValueError, TypeError, OverflowError):
                pass
    return parsed


def _days(s: pd.Series) -> np.ndarray:
    parsed = to_datetime(s)
    days = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)
    return days.to_numpy(dtype="float64", na_value=np.nan)

