"""Column roles and their inference.

``infer_schema(df)`` gives every column one role (id, numeric, categorical,
text, ignore) with a short reason in real figures; ``Schema.with_roles`` applies
a person's overrides, validated. ``as_numbers`` (from ``parsing``) is the one
place a column becomes numbers.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from product_repr.errors import SchemaError
from product_repr.data.parsing import PARSES, as_numbers, is_bool_text, looks_like_dates, parse_number_text, to_datetime

__all__ = ["Role", "ColumnInfo", "Schema", "infer_schema", "as_numbers", "PARSES", "SET_BY_YOU"]


class Role(str, Enum):
    """What a column is to the feature space."""

    ID = "id"
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    TEXT = "text"
    IGNORE = "ignore"


#: The reason given to a column whose role a person chose.
SET_BY_YOU = "set by you"

#: Share of non-empty values that must parse for text to count as numbers.
NUMERIC_SHARE = 0.95

_ROLE_CHOICES = ", ".join(r.value for r in Role)


@dataclass(frozen=True)
class ColumnInfo:
    """One column's role and why.

    ``parse`` says how a numeric column's values are read (None, "number_text",
    "bool", "datetime"); it is None for other roles. ``numeric_parse``,
    ``values`` (non-empty count), ``non_numeric`` and ``examples`` record what
    reading the column as numbers would give, so overrides can be checked
    without the data.
    """

    name: str
    role: Role
    reason: str
    parse: str | None = None
    numeric_parse: str | None = None
    values: int = 0
    non_numeric: int = 0
    examples: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", _as_role(self.role, self.name))
        object.__setattr__(self, "examples", tuple(str(e) for e in self.examples))
        for attr in ("parse", "numeric_parse"):
            if getattr(self, attr) not in PARSES:
                raise SchemaError(
                    f"column {self.name!r} has unknown {attr} {getattr(self, attr)!r}; choose one of "
                    + ", ".join(str(p) for p in PARSES)
                )


@dataclass(frozen=True)
class Schema:
    """A role for every column of a table, in table order."""

    columns: tuple[ColumnInfo, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise SchemaError(f"column names repeat in the schema: {dupes}; make them unique")

    def __len__(self) -> int:
        return len(self.columns)

    def __iter__(self) -> Iterator[ColumnInfo]:
        return iter(self.columns)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def info(self, col: str) -> ColumnInfo:
        """The ColumnInfo of ``col``; SchemaError naming the columns if unknown."""
        for c in self.columns:
            if c.name == col:
                return c
        shown = ", ".join(repr(c.name) for c in self.columns[:20])
        more = f" and {len(self.columns) - 20} more" if len(self.columns) > 20 else ""
        raise SchemaError(f"unknown column {col!r}; the columns are {shown}{more}")

    def role(self, col: str) -> Role:
        return self.info(col).role

    def reason(self, col: str) -> str:
        return self.info(col).reason

    def parse(self, col: str) -> str | None:
        return self.info(col).parse

    def names(self, role: Role | str | None = None) -> list[str]:
        """Column names, all or those with ``role``, in table order."""
        if role is None:
            return [c.name for c in self.columns]
        wanted = _as_role(role, None)
        return [c.name for c in self.columns if c.role is wanted]

    @property
    def id_column(self) -> str | None:
        """The first column with role ID, or None."""
        ids = self.names(Role.ID)
        return ids[0] if ids else None

    def usable(self, exclude: tuple[str, ...] | list[str] = ()) -> list[str]:
        """Columns that become features (numeric, categorical, text), minus ``exclude``."""
        skip = set(exclude)
        return [
            c.name
            for c in self.columns
            if c.role in (Role.NUMERIC, Role.CATEGORICAL, Role.TEXT) and c.name not in skip
        ]

    def check_usable(self, exclude: tuple[str, ...] | list[str] = ()) -> None:
        """Raise SchemaError, listing each column's reason, when no column can become a feature."""
        if self.usable(exclude):
            return
        lines = "; ".join(f"{c.name!r}: {c.reason}" for c in self.columns[:8])
        skipped = f" (excluded: {', '.join(map(repr, exclude))})" if exclude else ""
        raise SchemaError(
            f"no column can be used as a feature{skipped} — {lines}; set a column to numeric, categorical or "
            "text, or load a table with product attributes"
        )

    def with_roles(self, overrides: Mapping[str, Role | str]) -> Schema:
        """A new schema with the person's roles; their reason becomes "set by you".

        Raises SchemaError for an unknown column or role, and when a column
        whose values are mostly not numbers is set to numeric.
        """
        if not isinstance(overrides, Mapping):
            raise SchemaError(f"overrides must be a mapping of column → role (got {type(overrides).__name__})")
        new = {c.name: c for c in self.columns}
        for col, value in overrides.items():
            info = self.info(col)
            role = _as_role(value, col)
            if role is info.role:
                continue
            parse = None
            if role is Role.NUMERIC:
                _check_numeric(info)
                parse = info.numeric_parse
            new[col] = replace(info, role=role, reason=SET_BY_YOU, parse=parse)
        return Schema(tuple(new[c.name] for c in self.columns))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: {"columns": [{"name", "role", "reason", "parse", ...}, ...]}."""
        rows = []
        for c in self.columns:
            row = asdict(c)
            row["role"] = c.role.value
            row["examples"] = list(c.examples)
            rows.append(row)
        return {"columns": rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Inverse of ``to_dict``; SchemaError when the dict is malformed."""
        try:
            rows = data["columns"]
            return cls(
                tuple(
                    ColumnInfo(
                        name=str(r["name"]),
                        role=r["role"],
                        reason=str(r.get("reason", "")),
                        parse=r.get("parse"),
                        numeric_parse=r.get("numeric_parse"),
                        values=int(r.get("values", 0)),
                        non_numeric=int(r.get("non_numeric", 0)),
                        examples=tuple(r.get("examples", ())),
                    )
                    for r in rows
                )
            )
        except (KeyError, TypeError) as err:
            raise SchemaError(
                f"a saved schema is malformed (missing or wrong {err}); it needs "
                '{"columns": [{"name": ..., "role": ...}, ...]} — save the schema again'
            ) from err


def _as_role(value: Role | str, col: str | None) -> Role:
    if isinstance(value, Role):
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        for r in Role:
            if key in (r.value, r.name.lower()):
                return r
    where = f" for column {col!r}" if col is not None else ""
    raise SchemaError(f"unknown role {value!r}{where}; choose one of {_ROLE_CHOICES}")


def _check_numeric(info: ColumnInfo) -> None:
    if info.values and info.non_numeric > (1 - NUMERIC_SHARE) * info.values:
        eg = ", ".join(repr(e) for e in info.examples[:3])
        raise SchemaError(
            f"column {info.name!r} has {info.non_numeric:,} non-numeric values of {info.values:,} (e.g. {eg}); "
            "mark it categorical or text, or clean it"
        )


# --------------------------------------------------------------------------- inference

# Names that say "identifier" / "code": whole words after _ or space or -, or camelCase endings (productId).
_ID_NAME = re.compile(r"(^|[_\W])(id|sku|asin|ean|upc|gtin|isbn|uuid|guid|index|idx)$|[a-z](?-i:Id|ID)$", re.IGNORECASE)
_CODE_NAME = re.compile(
    r"(^|[_\W])(id|code|no|nr|number|key|zip|postcode|type|class|group|cat)$|[a-z](?-i:Id|ID|Code|No|Nr)$",
    re.IGNORECASE,
)
_SAMPLE = 20_000


def infer_schema(df: pd.DataFrame, *, max_levels: int = 50) -> Schema:
    """One role per column of ``df`` (n rows, any number of columns), each with a reason.

    ``max_levels`` is how many categories a categorical column keeps (the rest
    become "other"); it also bounds what counts as "few levels". Never mutates
    ``df``. Raises SchemaError when ``df`` is not a DataFrame with unique string
    column names.
    """
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"infer_schema needs a pandas DataFrame (got {type(df).__name__}); read it with read_table")
    if isinstance(max_levels, bool) or not isinstance(max_levels, (int, np.integer)) or max_levels < 2:
        raise SchemaError(f"max_levels must be a whole number of at least 2 (got {max_levels!r})")
    bad = [c for c in df.columns if not isinstance(c, str)]
    if bad:
        raise SchemaError(
            f"column names must be strings (got {bad[0]!r}); read the file with read_table or rename the columns"
        )
    if not df.columns.is_unique:
        dupes = sorted(set(df.columns[df.columns.duplicated()]))
        raise SchemaError(f"column names repeat: {dupes}; rename them (read_table does this for you)")
    n = len(df)
    frame = df.reset_index(drop=True)  # repeated index labels must not misalign the per-column checks
    frame.attrs = {}  # pandas deep-copies attrs into every column it hands out: slow on wide tables
    profiles = [_profile(name, frame[name], n, max_levels) for name in frame.columns]
    candidates = [p for p in profiles if p.id_score is not None]
    chosen = max(candidates, key=lambda p: p.id_score) if candidates else None
    out = []
    for p in profiles:
        if p is chosen:
            out.append(replace(p.info, role=Role.ID, reason=f"{p.id_reason} → id", parse=None))
        elif p.id_score is not None and chosen is not None and p.fallback_is_id:
            out.append(replace(p.info, role=Role.IGNORE, reason=f"{p.id_reason}, like an id ({chosen.info.name!r} is the id) → ignore", parse=None))
        else:
            out.append(p.info)
    return Schema(tuple(out))


@dataclass
class _Profile:
    info: ColumnInfo  # the role if this column is not the id
    id_score: tuple | None = None  # set when the column could be the id; higher wins
    id_reason: str = ""  # the figures, e.g. "all 27,555 values unique"
    fallback_is_id: bool = False  # when another column wins the id, ignore this one


def _profile(name: str, s: pd.Series, n: int, max_levels: int) -> _Profile:
    values = s.dropna()
    m = len(values)
    empty = "" if m in (0, n) else f", {n - m:,} empty" if (n - m) < 0.01 * n else f", {1 - m / n:.0%} empty"

    def info(role: Role, reason: str, parse: str | None = None, **kw: Any) -> ColumnInfo:
        return ColumnInfo(name, role, reason, parse if role is Role.NUMERIC else None, values=m, **kw)

    if m == 0:
        return _Profile(info(Role.IGNORE, "all empty → ignore"))
    if pd.api.types.is_bool_dtype(s) or (s.dtype == object and values.map(lambda v: isinstance(v, (bool, np.bool_))).all()):
        share = values.astype(bool).mean()
        if values.nunique() == 1:
            return _Profile(info(Role.IGNORE, f"constant (every value {values.iloc[0]!r}{empty}) → ignore", numeric_parse="bool"))
        return _Profile(info(Role.NUMERIC, f"true/false ({share:.0%} true{empty}) → numeric 0/1", "bool", numeric_parse="bool"))
    if pd.api.types.is_datetime64_any_dtype(s):
        return _Profile(_dates(info, values, empty))
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        return _numbers(name, s, values, n, max_levels, empty, info)
    return _strings(name, values.astype("str"), n, max_levels, empty, info)


def _numbers(name, s, values, n, max_levels, empty, info) -> _Profile:
    x = as_numbers(values, None)
    finite = x[np.isfinite(x)]
    infinite = int(np.isinf(values.to_numpy(dtype="float64", na_value=np.nan)).sum()) if pd.api.types.is_float_dtype(s) else 0
    inf_note = f", {infinite:,} infinite treated as missing" if infinite else ""
    if finite.size == 0:
        return _Profile(info(Role.IGNORE, f"no finite number ({infinite:,} infinite) → ignore"))
    levels = int(pd.Series(finite).nunique())
    if levels == 1:
        return _Profile(info(Role.IGNORE, f"constant (every value {_num(finite[0])}{empty}{inf_note}) → ignore"))
    integral = bool(np.all(finite == np.round(finite)))
    m = len(values)
    profile = _Profile(
        info(Role.NUMERIC, f"{m:,} numbers from {_num(finite.min())} to {_num(finite.max())}{empty}{inf_note} → numeric")
    )
    if levels == 2 and set(np.unique(finite)) == {0.0, 1.0}:
        profile.info = info(Role.NUMERIC, f"0/1 flag ({finite.mean():.0%} are 1{empty}) → numeric")
    elif integral and _CODE_NAME.search(name):
        if levels <= 10 * max_levels:
            kept = f" (top {max_levels} kept)" if levels > max_levels else ""
            profile.info = info(
                Role.CATEGORICAL,
                f"{levels:,} whole-number codes (the name says code/id, so not a quantity) → categorical{kept}",
            )
        else:
            profile.info = info(
                Role.IGNORE, f"{levels:,} distinct codes: too many to one-hot and not a quantity → ignore"
            )
    id_name = _id_name_score(name)
    if integral and finite.size == m:
        counter = n >= 20 and levels == m == n and pd.api.types.is_integer_dtype(s) and finite.max() - finite.min() + 1 == n
        if counter or (id_name and levels == m == n):
            what = "row numbers" if counter and not id_name else "values"
            _mark_id(profile, (id_name, 1), f"all {n:,} {what} unique", fallback=True)
        elif id_name and _near_unique(levels, m, n):
            _mark_id(profile, (id_name, 0), _repeats(levels, m, n), fallback=True)
    return profile


def _strings(name, values: pd.Series, n, max_levels, empty, info) -> _Profile:
    m = len(values)
    levels = int(values.nunique())
    if levels == 1:
        return _Profile(info(Role.IGNORE, f"constant (every value {_short(values.iloc[0])}{empty}) → ignore"))
    sample = values if m <= _SAMPLE else values.sample(_SAMPLE, random_state=0)
    probe = sample.head(200)
    # Cheap look first: most text columns fail on the first values, so skip the full parse.
    checked = sample if parse_number_text(probe).notna().mean() >= 0.5 else probe
    numbers = parse_number_text(checked)
    failed = checked[numbers.isna()]
    non_numeric = int(round(len(failed) * m / len(checked)))
    examples = tuple(_short(v, quote=False) for v in failed.drop_duplicates().head(3))
    num_kw = dict(numeric_parse="number_text", non_numeric=non_numeric, examples=examples)
    digits = sample.str.fullmatch(r"\d+")
    leading_zero = bool(digits.all() and sample.str.startswith("0").any())

    if levels <= 6 and is_bool_text(values):
        lowered = values.str.strip().str.lower()
        share = lowered.isin(["true", "yes", "y", "t", "1", "1.0", "on"]).mean()
        return _Profile(
            info(Role.NUMERIC, f"two values {_pair(values)} ({share:.0%} true{empty}) → numeric 0/1", "bool",
                 numeric_parse="bool")
        )
    if not leading_zero and numbers.notna().mean() >= NUMERIC_SHARE:
        eg = _decorated_example(sample, numbers)
        x = numbers.dropna().to_numpy()
        x = x[np.isfinite(x)]
        if x.size and np.unique(x).size == 1:
            return _Profile(info(Role.IGNORE, f"constant (every value {_num(x[0])}{empty}) → ignore", **num_kw))
        return _Profile(
            info(Role.NUMERIC, f"{numbers.notna().mean():.0%} of {m:,} values are numbers written as text "
                 f"(e.g. {eg}){empty} → numeric", "number_text", **num_kw)
        )
    if looks_like_dates(probe) and looks_like_dates(sample):
        return _Profile(_dates(info, values, empty))

    lengths = sample.str.len()
    words = sample.str.count(r"\S+")
    mean_len, mean_words = float(lengths.mean()), float(words.mean())
    unique = levels == m == n
    id_name = _id_name_score(name)
    profile = _Profile(info(Role.CATEGORICAL, "", **num_kw))
    tokens = (words <= 1).mean() >= 0.95
    if levels <= max_levels and levels == m >= 5 and (mean_words >= 3 or mean_len >= 30):
        # a small table: every value different and wordy, so titles or descriptions, not categories
        profile.info = info(Role.TEXT, f"all {m:,} values different, mean {mean_words:.1f} words{empty} → text",
                            **num_kw)
    elif levels <= max_levels:
        profile.info = info(Role.CATEGORICAL, f"{levels:,} levels{empty} → categorical", **num_kw)
    elif mean_len >= 50 or mean_words >= 8:
        vocab = _vocabulary(sample)
        profile.info = info(
            Role.TEXT, f"mean {mean_len:,.0f} characters, {vocab:,} distinct words{empty} → text", **num_kw
        )
    elif levels / m >= 0.25 and mean_words >= 1.5:
        profile.info = info(
            Role.TEXT,
            f"{levels:,} distinct of {m:,}, mean {mean_words:.1f} words (titles){empty} → text",
            **num_kw,
        )
    elif levels / m >= 0.5:
        profile.info = info(
            Role.IGNORE, f"{levels:,} distinct single words of {m:,} (codes or links, too many to one-hot) → ignore",
            **num_kw,
        )
    elif not leading_zero and _top_share(values, max_levels) < SPARSE_TOP_SHARE and _wordy(sample):
        # One-hot of the top levels would fold most rows into "other"; as text every name still counts
        # (measured on bigbasket's 2,313 brands: raw 10-NN precision 0.680 → 0.734).
        profile.info = info(
            Role.TEXT,
            f"{levels:,} levels, the top {max_levels} cover only {_top_share(values, max_levels):.0%} of rows{empty}"
            " → text (names compared by their words, so every level counts)",
            **num_kw,
        )
    else:
        shape = "codes with leading zeros" if leading_zero else "short strings" if mean_len < 30 else "strings"
        profile.info = info(
            Role.CATEGORICAL, f"{levels:,} levels, {shape}{empty} → categorical (top {max_levels} kept)", **num_kw
        )
    if unique and (id_name or (n >= 20 and tokens and mean_len <= 64)):
        _mark_id(profile, (id_name, 1), f"all {n:,} values unique", fallback=tokens or bool(id_name))
    elif id_name and tokens and _near_unique(levels, m, n):
        _mark_id(profile, (id_name, 0), _repeats(levels, m, n), fallback=True)
    return profile


#: Below this share of rows covered by the top ``max_levels`` levels, a wordy categorical becomes text.
SPARSE_TOP_SHARE = 0.5


def _top_share(values: pd.Series, max_levels: int) -> float:
    """Share of non-empty rows whose value is among the ``max_levels`` most frequent."""
    counts = values.value_counts()
    return float(counts.head(max_levels).sum() / max(counts.sum(), 1))


def _wordy(sample: pd.Series) -> bool:
    """Names made of letters (brands, makers), not codes like "A-1043" or "0071"."""
    return bool(sample.str.contains(r"[^\W\d_]{3,}", regex=True).mean() >= 0.8)


def _id_name_score(name: str) -> int:
    """2 for names like "id", "sku", "product_id"; 1 for other id-like names; 0 otherwise."""
    if not _ID_NAME.search(name):
        return 0
    return 2 if re.fullmatch(r"(product|item|article|sku)?[_ ]?(id|sku|asin)", name, re.IGNORECASE) else 1


def _near_unique(levels: int, m: int, n: int) -> bool:
    """An id column with a few repeats (scraped twice) or a few blanks is still the id."""
    return n >= 20 and levels >= 0.9 * n and m >= 0.95 * n


def _repeats(levels: int, m: int, n: int) -> str:
    blanks = f", {n - m:,} empty" if m < n else ""
    return f"{levels:,} distinct of {n:,} ({m - levels:,} repeated{blanks}), named like an id"


def _mark_id(profile: _Profile, score: tuple, reason: str, *, fallback: bool) -> None:
    profile.id_score = score
    profile.id_reason = reason
    profile.fallback_is_id = fallback


def _dates(info, values: pd.Series, empty: str) -> ColumnInfo:
    parsed = to_datetime(values).dropna()
    if parsed.empty or parsed.nunique() == 1:
        shown = parsed.iloc[0].date() if not parsed.empty else values.iloc[0]
        return info(Role.IGNORE, f"constant (every date {shown}{empty}) → ignore", numeric_parse="datetime")
    lo, hi = parsed.min().date(), parsed.max().date()
    return info(
        Role.NUMERIC,
        f"dates from {lo} to {hi}{empty} → numeric (days since 1970-01-01, so age and recency count)",
        "datetime",
        numeric_parse="datetime",
    )


def _vocabulary(sample: pd.Series) -> int:
    words: set[str] = set()
    for text in sample.head(5000):
        words.update(re.findall(r"\w+", text.lower()))
    return len(words)


def _decorated_example(sample: pd.Series, numbers: pd.Series) -> str:
    plain = sample.str.fullmatch(r"[-+]?\d+(\.\d+)?")
    picked = sample[numbers.notna() & ~plain]
    return _short((picked if len(picked) else sample).iloc[0])


def _pair(values: pd.Series) -> str:
    return "/".join(sorted(values.str.strip().unique()[:2], key=str.lower, reverse=True))


def _short(value: Any, *, quote: bool = True) -> str:
    text = str(value)
    text = text if len(text) <= 30 else text[:27] + "..."
    return repr(text) if quote else text


def _num(x: float) -> str:
    x = float(x)
    if abs(x) >= 1e9 or (0 < abs(x) < 1e-3):
        return f"{x:.3g}"
    if x == round(x):
        return f"{x:,.0f}"
    return f"{x:,.2f}" if abs(x) >= 100 else f"{x:.3g}"
