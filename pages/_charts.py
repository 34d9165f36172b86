"""The small figures of the analysis pages: histograms, bars, box plots, the neighbour-overlap bar.

Not a page. Pure functions of arrays returning plotly figures.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from pages._colours import OTHER, OTHER_COLOUR, PALETTE, colour_values, top_levels

def histogram_figure(values: np.ndarray, *, name: str, nbins: int = 60, log_y: bool = False,
                     y_title: str = "products", marker: float | None = None, marker_text: str = "") -> go.Figure:
    """A histogram of ``values`` (NaN dropped); ``marker`` draws a dashed vertical line there (a threshold)."""
    values = np.asarray(values, dtype=np.float64)
    fig = go.Figure(go.Histogram(x=values[~np.isnan(values)], nbinsx=nbins, marker_color=PALETTE[0], name=name))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=name, yaxis_title=y_title,
                      bargap=0.02)
    if log_y:
        fig.update_yaxes(type="log")
    if marker is not None:
        fig.add_vline(x=marker, line_dash="dash", line_color="#555", annotation_text=marker_text)
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


def moves_figure(before: np.ndarray, after: np.ndarray, names: Sequence[str], *, before_name: str,
                 after_name: str, height: int = 560) -> go.Figure:
    """Products drawn where one run puts them (``before`` (m, 2)) and where another does (``after``, already
    aligned to the same frame), a line from each first position to its second."""
    fig = go.Figure()
    xs, ys = [], []
    for (x0, y0), (x1, y1) in zip(before, after):
        xs += [float(x0), float(x1), None]
        ys += [float(y0), float(y1), None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#999", width=1), hoverinfo="skip",
                             showlegend=False))
    for coords, name, colour in ((before, before_name, PALETTE[0]), (after, after_name, PALETTE[1])):
        fig.add_trace(go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="markers", name=name, text=list(names),
                                 hovertemplate="%{text}<extra>" + name + "</extra>", marker=dict(size=7, color=colour)))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(visible=False),
                      yaxis=dict(visible=False, scaleanchor="x"), legend=dict(orientation="h"))
    return fig
