"""Reconstruction: the catalog's most unusual products and why, and how well the model rebuilds each product."""
from __future__ import annotations

import numpy as np
import streamlit as st

from pages import _cache as cache, _charts as charts, _odd as odd, _runview as runview
from pages._shell import error_boundary
from pages._state import require_run
from product_repr.analysis import neighbours, report

st.title("Reconstruction")
run = require_run()

if run.reconstruction is None:
    st.info(
        f"Run **{run.name}** was trained with the **{(run.info or {}).get('learner', 'contrastive')}** learner, "
        "which has no decoder: it learns which products look alike, not how to rebuild a product from its "
        "embedding, so there is no reconstruction error to show. Below are the most *isolated* products instead "
        "— those least similar to their nearest neighbours, this run's way of being unusual. You can also colour "
        "the **Map** by isolation or neighbour agreement; for reconstruction errors, train an autoencoder, "
        "denoising or multi-task run on the **Train** page."
    )
    with error_boundary():
        view = runview.run_view(run)
        runview.show_notes(view)
        n = len(run.product_ids)
        if n > 1:
            k = min(10, n - 1)
            ids, sims = cache.learned_neighbours(run, k)
            st.subheader("Most isolated products")
            st.plotly_chart(charts.histogram_figure(neighbours.isolation(sims), name=f"isolation (1 − mean similarity to {k} neighbours)"),
                            width="stretch", key="reconstruction.isolation_hist")
            table = report.isolated_products(run.product_ids, ids, sims, top=min(20, n))
            report.with_attributes(table, view.rows, [view.title, *view.keys])
            st.dataframe(table, hide_index=True, width="stretch", key="reconstruction.isolated")
    st.stop()

with error_boundary():
    view = runview.run_view(run)
    runview.show_notes(view)
    odd.show(run, view)

    rec = run.reconstruction
    error = rec["error"].to_numpy(dtype=np.float64)
    columns = [c for c in rec.columns if c not in ("product_id", "error")]
    st.header("Reconstruction error")
    st.caption(
        "How far the model's rebuilt row is from the real one when it sees the whole product, summed over its "
        "columns (squared error for numbers and text, cross-entropy for categories), each column scaled so that "
        "1 is the error of a guess from the column's overall distribution. It shows what the embedding keeps; "
        "the anomaly score above is the better list of odd products, because a model that sees a value can "
        "learn to rebuild it, odd or not."
    )
    m1, m2, m3 = st.columns(3)
    m1.metric("Mean error", f"{np.nanmean(error):.3f}")
    m2.metric("Median error", f"{np.nanmedian(error):.3f}")
    m3.metric("99th percentile", f"{np.nanpercentile(error, 99):.3f}")
    log_y = st.toggle("Log scale (counts)", value=False, key="reconstruction.log")
    st.plotly_chart(charts.histogram_figure(error, name="reconstruction error", log_y=log_y), width="stretch",
                    key="reconstruction.histogram")
    with st.expander("Highest reconstruction errors"):
        st.dataframe(report.with_attributes(report.unusual_products(rec, top=20), view.rows, [view.title]),
                     hide_index=True, width="stretch", key="reconstruction.unusual")
        st.caption("“unusual in” lists the columns whose error for this product is far above that column's mean "
                   "(×mean).")

    if columns:
        st.subheader("Error per column")
        means = rec[columns].mean(axis=0)
        st.plotly_chart(charts.bar_figure(list(means.index), means.to_numpy(), x_title="mean error (1 = guessing)",
                                         y_title="", reference=1.0, reference_text="guessing"),
                        width="stretch", key="reconstruction.columns")
        st.caption("Which attributes the model reconstructs badly. A bar near 1 means the embedding keeps almost "
                   "nothing about that column (no better than guessing from its distribution); short bars are "
                   "columns the embedding captures well.")

    if view.rows is not None and view.categorical:
        st.subheader("Errors by category")
        default = view.label if view.label in view.categorical else view.categorical[0]
        group = st.selectbox("Group by", view.categorical, index=view.categorical.index(default),
                             key="reconstruction.group")
        st.plotly_chart(charts.box_figure(error, view.rows[group].to_numpy(dtype=object), value_name="reconstruction error",
                                         group_name=group), width="stretch", key="reconstruction.by_group")
        st.caption("A category whose box sits high is one the model finds harder to describe (few products, or "
                   "more varied ones).")
