"""A run seen through its catalog: the rows, titles and attributes the analysis pages show beside it.

Not a page. :func:`run_view` aligns a run's products with the table it was trained on (or the loaded
catalog when that holds the same products); the ``raw_*``/``learned_*``/``reconstructed`` helpers put
the heavy computations behind ``pages._ui``'s content-hash-keyed caches.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from pages._views import colour_values


def catalog_positions(catalog_ids: Sequence[str], product_ids: Sequence[str]) -> np.ndarray | None:
    """Row position in the catalog of each product, int64 (n,), or None if a product is missing.

    ``catalog_ids`` are the catalog rows' product ids in row order (``pipeline.product_ids``).
    """
    lookup = {str(pid): i for i, pid in enumerate(catalog_ids)}
    out = np.empty(len(product_ids), dtype=np.int64)
    for j, pid in enumerate(product_ids):
        pos = lookup.get(str(pid))
        if pos is None:
            return None
        out[j] = pos
    return out


def aligned_rows(df: pd.DataFrame | None, catalog_ids: Sequence[str] | None, product_ids: Sequence[str]) -> pd.DataFrame | None:
    """The catalog rows of ``product_ids`` in that order, indexed by product id (str), or None.

    None when there is no catalog or it does not hold every product of the run (e.g. a run opened
    from a directory whose catalog is not the loaded one).
    """
    if df is None or catalog_ids is None:
        return None
    positions = catalog_positions(catalog_ids, product_ids)
    if positions is None:
        return None
    rows = df.iloc[positions].copy()
    rows.index = pd.Index([str(p) for p in product_ids], name="product_id")
    return rows


def key_columns(df: pd.DataFrame | None, *, preferred: Iterable[str | None] = (), categorical: Sequence[str] = (),
                numeric: Sequence[str] = (), skip: Iterable[str | None] = (), limit: int = 4) -> list[str]:
    """A few attribute columns worth showing next to a product: preferred first, then categorical, numeric."""
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


@dataclass(frozen=True)
class RunView:
    """What the analysis pages need to show a run's products with their catalog attributes.

    ``rows`` are the catalog rows in the run's product order (index = product id) or None when the
    loaded catalog is not the run's (``note`` then says so); ``title`` names products; ``keys`` are a
    few attribute columns for hover and tables.
    """

    run: Any
    rows: pd.DataFrame | None
    title: str | None
    keys: list[str]
    categorical: list[str]
    numeric: list[str]
    label: str | None
    colour: str | None
    note: str | None = None

    def label_of(self, pid: str) -> str:
        """``"id — title"`` for a product (just the id without a title)."""
        if self.rows is None or self.title is None:
            return str(pid)
        value = self.rows[self.title].get(str(pid))
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        return f"{pid} — {text[:70]}" if text else str(pid)


def _names(schema, role: str) -> list[str]:
    try:
        return [str(c) for c in schema.names(role)]
    except Exception:  # noqa: BLE001 - a schema from an older run without that role
        return []


def run_view(run) -> RunView:
    """The active session's view of ``run``: its training table (or the loaded catalog when it holds the
    run's products) aligned with ``run.product_ids``, the title and key columns, label and colour."""
    from pages import _ui
    from product_repr.pipeline import product_ids

    app = _ui.state()
    catalog = app.catalog
    schema = run.schema
    rows, note = _ui.run_table(run), None
    if list(rows.columns) == ["product_id"]:
        rows = None
        if catalog is not None:
            rows = aligned_rows(catalog.df, product_ids(catalog.df, schema), run.product_ids)
        if rows is None:
            note = ("This run's catalog is not loaded, so its products are shown by id only; load the catalog "
                    "it was trained on on the Data page to see titles and attributes.")
    else:
        rows = rows.copy(deep=False)
        rows.index = pd.Index([str(p) for p in run.product_ids], name="product_id")
    label = _ui.run_label(run)
    colour = catalog.colour if catalog is not None else None
    categorical = _names(schema, "categorical")
    numeric = _names(schema, "numeric")
    title = _ui.title_column(rows, schema) if rows is not None else None
    if rows is not None:
        categorical = [c for c in categorical if c in rows.columns]
        numeric = [c for c in numeric if c in rows.columns]
        if label is not None and label in rows.columns and label not in categorical:
            categorical.insert(0, label)
    else:
        categorical, numeric, label, colour = [], [], None, None
    label = label if rows is not None and label in rows.columns else None
    colour = colour if rows is not None and colour in rows.columns else None
    keys = key_columns(rows, preferred=[label, colour], categorical=categorical, numeric=numeric,
                       skip=[title, schema.id_column], limit=4)
    return RunView(run=run, rows=rows, title=title, keys=keys, categorical=categorical, numeric=numeric,
                   label=label, colour=colour, note=note)


def column_colours(view: RunView, column: str) -> tuple[np.ndarray, bool]:
    """A catalog column's values in run order for colouring: numbers for numeric roles, else strings."""
    assert view.rows is not None  # callers offer columns only when rows exist
    series = view.rows[column]
    if column in view.numeric:
        try:
            from product_repr.data.schema import as_numbers

            parse = None
            for info in view.run.schema.columns:
                if info.name == column:
                    parse = info.parse
            return np.asarray(as_numbers(series, parse), dtype=np.float64), True
        except (ImportError, ValueError):
            return colour_values(series, continuous=True)
    if column in view.categorical:
        return colour_values(series, continuous=False)
    return colour_values(series)


def hover_frame(view: RunView) -> pd.DataFrame | None:
    """Title and key attribute columns for hover labels, in run order (None without a catalog)."""
    if view.rows is None:
        return None
    cols = [c for c in [view.title, *view.keys] if c is not None]
    return view.rows[cols] if cols else None


def raw_neighbour_ids(view: RunView, k: int, X: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Top-``k`` neighbours of every product in the run's raw feature space X (None without its catalog).

    Pass ``X`` when the page already has it (saves re-hashing the table).
    """
    from pages import _ui

    if view.rows is None:
        return None
    X = raw_features(view) if X is None else X
    return None if X is None else _ui.cached_neighbours(X, k)


def raw_features(view: RunView) -> np.ndarray | None:
    """The run's encoded input X float32 (n, p) for its products (None without its catalog)."""
    from pages import _ui

    if view.rows is None:
        return None
    X = _ui.run_features(view.run)
    if X is None:  # rows come from the loaded catalog rather than the run's own table
        X = _ui.features_for(view.run, view.rows)
    return np.asarray(X, dtype=np.float32)


def learned_neighbour_ids(run, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours of every product in the run's embedding space."""
    from pages import _ui

    return _ui.cached_neighbours(np.asarray(run.embeddings), k)


def search_products(ids: Sequence[str], titles: Sequence[Any] | None, text: str, *, limit: int = 1000) -> tuple[np.ndarray, int]:
    """Positions of products whose id or title contains ``text`` (case-insensitive), at most ``limit``.

    Returns (positions int64 (m,), total number of matches). Exact id matches come first; an empty
    ``text`` matches every product.
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


@st.cache_resource(max_entries=8, show_spinner=False)
def _neighbour_index(key: str, _Z: np.ndarray):
    from product_repr.analysis.neighbours import NeighbourIndex

    return NeighbourIndex(_Z)


def neighbour_index(Z: np.ndarray):
    """A ``neighbours.NeighbourIndex`` of ``Z`` (n, d), built once per content and shared read-only.

    ``st.cache_resource`` (not ``cache_data``): the index holds a faiss object that must not be copied,
    and an index of given content is the same for every user, so sharing it is safe.
    """
    from pages import _ui

    Z = np.asarray(Z, dtype=np.float32)
    return _neighbour_index(_ui.array_hash(Z), Z)


@st.cache_data(max_entries=4, show_spinner="Reconstructing the products…")
def _reconstructed(key: str, _run, _X: np.ndarray) -> np.ndarray:
    return np.asarray(_run.learner.reconstruct(_X), dtype=np.float32)


def reconstructed(view: RunView) -> np.ndarray | None:
    """The run's reconstruction X̂ float32 (n, p) of its products (None without a decoder or a catalog)."""
    from pages import _ui

    if view.rows is None or not getattr(view.run.learner, "has_decoder", False):
        return None
    X = raw_features(view)
    if X is None:
        return None
    return _reconstructed(_ui.array_hash(np.asarray(view.run.embeddings, dtype=np.float32)) + _ui.array_hash(X), view.run, X)

