"""Drawing and lookup helpers shared by the analysis pages (Map, Neighbours, Reconstruction, Compare).

Not a page (the leading underscore keeps it out of navigation). The figure builders are pure
functions of arrays and frames so they can be tested without Streamlit; the heavy computations go
through ``pages._ui``'s content-hash-keyed ``st.cache_data`` helpers.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

MAX_LEVELS = 20  # distinct colours before the rest become "other"
OTHER = "(other)"
MISSING = "(missing)"
PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6",
    "#9D755D", "#BAB0AC", "#1F77B4", "#D62728", "#2CA02C", "#9467BD", "#8C564B", "#E377C2",
    "#17BECF", "#BCBD22", "#393B79", "#AD494A",
)
OTHER_COLOUR = "#C7C7C7"
# low errors recede (pale blue), high ones stand out (red) on a white background
ERROR_SCALE = [[0.0, "#c6dbef"], [0.45, "#6baed6"], [0.7, "#2171b5"], [0.85, "#f16913"], [1.0, "#a50f15"]]
TITLE_HINTS = ("title", "name", "product_name", "product", "description")


# ---------------------------------------------------------------- alignment


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


def title_column(df: pd.DataFrame | None, text_columns: Sequence[str] = ()) -> str | None:
    """The column that best names a product: one called like "title"/"name", else the first text column."""
    if df is None:
        return None
    lowered = {str(c).lower(): c for c in df.columns}
    for hint in TITLE_HINTS:
        if hint in lowered and lowered[hint] in set(text_columns) | set(df.columns):
            return lowered[hint]
    for c in text_columns:
        if c in df.columns:
            return c
    return None


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


# ---------------------------------------------------------------- colours


def colour_values(values: pd.Series | np.ndarray, *, continuous: bool | None = None) -> tuple[np.ndarray, bool]:
    """Values ready to colour by, and whether the scale is continuous.

    Numeric data (or ``continuous=True``) becomes float64 with NaN for missing; anything else
    becomes strings with ``"(missing)"`` for missing values.
    """
    series = pd.Series(np.asarray(values, dtype=object) if isinstance(values, np.ndarray) and values.dtype == object else values)
    if continuous is None:
        continuous = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if continuous:
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64), True
    text = series.astype("string").fillna(MISSING).to_numpy(dtype=object)
    text = np.where(text == "", MISSING, text)
    return text, False


def top_levels(values: np.ndarray, limit: int = MAX_LEVELS) -> list[str]:
    """The ``limit`` most frequent levels, most frequent first (ties by name, so colours are stable)."""
    counts = pd.Series(values).value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [str(level) for level, _ in ordered[:limit]]


# ---------------------------------------------------------------- figures


def _hover(ids: np.ndarray, hover: pd.DataFrame | None, colour_name: str | None, colour: np.ndarray | None,
           continuous: bool) -> tuple[np.ndarray, str]:
    """customdata (n, m) of strings — product id first — and the matching hovertemplate."""
    columns = [np.asarray(ids, dtype=object).astype(str)]
    lines = ["<b>%{customdata[0]}</b>"]
    if hover is not None:
        for c in hover.columns:
            values = hover[c].astype("string").fillna("").str.slice(0, 80).to_numpy(dtype=object)
            lines.append(f"{c}: %{{customdata[{len(columns)}]}}")
            columns.append(values)
    if colour is not None and colour_name is not None and (hover is None or colour_name not in hover.columns):
        shown = np.array([f"{v:.4g}" for v in colour], dtype=object) if continuous else colour.astype(str)
        lines.append(f"{colour_name}: %{{customdata[{len(columns)}]}}")
        columns.append(shown)
    return np.column_stack(columns), "<br>".join(lines) + "<extra></extra>"


def scatter_figure(coords: np.ndarray, ids: Sequence[str], *, colour: np.ndarray | None = None,
                   colour_name: str | None = None, continuous: bool = False, hover: pd.DataFrame | None = None,
                   title: str | None = None, height: int = 640, marker_size: float | None = None,
                   colorscale: str | list = "Viridis") -> go.Figure:
    """A WebGL scatter of a map: ``go.Scattergl`` for (n, 2) coords, ``go.Scatter3d`` for (n, 3).

    Every point's ``customdata`` row starts with its product id, so a selection maps back to
    products whatever the trace order. Categorical colours get one trace per level (the top
    ``MAX_LEVELS``, then "(other)"); numeric ones a continuous scale with a colour bar, NaN grey.
    Raises ValueError if coords is not (n, 2|3) or lengths disagree.
    """
    coords = np.asarray(coords, dtype=np.float64)
    n = len(ids)
    if coords.ndim != 2 or coords.shape[1] not in (2, 3) or coords.shape[0] != n:
        raise ValueError(f"coords must be (n, 2) or (n, 3) with n={n} rows, got shape {coords.shape}")
    if colour is not None and len(colour) != n:
        raise ValueError(f"colour has {len(colour)} values for {n} points")
    if hover is not None and len(hover) != n:
        raise ValueError(f"hover has {len(hover)} rows for {n} points")
    three_d = coords.shape[1] == 3
    size = marker_size or (2.5 if three_d else (3 if n > 20000 else 5 if n > 2000 else 7))
    custom, template = _hover(np.asarray(ids), hover, colour_name, colour, continuous)

    def trace(mask: np.ndarray | slice, name: str, marker: dict, showlegend: bool) -> go.BaseTraceType:
        common = dict(mode="markers", name=name, customdata=custom[mask], hovertemplate=template,
                      marker=marker, showlegend=showlegend)
        if three_d:
            return go.Scatter3d(x=coords[mask, 0], y=coords[mask, 1], z=coords[mask, 2], **common)
        return go.Scattergl(x=coords[mask, 0], y=coords[mask, 1], **common)

    traces: list[go.BaseTraceType] = []
    if colour is None:
        traces.append(trace(slice(None), "products", dict(size=size, color=PALETTE[0], opacity=0.8), False))
    elif continuous:
        values = np.asarray(colour, dtype=np.float64)
        missing = np.isnan(values)
        if missing.any():
            traces.append(trace(missing, f"{colour_name}: {MISSING}", dict(size=size, color=OTHER_COLOUR, opacity=0.6), True))
        present = ~missing
        shown = values[present]
        # the 1st-99th percentile range, so a few extreme values do not wash out the rest
        low, high = (np.percentile(shown, [1, 99]) if len(shown) else (0.0, 1.0))
        traces.append(trace(present, colour_name or "value", dict(
            size=size, color=shown, colorscale=colorscale, opacity=0.85, showscale=True,
            cmin=float(low), cmax=float(high) if high > low else float(low) + 1e-9,
            colorbar=dict(title=dict(text=colour_name or "", side="right"), thickness=14)), False))
    else:
        labels = np.asarray(colour, dtype=object).astype(str)
        levels = top_levels(labels)
        for i, level in enumerate(levels):
            traces.append(trace(labels == level, level, dict(size=size, color=PALETTE[i % len(PALETTE)], opacity=0.85), True))
        rest = ~np.isin(labels, levels)
        if rest.any():
            traces.append(trace(rest, OTHER, dict(size=size, color=OTHER_COLOUR, opacity=0.6), True))
    fig = go.Figure(traces)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title,
                      legend=dict(title=dict(text=colour_name or ""), itemsizing="constant"),
                      uirevision="map", hoverlabel=dict(align="left"))
    if three_d:
        fig.update_layout(scene=dict(xaxis_title="", yaxis_title="", zaxis_title="", aspectmode="cube"))
    else:
        fig.update_layout(dragmode="select")  # box select on drag; lasso from the mode bar
        fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
        # no locked aspect: UMAP's axes carry no units, and a locked aspect leaves most of a wide plot empty
        fig.update_yaxes(showticklabels=False, title=None, zeroline=False)
    return fig


def selected_product_ids(event: Any) -> list[str]:
    """Product ids of the points in a ``st.plotly_chart`` selection event, in selection order, unique.

    Reads each point's ``customdata[0]`` (never point indices: those are per trace).
    """
    if not event:
        return []
    selection = event.get("selection", {}) if isinstance(event, Mapping) else getattr(event, "selection", {})
    points = selection.get("points", []) if isinstance(selection, Mapping) else getattr(selection, "points", [])
    out: dict[str, None] = {}
    for point in points or []:
        custom = point.get("customdata") if isinstance(point, Mapping) else None
        if custom is None:
            continue
        pid = custom[0] if isinstance(custom, (list, tuple)) else custom
        out[str(pid)] = None
    return list(out)


def neighbour_table(query_ids: np.ndarray, sims: np.ndarray, product_ids: Sequence[str],
                    rows: pd.DataFrame | None, columns: Sequence[str], *, shared: set[str] | None = None) -> pd.DataFrame:
    """One row per neighbour: rank, product id, similarity (cosine), ``columns`` from the catalog.

    ``query_ids`` are row positions into ``product_ids``; with ``shared`` a boolean column says
    whether the neighbour is also in the other space's list.
    """
    pids = [str(product_ids[int(i)]) for i in query_ids]
    table = pd.DataFrame({"rank": np.arange(1, len(pids) + 1), "product_id": pids,
                          "similarity": np.round(np.asarray(sims, dtype=np.float64), 4)})
    if shared is not None:
        table["in both"] = [p in shared for p in pids]
    if rows is not None:
        for c in columns:
            if c in rows.columns:
                table[c] = rows[c].reindex(pids).to_numpy()
    return table


def histogram_figure(values: np.ndarray, *, name: str, nbins: int = 60, log_y: bool = False) -> go.Figure:
    """A histogram of ``values`` (NaN dropped)."""
    values = np.asarray(values, dtype=np.float64)
    fig = go.Figure(go.Histogram(x=values[~np.isnan(values)], nbinsx=nbins, marker_color=PALETTE[0], name=name))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=name, yaxis_title="products",
                      bargap=0.02)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def bar_figure(labels: Sequence[str], values: Sequence[float], *, x_title: str, y_title: str,
               reference: float | None = None, reference_text: str = "") -> go.Figure:
    """A horizontal bar chart, largest value on top; ``reference`` draws a dashed vertical line there."""
    order = np.argsort(np.asarray(values, dtype=np.float64))
    fig = go.Figure(go.Bar(x=np.asarray(values)[order], y=np.asarray(labels, dtype=object)[order], orientation="h",
                           marker_color=PALETTE[1]))
    fig.update_layout(height=max(240, 28 * len(labels) + 60), margin=dict(l=10, r=10, t=30, b=10),
                      xaxis_title=x_title, yaxis_title=y_title)
    if reference is not None:
        fig.add_vline(x=reference, line_dash="dash", line_color="#555", annotation_text=reference_text,
                      annotation_position="top")
    return fig


def box_figure(values: np.ndarray, groups: np.ndarray, *, value_name: str, group_name: str) -> go.Figure:
    """Box plots of ``values`` per group (the top ``MAX_LEVELS`` groups by size, then "(other)")."""
    labels, _ = colour_values(np.asarray(groups, dtype=object), continuous=False)
    levels = top_levels(labels)
    labels = np.where(np.isin(labels, levels), labels, OTHER)
    values = np.asarray(values, dtype=np.float64)
    order = sorted(set(labels), key=lambda g: -float(np.nanmedian(values[labels == g])))
    fig = go.Figure([go.Box(y=values[labels == g], name=str(g), boxpoints="outliers",
                            marker_color=OTHER_COLOUR if g == OTHER else PALETTE[i % len(PALETTE)])
                     for i, g in enumerate(order)])
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10), showlegend=False,
                      xaxis_title=group_name, yaxis_title=value_name)
    return fig


# ---------------------------------------------------------------- a run seen through the loaded catalog


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
            from product_repr.schema import as_numbers

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


def raw_neighbour_ids(view: RunView, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Top-``k`` neighbours of every product in the run's raw feature space X (None without its catalog)."""
    from pages import _ui

    if view.rows is None:
        return None
    X = raw_features(view)
    return None if X is None else _ui.cached_neighbours(X, k)


def raw_features(view: RunView) -> np.ndarray | None:
    """The run's encoded input X float32 (n, p) for its products (None without its catalog)."""
    from pages import _ui

    if view.rows is None:
        return None
    X = _ui.run_features(view.run)
    if X is None:  # rows come from the loaded catalog rather than the run's own table
        X = _ui._features(_ui.array_hash(np.asarray(view.run.embeddings, dtype=np.float32)) + _ui.table_hash(view.rows),
                          view.run, view.rows)
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


def overlap_figure(shared: int, learned_only: int, raw_only: int) -> go.Figure:
    """One stacked bar: neighbours in both lists, only in the learned list, only in the raw list."""
    parts = [("in both", shared, PALETTE[2]), ("learned only", learned_only, PALETTE[0]),
             ("raw only", raw_only, PALETTE[1])]
    fig = go.Figure([go.Bar(x=[value], y=["neighbours"], name=name, orientation="h", marker_color=colour,
                            text=[value], textposition="inside") for name, value, colour in parts])
    fig.update_layout(barmode="stack", height=130, margin=dict(l=10, r=10, t=10, b=10),
                      legend=dict(orientation="h", y=-0.3), yaxis=dict(showticklabels=False))
    return fig


@st.cache_resource(max_entries=8, show_spinner=False)
def _neighbour_index(key: str, _Z: np.ndarray):
    from product_repr.neighbours import NeighbourIndex

    return NeighbourIndex(_Z)


def neighbour_index(Z: np.ndarray):
    """A ``neighbours.NeighbourIndex`` of ``Z`` (n, d), built once per content and shared read-only.

    ``st.cache_resource`` (not ``cache_data``): the index holds a faiss object that must not be copied,
    and an index of given content is the same for every user, so sharing it is safe.
    """
    from pages import _ui

    Z = np.asarray(Z, dtype=np.float32)
    return _neighbour_index(_ui.array_hash(Z), Z)


def unusual_products(rec: pd.DataFrame, *, top: int = 20, columns_per_product: int = 3) -> pd.DataFrame:
    """The ``top`` products with the largest reconstruction error and the columns that make them unusual.

    ``rec`` is a run's reconstruction frame (product_id, error, one error column per source column). A
    column "makes a product unusual" when its error is well above that column's mean error; the ratio
    (×mean) is what is compared, because squared errors (numeric, text) and cross-entropies
    (categorical) live on different scales. Returns product_id, error, error_rank, unusual_in (text).
    """
    columns = [c for c in rec.columns if c not in ("product_id", "error")]
    order = np.argsort(-np.nan_to_num(rec["error"].to_numpy(dtype=np.float64), nan=-np.inf), kind="stable")[:top]
    part = rec.iloc[order]
    means = rec[columns].mean(axis=0).replace(0, np.nan) if columns else pd.Series(dtype=float)
    reasons = []
    for _, row in part.iterrows():
        ratios = (row[columns].astype(float) / means).dropna().sort_values(ascending=False)
        picked = [f"{c} (×{r:.1f})" for c, r in ratios.head(columns_per_product).items() if r > 1.0]
        reasons.append(", ".join(picked) if picked else "—")
    return pd.DataFrame({"error_rank": np.arange(1, len(part) + 1), "product_id": part["product_id"].astype(str).to_numpy(),
                         "error": part["error"].to_numpy(dtype=np.float64).round(4), "unusual in": reasons})


def _metric(metrics: Mapping, prefix: str, space: str) -> float | None:
    for key, value in (metrics or {}).items():
        if str(key).startswith(prefix) and isinstance(value, Mapping):
            v = value.get(space)
            return None if v is None else float(v)
    return None


def metrics_table(runs: Sequence[Any]) -> pd.DataFrame:
    """One row per run plus its raw-feature and PCA baselines (deduplicated across runs).

    Columns: name, kind (run | baseline), learner, d, kNN precision, linear probe, trustworthiness,
    mean reconstruction error, training time (s), label. Missing values are NaN (e.g. no label chosen).
    """
    knn = "kNN precision"
    rows, seen = [], set()
    for run in runs:
        metrics = run.metrics or {}
        info = run.info or {}
        data = info.get("data", {}) or {}
        d = int(np.asarray(run.embeddings).shape[1])
        label = metrics.get("label") or data.get("label")
        rec = run.reconstruction
        rows.append({"name": run.name, "kind": "run", "learner": info.get("learner", getattr(run.learner, "name", "?")),
                     "d": d, knn: _metric(metrics, "knn_precision@", "model"),
                     "linear probe": _metric(metrics, "linear_probe", "model"),
                     "trustworthiness": _metric(metrics, "trustworthiness", "model"),
                     "mean reconstruction error": float(rec["error"].mean()) if rec is not None else None,
                     "training time (s)": (info.get("timings", {}) or {}).get("train_s"), "label": label})
        for space, title, dim in (("raw", "raw features", None), ("pca", f"PCA to d={d}", d)):
            key = (space, data.get("sha256"), label, dim)
            empty = _metric(metrics, "knn_precision@", space) is None and _metric(metrics, "linear_probe", space) is None
            if key in seen or empty:
                continue
            seen.add(key)
            rows.append({"name": title, "kind": "baseline", "learner": "—", "d": dim,
                         knn: _metric(metrics, "knn_precision@", space),
                         "linear probe": _metric(metrics, "linear_probe", space),
                         "trustworthiness": _metric(metrics, "trustworthiness", space),
                         "mean reconstruction error": None, "training time (s)": None, "label": label})
    table = pd.DataFrame(rows)
    for c in (knn, "linear probe", "trustworthiness", "mean reconstruction error", "training time (s)"):
        table[c] = pd.to_numeric(table[c], errors="coerce")
    return table


def neighbourhood_changes(ids_a: Sequence[str], nn_a: np.ndarray, ids_b: Sequence[str], nn_b: np.ndarray) -> pd.DataFrame:
    """How much each product's neighbour list differs between two runs: 1 − overlap, by product id.

    ``nn_a`` (n_a, k) / ``nn_b`` (n_b, k) are row positions into ``ids_a`` / ``ids_b``; only products in
    both runs count, and neighbours are compared by product id. Returns product_id, change in [0, 1],
    shared (count), sorted by change descending.
    """
    pos_b = {str(p): i for i, p in enumerate(ids_b)}
    ids_a = [str(p) for p in ids_a]
    ids_b = [str(p) for p in ids_b]
    k = min(nn_a.shape[1], nn_b.shape[1])
    out_id, change, shared = [], [], []
    for i, pid in enumerate(ids_a):
        j = pos_b.get(pid)
        if j is None:
            continue
        a = {ids_a[t] for t in nn_a[i, :k]}
        b = {ids_b[t] for t in nn_b[j, :k]}
        common = len(a & b)
        out_id.append(pid)
        shared.append(common)
        change.append(1.0 - common / max(k, 1))
    frame = pd.DataFrame({"product_id": out_id, "change": np.round(change, 4), "shared": shared})
    return frame.sort_values(["change", "product_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def selection_table(product_ids: Sequence[str], selected: Sequence[str], rows: pd.DataFrame | None, *,
                    extra: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The selected products (in selection order) with ``extra`` per-product values and their catalog rows.

    ``extra`` maps a column name to values in run order (e.g. the map's colour); catalog columns whose
    names are already taken (``product_id``, an extra) are left out, so every column name is unique.
    """
    position = {str(p): i for i, p in enumerate(product_ids)}
    index = [position[str(p)] for p in selected if str(p) in position]
    table = pd.DataFrame({"product_id": [str(product_ids[i]) for i in index]})
    for name, values in (extra or {}).items():
        if name not in table.columns:
            table[name] = np.asarray(values)[index]
    if rows is not None:
        part = rows.iloc[index].reset_index(drop=True)
        part = part[[c for c in part.columns if c not in table.columns]]
        table = pd.concat([table, part], axis=1)
    return table


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


def explanations_table(explanations: Sequence[Any]) -> pd.DataFrame:
    """``reconstruction.explain``'s output as a table: error_rank, product_id, error, why."""
    return pd.DataFrame({"error_rank": np.arange(1, len(explanations) + 1),
                         "product_id": [str(e.product_id) for e in explanations],
                         "error": np.round([float(e.error) for e in explanations], 4),
                         "why": [e.text or "—" for e in explanations]})


def isolation(sims: np.ndarray) -> np.ndarray:
    """How alone each product sits in its embedding: 1 − mean cosine similarity to its k nearest neighbours.

    ``sims`` float (n, k) from ``neighbours.all_neighbours``; returns float64 (n,), about 0 for a product
    in a tight group, up to 2 for one whose neighbours point the other way.
    """
    sims = np.asarray(sims, dtype=np.float64)
    return 1.0 - sims.mean(axis=1) if sims.size else np.zeros(len(sims))


def isolated_products(product_ids: Sequence[str], ids: np.ndarray, sims: np.ndarray, *, top: int = 20) -> pd.DataFrame:
    """The ``top`` most isolated products: rank, product_id, isolation, nearest (id), nearest similarity."""
    score = isolation(sims)
    order = np.argsort(-score, kind="stable")[:top]
    pids = np.asarray([str(p) for p in product_ids], dtype=object)
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1), "product_id": pids[order],
                         "isolation": np.round(score[order], 4),
                         "nearest": pids[np.asarray(ids)[order, 0]] if len(order) else [],
                         "nearest similarity": np.round(np.asarray(sims, dtype=np.float64)[order, 0], 4)})
