"""Runs page: place a file of new products in the active run (``product_repr.placing``, as the CLI's ``embed``).

Not a page. The result is kept per run under a key no widget owns, so it survives leaving the page.
"""
from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from pages import _runview as runview
from pages._catalogs import MAX_ROWS, MAX_UPLOAD_MB
from pages._shell import error_boundary
from pages._text import md
from product_repr import export, library, placing
from product_repr.compute import SERVER_GATE
from product_repr.data.tables import SUFFIXES
from product_repr.data.titles import title_column

RESULT_KEY = "placing.result"  # {run name: (file name, Placed, titles of the new products or None)}


def _results() -> dict:
    return st.session_state.setdefault(RESULT_KEY, {})


def _place(run, upload, run_rows: pd.DataFrame | None) -> None:
    from product_repr.data.tables import read_table

    with error_boundary(f"placing {upload.name}"):
        with st.spinner(f"Reading {upload.name} and placing its products in run {run.name}…"):
            new = read_table(upload, max_rows=MAX_ROWS)
            placing.check_columns(run, new, name=upload.name)
            work = len(new) + (0 if run_rows is None else len(run_rows))
            with SERVER_GATE.turn(SERVER_GATE.ticket(f"place@{run.name}", work)):  # heavy: one job at a time
                run_X = runview.raw_features(runview.run_view(run))  # the pages' cached X of the run's catalog
                placed = placing.place(run, new, run_X=run_X, name=upload.name)
        title = title_column(new, run.schema)
        titles = new[title].astype(str).tolist() if title else None
        _results()[run.name] = (upload.name, placed, titles)


def shown_frame(placed, titles, run_rows: pd.DataFrame | None, run) -> pd.DataFrame:
    """The table a person reads: each new product, its nearest run product (with its title when the run's
    catalog is loaded), how far off the model's rebuild is, and whether it is already in the catalog."""
    frame = placed.frame
    out = pd.DataFrame({"product": frame["product_id"]})
    if titles is not None:
        out["title"] = titles
    out["nearest in the run"] = frame["nearest"]
    if run_rows is not None:
        title = title_column(run_rows, run.schema)
        if title:
            by_id = dict(zip(map(str, run.product_ids), run_rows[title].astype(str)))
            out["its title"] = frame["nearest"].map(by_id)
    out["similarity"] = frame["similarity"].round(3)
    if "error_percentile" in frame:
        out["error percentile"] = frame["error_percentile"].round(1)
        out["worst column"] = frame["worst_column"]
    if "already_in_catalog" in frame:
        out["already in the catalog"] = frame["already_in_catalog"]
        out["as"] = frame["match"].where(frame["already_in_catalog"], "")
    return out


def draw(run, run_rows: pd.DataFrame | None) -> None:
    """The "Place new products" section for ``run``; ``run_rows``: its catalog rows, or None."""
    st.subheader(f"Place new products in run {md(run.name)}")
    st.markdown(
        "Upload products the run has not seen: they are encoded with the run's own features and model, **no "
        "training**. Each gets its embedding, its nearest products among the run's, how well the model rebuilds "
        "it (a high percentile: unlike what the run was trained on)"
        + (" and whether it is already in the catalog." if run_rows is not None else
           ". Load the run's catalog on the Data page to also see whether each is already in it."))
    needed = placing.required_columns(run)
    st.caption(f"The file needs the columns the run encodes: {md(', '.join(needed))}. Empty cells are read as "
               f"missing; unseen category values as (other). Up to {MAX_ROWS:,} rows, {MAX_UPLOAD_MB} MB.")
    upload = st.file_uploader("New products", type=list(SUFFIXES), key="runs.place_file")
    if upload is not None and st.button("Place them", key="runs.place", icon=":material/add_location_alt:"):
        _place(run, upload, run_rows)
    kept = _results().get(run.name)
    if kept is None:
        return
    name, placed, titles = kept
    frame = placed.frame
    for note in placed.notes:
        st.info(md(note), icon=":material/info:")
    cols = st.columns(3)
    cols[0].metric("New products", f"{len(frame):,}")
    if "error_percentile" in frame:
        cols[1].metric("Above the run's 95th error percentile", int((frame["error_percentile"] >= 95).sum()),
                       help="rebuilt worse than 95% of the run's own products: unlike what it was trained on")
    if "already_in_catalog" in frame:
        cols[2].metric("Already in the catalog", int(frame["already_in_catalog"].sum()),
                       help="a near-duplicate of a run product by the Duplicates page's measure")
    st.caption(f"From {md(name)}.")
    st.dataframe(shown_frame(placed, titles, run_rows, run), hide_index=True, width="stretch")
    stem = f"{library.safe_name(run.name)}-new-products"
    left, right = st.columns(2)
    left.download_button("Placed products (CSV)", data=lambda: export.csv_bytes(placed.table()),
                         file_name=f"{stem}.csv", mime="text/csv", on_click="ignore", key="runs.place_csv",
                         icon=":material/download:",
                         help="product_id, nearest, similarity, errors, catalog match, neighbours, e0 … e{d-1}")
    right.download_button("Placed products (Parquet)", data=lambda: _parquet(placed.table()),
                          file_name=f"{stem}.parquet", mime="application/octet-stream", on_click="ignore",
                          key="runs.place_parquet", icon=":material/download:")


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
