"""The Map page's clusters: density clusters of the learned embedding, named by what their products share,
as a colour, labels on the map and a table with a download.

Not a page. The clustering and the names come from ``product_repr.analysis.clusters``, cached per run
identity and catalog content.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages import _runview as runview
from pages._runview import RunView
from product_repr import export, findings
from product_repr.analysis import clusters

LABELLED = 20  # clusters named on the map (the largest)


@st.cache_data(max_entries=8, show_spinner="Finding clusters…")
def _found(key: str, _run, _rows: pd.DataFrame | None) -> tuple[np.ndarray, pd.DataFrame]:
    return findings.run_clusters(_run, _rows)


def found(view: RunView) -> tuple[np.ndarray, pd.DataFrame]:
    """(cluster per product, one row per cluster) for the view's run (``findings.run_clusters``)."""
    rows = view.rows.reset_index(drop=True) if view.rows is not None else None
    return _found(runview.cache_key(view), view.run, rows)


def names(labels: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Each product's cluster as "N · label" (for colouring and hover)."""
    named = {int(c): (f"{c} · {lab}" if c != clusters.UNCLUSTERED else "unclustered")
             for c, lab in zip(table["cluster"], table["label"])}
    return np.array([named[int(c)] for c in labels], dtype=object)


def annotate(fig: go.Figure, coords: np.ndarray, labels: np.ndarray, table: pd.DataFrame) -> None:
    """The largest clusters' labels at their medians on a 2D map."""
    if coords.shape[1] != 2:
        return
    for c, label in zip(table["cluster"].head(LABELLED), table["label"].head(LABELLED)):
        if c == clusters.UNCLUSTERED:
            continue
        x, y = np.median(coords[labels == c], axis=0)
        fig.add_annotation(x=float(x), y=float(y), text=f"<b>{c}</b> {label}", showarrow=False,
                           bgcolor="rgba(255,255,255,0.75)", font=dict(size=11))


def section(view: RunView, labels: np.ndarray, table: pd.DataFrame) -> None:
    """The cluster table, one cluster's products, and the assignment download."""
    run = view.run
    st.subheader("Clusters")
    shown = table.copy()
    shown["share"] = (100 * shown["share"]).round(1)
    st.dataframe(shown.rename(columns={"share": "share %"}), hide_index=True, width="stretch", key="map.clusters")
    st.caption("Density clusters of the run's UMAP map of the learned embedding (HDBSCAN; the smallest is 0.5% "
               "of the products). "
               "**words** are the cluster's most telling words (frequent in it, rare elsewhere); **shared** the "
               "values most of its products have. Unclustered products sit in no dense region.")
    options = table["cluster"].tolist()
    pick = st.selectbox("Products of cluster", options, format_func=lambda c: names(np.array([c]), table)[0],
                        key="map.cluster_pick")
    members = [str(p) for p, c in zip(run.product_ids, labels) if c == pick]
    if view.rows is not None:
        st.dataframe(view.rows.loc[members].head(500), width="stretch", key="map.cluster_rows")
    assignment = findings.cluster_assignment(run, labels, table)
    st.download_button("Download cluster assignment (CSV)", export.csv_bytes(assignment),
                       file_name=f"{run.name}-clusters.csv", mime="text/csv", key="map.cluster_download",
                       icon=":material/download:")
