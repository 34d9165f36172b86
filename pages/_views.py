"""Figures shared by the analysis pages (Map, Neighbours, Reconstruction, Compare).

Not a page (the leading underscore keeps it out of navigation). Every builder is a pure function of
arrays and frames returning a plotly figure, so it is tested without Streamlit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

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


def overlap_figure(shared: int, learned_only: int, raw_only: int) -> go.Figure:
    """One stacked bar: neighbours in both lists, only in the learned list, only in the raw list."""
    parts = [("in both", shared, PALETTE[2]), ("learned only", learned_only, PALETTE[0]),
             ("raw only", raw_only, PALETTE[1])]
    fig = go.Figure([go.Bar(x=[value], y=["neighbours"], name=name, orientation="h", marker_color=colour,
                            text=[value], textposition="inside") for name, value, colour in parts])
    fig.update_layout(barmode="stack", height=130, margin=dict(l=10, r=10, t=10, b=10),
                      legend=dict(orientation="h", y=-0.3), yaxis=dict(showticklabels=False))
    return fig

