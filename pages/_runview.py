"""A run seen through its catalog: the rows, titles and attributes the analysis pages show beside it.

Not a page. :func:`run_view` lines a run's products up with its catalog (``runs.align`` through
``_state.run_alignment``): the table it was trained on, or the loaded catalog when that is the run's (or a
different version of it, with a warning). The ``raw_*`` helpers put the feature computations behind the
content-hash caches of ``pages._cache``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from pages import _cache as cache
from pages._colours import colour_values
from pages._state import run_alignment, run_label, state
from pages._text import md
from product_repr.data.titles import key_columns, title_column


@dataclass(frozen=True)
class RunView:
    """What the analysis pages need to show a run's products with their catalog attributes.

    ``rows`` are the catalog rows in the run's product order (index = product id), or None when no catalog
    is the run's (``note`` says why); ``warning`` says when they come from a different version of the catalog.
    ``title`` names products; ``keys`` are a few attribute columns for hover and tables; ``table_key`` names
    the content the rows came from (for caches); ``exact``: the very table the run was trained on.
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
    warning: str | None = None
    table_key: str = ""
    exact: bool = False

    def label_of(self, pid: str) -> str:
        """``"id — title"`` for a product (just the id without a title)."""
        if self.rows is None or self.title is None:
            return str(pid)
        value = self.rows[self.title].get(str(pid))
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        return f"{pid} — {text[:70]}" if text else str(pid)


def run_view(run) -> RunView:
    """The session's view of ``run``: its aligned catalog rows, title and key columns, label and colour."""
    app = state()
    schema = run.schema
    alignment, why = run_alignment(run)
    if alignment is None:
        return RunView(run=run, rows=None, title=None, keys=[], categorical=[], numeric=[], label=None,
                       colour=None, note=why)
    rows = alignment.rows.copy(deep=False)
    rows.index = pd.Index([str(p) for p in run.product_ids], name="product_id")
    label = run_label(run)
    colour = app.catalog.colour if app.catalog is not None else None
    categorical = [c for c in schema.names("categorical") if c in rows.columns]
    numeric = [c for c in schema.names("numeric") if c in rows.columns]
    if label in rows.columns and label not in categorical:
        categorical.insert(0, label)
    label = label if label in rows.columns else None
    colour = colour if colour in rows.columns else None
    title = title_column(rows, schema)
    keys = key_columns(rows, preferred=[label, colour], categorical=categorical, numeric=numeric,
                       skip=[title, schema.id_column], limit=4)
    table_key = (run.info or {}).get("data", {}).get("sha256", "") if alignment.exact else ""
    if not table_key and app.catalog is not None:
        table_key = app.catalog.sha256
    return RunView(run=run, rows=rows, title=title, keys=keys, categorical=categorical, numeric=numeric,
                   label=label, colour=colour, warning=alignment.note or None, table_key=table_key,
                   exact=alignment.exact)


def cache_key(view: RunView) -> str:
    """A cheap identity of the view's run and catalog rows (run name, creation time, table content) for the
    pages' ``st.cache_data`` keys, so no cache hashes the run's arrays."""
    info = view.run.info or {}
    return f"{view.run.name}|{info.get('created', '')}|{view.table_key}"


def show_notes(view: RunView) -> None:
    """Say when the products are shown by id only (``st.warning`` when a loaded catalog was refused, else
    ``st.info``), or come from a different version of the catalog (``st.warning``)."""
    if view.note:
        (st.info if view.note.startswith("No catalog") else st.warning)(md(view.note))
    if view.warning:
        st.warning(md(view.warning))


def column_colours(view: RunView, column: str) -> tuple[np.ndarray, bool]:
    """A catalog column's values in run order for colouring: numbers for numeric roles, else strings."""
    assert view.rows is not None  # callers offer columns only when rows exist
    series = view.rows[column]
    if column in view.numeric:
        from product_repr.data.schema import as_numbers

        try:
            return np.asarray(as_numbers(series, view.run.schema.parse(column)), dtype=np.float64), True
        except ValueError:
            return colour_values(series, continuous=True)
    return colour_values(series, continuous=False if column in view.categorical else None)


def hover_frame(view: RunView) -> pd.DataFrame | None:
    """Title and key attribute columns for hover labels, in run order (None without a catalog)."""
    if view.rows is None:
        return None
    cols = [c for c in [view.title, *view.keys] if c is not None]
    return view.rows[cols] if cols else None


def raw_features(view: RunView) -> np.ndarray | None:
    """The run's encoded input X float32 (n, p) for its products (None without its catalog)."""
    if view.rows is None:
        return None
    return cache.features_for(view.run, view.rows, view.table_key)


def raw_neighbour_ids(view: RunView, k: int, X: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Top-``k`` neighbours of every product in the raw features X (None without the catalog); pass ``X``
    when the page already has it."""
    X = raw_features(view) if X is None else X
    return None if X is None else cache.cached_neighbours(X, k)


def reconstructed(view: RunView) -> np.ndarray | None:
    """The run's reconstruction X̂ float32 (n, p) of its products (None without a decoder or a catalog)."""
    if view.rows is None or not getattr(view.run.learner, "has_decoder", False):
        return None
    X = raw_features(view)
    return None if X is None else cache.reconstructed(view.run, X)


ALL_PRODUCTS = "(all products)"


def map_filter(view: RunView) -> tuple[np.ndarray | None, str]:
    """The Map page's "Show only" control: a categorical column of the catalog and some of its values.
    Returns (a boolean mask over the run's products, or None for all of them; a caption fragment)."""
    if view.rows is None or not view.categorical:
        return None, ""
    left, right = st.columns([1, 2])
    column = left.selectbox("Show only", [ALL_PRODUCTS, *view.categorical], key="map.filter_column",
                            help="Draw only the products with some values of a column; the others are hidden.")
    if column == ALL_PRODUCTS:
        return None, ""
    values = view.rows[column].astype("string").fillna("(missing)")
    levels = values.value_counts().index.tolist()
    chosen = right.multiselect(f"{md(column)} is", levels, key="map.filter_values", placeholder="pick one or more values")
    if not chosen:
        return None, ""
    mask = values.isin(chosen).to_numpy()
    return mask, f" · showing the {int(mask.sum()):,} products whose {md(column)} is {md(', '.join(map(str, chosen[:3])))}" + (
        "…" if len(chosen) > 3 else "")
