"""The map figure shared by the analysis pages (Map, Compare), and reading a selection back from it.

Not a page (the leading underscore keeps it out of navigation). Pure functions of arrays and frames returning
a plotly figure, so they are tested without Streamlit.
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pages._colours import MISSING, OTHER, OTHER_COLOUR, PALETTE, top_levels

def _hover(ids: np.ndarray, hover: pd.DataFrame | None, colour_name: str | None, colour: np.ndarray | None,
           continuous: bool) -> tuple[np.ndarray, str]:
    """customdata (n, m) of strings — product id first — and the matching hovertemplate."""
    columns = [np.asarray(ids, dtype=object).astype(str)]
    lines = ["<b>%{customdata[0]}</b>"]
    if hover is not None:
        for c in hover.columns:
            values = hover[c].astype("string").fillna("").str.slice(0, 80).to_numpy(dtype=object)
            lines.append(f"{_escape(c)}: %{{customdata[{len(columns)}]}}")  # a column name is text, never markup
            columns.append(values)
    if colour is not None and colour_name is not None and (hover is None or colour_name not in hover.columns):
        shown = np.array([f"{v:.4g}" for v in colour], dtype=object) if continuous else colour.astype(str)
        lines.append(f"{_escape(colour_name)}: %{{customdata[{len(columns)}]}}")
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


def highlight(fig: go.Figure, coords: np.ndarray, ids: Sequence[str], rows: Sequence[int], name: str) -> go.Figure:
    """Add the products at positions ``rows`` of the map as one more trace of large outlined stars named
    ``name``; their ``customdata`` starts with the product id, so selecting them works as for any point."""
    coords = np.asarray(coords, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.int64)
    picked = np.asarray(ids, dtype=object)[rows].astype(str)
    common = dict(mode="markers", name=name, customdata=picked.reshape(-1, 1), showlegend=True,
                  hovertemplate="<b>%{customdata[0]}</b><extra>" + _escape(name) + "</extra>",
                  marker=dict(symbol="star" if coords.shape[1] == 2 else "diamond", size=15, color="#ffd400",
                              line=dict(color="#111111", width=1.5)))
    if coords.shape[1] == 3:
        fig.add_trace(go.Scatter3d(x=coords[rows, 0], y=coords[rows, 1], z=coords[rows, 2], **common))
    else:
        fig.add_trace(go.Scattergl(x=coords[rows, 0], y=coords[rows, 1], **common))
    return fig


def _escape(text: str) -> str:
    """``text`` safe inside a plotly hover template (its own markup and %{...} fields are not read)."""
    return html.escape(str(text)).replace("%", "&#37;").replace("{", "&#123;")


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


def linked_selection(seen: Mapping[str, Any], now: Mapping[str, list[str]]) -> tuple[str | None, list[str]]:
    """The selection to mirror across linked maps: ``now`` maps each map's name to the product ids selected
    on it; ``seen`` is what this returned last time (``{"source": name, name: ids...}``, updated in place when
    it is a dict). A map whose selection is new wins; with none new, the previous source keeps its selection.
    Returns ``(source map, ids)``, or ``(None, [])`` when nothing is selected."""
    chosen = [name for name, ids in now.items() if ids]
    changed = [name for name in chosen if list(seen.get(name, ())) != list(now[name])]
    if changed:
        source = changed[-1]
    elif seen.get("source") in chosen:
        source = seen["source"]
    else:
        source = chosen[0] if chosen else None
    if isinstance(seen, dict):
        seen.clear()
        seen.update({name: list(ids) for name, ids in now.items()}, source=source)
    return source, (list(now[source]) if source is not None else [])


#: a map draws at most this many points (a seeded random sample of a bigger map; the density underneath shows
#: all of them): more points in Plotly's JSON freeze the browser (``PRODUCT_REPR_MAP_POINTS`` overrides it)
MAP_POINTS = 100_000


def map_points() -> int:
    import os

    try:
        return max(1, int(os.environ.get("PRODUCT_REPR_MAP_POINTS", MAP_POINTS)))
    except ValueError:
        return MAP_POINTS


def drawn_rows(rows: np.ndarray, limit: int | None = None, *, keep: Sequence[int] = (), seed: int = 0) -> np.ndarray:
    """The map positions of ``rows`` that are drawn as points: all of them up to ``limit`` (default
    :func:`map_points`), else a seeded random ``limit`` of them in their order, plus ``keep`` (positions
    that must be drawn, e.g. starred products) where they are among ``rows``."""
    rows = np.asarray(rows, dtype=np.int64)
    limit = map_points() if limit is None else int(limit)
    if len(rows) <= limit:
        return rows
    picked = np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))
    out = rows[picked]
    extra = np.intersect1d(np.asarray(keep, dtype=np.int64), rows)
    return np.union1d(out, extra) if len(extra) else out


def add_density(fig: go.Figure, coords: np.ndarray, *, bins: int = 200) -> go.Figure:
    """Shade where all the products of a 2-D map lie (a 2-D histogram of ``coords`` (n, 2), log-scaled, drawn
    under the points), for a map whose points are a sample of them."""
    coords = np.asarray(coords, dtype=np.float64)
    counts, xe, ye = np.histogram2d(coords[:, 0], coords[:, 1], bins=bins)
    shade = np.where(counts > 0, np.log1p(counts), np.nan).T
    fig.add_trace(go.Heatmap(x=(xe[:-1] + xe[1:]) / 2, y=(ye[:-1] + ye[1:]) / 2, z=shade, colorscale="Greys",
                             showscale=False, opacity=0.45, hoverinfo="skip", name="all products", zsmooth=False))
    fig.data = (fig.data[-1],) + fig.data[:-1]  # underneath every trace of points
    return fig
