"""How a product is named and found in its catalog table: its title column, id column, a short label, a few
attribute columns worth showing beside it, and a search by id or title.

Pure functions of a DataFrame (and optionally its :class:`Schema`); the dashboard and the CLI name products
the same way.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from product_repr.data.schema import Role, Schema

TITLE_NAMES = ("title", "name", "product_name", "product", "label")


def title_column(df: pd.DataFrame, schema: Schema | None = None) -> str | None:
    """The column that best names a product: one called like ``title``/``name``, else one whose name contains
    "title" or ends in "name", else (with a schema) the text column with the shortest values; None if none."""
    names = [str(c) for c in df.columns]
    for key in TITLE_NAMES:
        for c in names:
            if c.lower() == key:
                return c
    for c in names:
        low = c.lower()
        if "title" in low or low.endswith("name"):
            return c
    if schema is not None:
        texts = [c for c in schema.names(Role.TEXT) if c in df.columns]
        if texts:
            return min(texts, key=lambda c: df[c].astype("string").str.len().mean() or 0)
    return None


def id_column(df: pd.DataFrame, schema: Schema | None = None) -> str | None:
    """The column holding product ids: ``product_id`` if present, else the schema's id column, else None."""
    if "product_id" in df.columns:
        return "product_id"
    if schema is not None and schema.id_column in df.columns:
        return schema.id_column
    return None


def product_label(df: pd.DataFrame, ids: Sequence[Any] | np.ndarray, *, schema: Schema | None = None,
                  width: int = 60) -> list[str]:
    """A short display string per product, e.g. ``"A17 · Red cotton shirt"`` (the title cut to ``width``).

    ``ids`` are row positions into ``df`` (ints), or product ids (strings) matched against ``df``'s id column
    (:func:`id_column`). Unknown ids are shown as themselves.
    """
    ids = list(ids)
    title = title_column(df, schema)
    id_col = id_column(df, schema)
    if ids and all(isinstance(i, (int, np.integer)) for i in ids):
        positions = [int(i) for i in ids]
        shown_ids = [str(df[id_col].iloc[p]) if id_col else str(p) for p in positions]
    else:
        lookup: dict[str, int] = {}
        if id_col is not None:
            for pos, value in enumerate(df[id_col].astype("string").fillna("")):
                lookup.setdefault(str(value), pos)
        positions = [lookup.get(str(i), -1) for i in ids]
        shown_ids = [str(i) for i in ids]
    out = []
    for shown, pos in zip(shown_ids, positions):
        text = ""
        if title is not None and 0 <= pos < len(df) and title != id_col:
            value = df[title].iloc[pos]
            text = "" if pd.isna(value) else str(value)
        if len(text) > width:
            text = text[: width - 1] + "…"
        out.append(f"{shown} · {text}" if text else shown)
    return out


def key_columns(df: pd.DataFrame | None, *, preferred: Iterable[str | None] = (), categorical: Sequence[str] = (),
                numeric: Sequence[str] = (), skip: Iterable[str | None] = (), limit: int = 4) -> list[str]:
    """A few attribute columns worth showing next to a product: ``preferred`` first, then categorical, numeric.

    Only columns of ``df``, none of ``skip``, at most ``limit``; [] without a table.
    """
    if df is None:
        return []
    skipped = {s for s in skip if s is not None}
    out: list[str] = []
    for c in [*preferred, *categorical, *numeric]:
        if c is not None and c in df.columns and c not in skipped and c not in out:
            out.append(c)
        if len(out) >= limit:
            break
    return out


def search_products(ids: Sequence[str], titles: Sequence[Any] | None, text: str, *,
                    limit: int = 1000) -> tuple[np.ndarray, int]:
    """Positions of the products whose id or title contains ``text`` (case-insensitive), at most ``limit``.

    Returns (positions int64 (m,), total number of matches). Exact id matches come first; an empty ``text``
    matches every product.
    """
    ids_s = pd.Series(np.asarray(ids, dtype=object)).astype(str)
    needle = text.strip().lower()
    if not needle:
        hits = np.arange(len(ids_s))
    else:
        mask = ids_s.str.lower().str.contains(needle, regex=False).to_numpy(dtype=bool, copy=True)
        if titles is not None:
            title_s = pd.Series(np.asarray(titles, dtype=object)).astype("string").fillna("").str.lower()
            mask = mask | title_s.str.contains(needle, regex=False).to_numpy(dtype=bool)
        hits = np.flatnonzero(mask)
        exact = hits[ids_s.to_numpy()[hits] == text.strip()]
        if len(exact):
            hits = np.concatenate([exact, hits[~np.isin(hits, exact)]])
    return hits[:limit].astype(np.int64), int(len(hits))
