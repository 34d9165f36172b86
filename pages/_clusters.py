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

from pages._runview import RunView
from product_repr import export
from product_repr.analysis import clusters

LABELLED = 20  # clusters named on the map (the largest)


@st.cache_data(max_entries=8, show_spinner="Finding clusters…")
def _found(key: str, _Z: np.ndarray, cosine: bool, _rows: pd.DataFrame | None, text: tuple, categorical: tuple,
           numeric: tuple) -> tuple[np.ndarray, pd.DataFrame]:
    labels = clusters.cluster(_Z, cosine=cosine)
    rows = _rows if _rows is not None else pd.DataFrame(index=range(len(_Z)))
    return labels, clusters.describe(labels, rows, text=text, categorical=categorical, numeric=numeric)


def found(view: RunView) -> tuple[np.ndarray, pd.DataFrame]:
    """(cluster per product, one row per cluster) for the view's run."""
    run = view.run
    rows = view.rows.reset_index(drop=True) if view.rows is not None else None
    schema = run.schema
    text = tuple(c for c in schema.names("text") if rows is not None and c in rows.columns)
    numeric = tuple(view.numeric[:3])
    key = f"{run.name}|{(run.info or {}).get('created', '')}|{view.table_key}"
    if run.projection is not None:  # the run's own 2D UMAP map: whatever layout the page draws
        space, cosine = run.projection[["x", "y"]].to_numpy(dtype=np.float32), False
    else:
        space, cosine = np.asarray(run.embeddings, dtype=np.float32), True
    return _found(key, space, cosine, rows, text, tuple(view.categorical), numeric)


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
    assignment = pd.DataFrame({"product_id": [str(p) for p in run.product_ids], "cluster": labels,
                               "label": names(labels, table)})
    st.download_button("Download cluster assignment (CSV)", export.csv_bytes(assignment),
                       file_name=f"{run.name}-clusters.csv", mime="text/csv", key="map.cluster_download",
                       icon=":material/download:")
