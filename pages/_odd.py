"""The Reconstruction page's first section: the most unusual products by anomaly score, the evidence
beside the list, and the triage of one product.

Not a page. The list comes from ``product_repr.findings`` (the same as ``product_repr anomalies RUN``);
heavy steps are cached per run identity and catalog content.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages import _cache as cache, _charts as charts, _runview as runview, _triage as triage
from pages._state import state
from pages._text import md
from product_repr import findings
from product_repr.analysis import anomalies, report


@st.cache_data(max_entries=8, show_spinner="Scoring the products…")
def _scores(key: str, _run, _X: np.ndarray) -> pd.DataFrame | None:
    return findings.anomaly_scores(_run, _X)


@st.cache_data(max_entries=16, show_spinner="Explaining the most unusual products…")
def _odd(key: str, top: int, _run, _rows: pd.DataFrame, _X: np.ndarray, _scored, _near) -> pd.DataFrame:
    return findings.odd_products(_run, _rows, _X, top=top, neighbours=_near, scored=_scored)


def demo_truth(run, view) -> dict | None:
    """The demo catalog's planted truth when the run was trained on that very catalog, else None."""
    catalog = state().catalog
    truth = getattr(catalog, "truth", None) if catalog is not None else None
    same = catalog is not None and (run.info or {}).get("data", {}).get("sha256") == catalog.sha256
    return truth if truth and same and view.exact else None


def show(run, view) -> None:
    """The ranked list with reasons, the flagged count, the demo's planted recall, and triage."""
    X = runview.raw_features(view)
    if X is None:
        st.info("The most unusual products need the catalog this run was trained on: load it on the **Data** "
                "page. The reconstruction errors below come from the run itself.")
        return
    key = runview.cache_key(view)
    scored = run.anomalies if run.anomalies is not None else _scores(key, run, X)
    score = scored["score"].to_numpy(dtype=np.float64)
    spread = scored["spreads"].to_numpy(dtype=np.float64)
    st.subheader("Most unusual products")
    st.caption("Each product's columns are predicted from its *other* columns, so the model never sees the value "
               "it judges. A column's surprise counts in that column's own typical spreads (a rare but valid "
               "value, such as out of stock, is not odd by itself). The **score** is how rare the product's most "
               "surprising column is: 3 means 1 product in 1,000 is as surprising there, so one extreme column "
               "puts a product on top. **spreads** adds up how far beyond the usual all its columns are.")
    left, right = st.columns([2, 1])
    flag_at = left.slider("Flag products at least this many typical spreads beyond the usual", 1.0, 50.0,
                          float(anomalies.FLAG_AT), 0.5, key="reconstruction.flag_at")
    flagged = int(anomalies.flagged(scored, flag_at).sum())
    right.metric("Flagged", f"{flagged:,}", f"{flagged / max(len(score), 1):.1%} of {len(score):,}", delta_color="off")
    st.plotly_chart(charts.histogram_figure(np.log10(1 + spread), name="log10(1 + spreads)", log_y=True,
                                            marker=float(np.log10(1 + flag_at)), marker_text="flagged from here"),
                    width="stretch", key="reconstruction.score_hist")
    truth = demo_truth(run, view)
    evidence = findings.planted_evidence(truth, scored, flag_at=flag_at)
    if evidence:
        st.success(f"The demo catalog has {evidence['anomalies']} planted odd products: {evidence['in_top']} are in "
                   f"the top {findings.TOP_SHARE:.0%} ({evidence['top']} products) and {evidence['flagged']} are "
                   "flagged at this threshold.")
    top = st.slider("How many to list", 5, min(200, max(5, len(score))), min(20, max(5, len(score))),
                    key="reconstruction.top")
    near, _ = cache.learned_neighbours(run, 10)
    table = _odd(key, top, run, view.rows.reset_index(drop=True), X, scored, near).copy()
    table.insert(4, "flagged", table["spreads"] >= flag_at)
    table["your mark"] = [triage.mark_of(run, "product", p) for p in table["product_id"]]
    report.with_attributes(table, view.rows, [view.title, *view.keys])
    st.dataframe(table.round({"score": 2, "spreads": 1}), hide_index=True, width="stretch", key="reconstruction.odd")
    st.caption("“why” names the columns that do not fit, the product's value, the middle of its most similar "
               "products' values, and what the model expected from the product's other columns.")
    check(run, view, table, near)


def check(run, view, table: pd.DataFrame, near: np.ndarray) -> None:
    """One listed product beside its nearest neighbours, and its mark."""
    st.subheader("Check a product")
    ids = table["product_id"].astype(str).tolist()
    if not ids:
        return
    pid = st.selectbox("Product", ids, format_func=lambda p: f"#{ids.index(p) + 1} · {view.label_of(p)}",
                       key="reconstruction.check")
    row = [str(p) for p in run.product_ids].index(pid)
    others = [str(run.product_ids[j]) for j in near[row][:5]]
    st.markdown(f"**Why:** {md(table.loc[table['product_id'] == pid, 'why'].iloc[0] or '—')}")
    side = triage.side_by_side(view, [pid, *others], names=[f"{pid} (this)", *others])
    if side is not None:
        st.dataframe(side, hide_index=True, width="stretch", key="reconstruction.side")
        st.caption("This product's values beside its five nearest neighbours in the learned embedding.")
    triage.mark_control(run, "product", pid)
    triage.download_marks(run, key="reconstruction.marks")
