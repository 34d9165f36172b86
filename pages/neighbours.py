"""Neighbours: search by meaning, and one product's nearest look-alikes in the learned embedding and in the raw
features, with why a pair is alike."""
from __future__ import annotations

import numpy as np
import streamlit as st

from pages import _cache as cache, _charts as charts, _runview as runview, _search as finder
from pages._shell import error_boundary
from pages._state import require_run
from pages._text import md
from product_repr.analysis import alike, neighbours, report
from product_repr.data.titles import search_products

RUN_WIDE_K = 10  # the run-wide overlap is computed once, at this k (shared with the Map's agreement colour)
MAX_MATCHES = 1000


def top_k(Z: np.ndarray, i: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Product ``i``'s ``k`` nearest cosine neighbours in ``Z`` (n, d), itself left out: (ids (k,), sims (k,))."""
    return neighbours.query(cache.neighbour_index(Z), i, k)


st.title("Neighbours")
run = require_run()

with error_boundary():
    view = runview.run_view(run)
    runview.show_notes(view)
    product_ids = [str(p) for p in run.product_ids]
    n = len(product_ids)
    if n < 2:
        st.info("This run has a single product, so it has no neighbours.")
        st.stop()
    st.caption("Describe a product in your own words to find the nearest ones, or pick a product by part of its "
               "title or id and compare its nearest neighbours by cosine similarity in the learned embedding with "
               "those in the raw encoded features.")

    k = st.slider("k (neighbours)", 1, min(50, n - 1), min(10, n - 1), key="neighbours.k")
    finder.section(view, k)
    st.subheader("A product's neighbours")
    text = st.text_input("Find a product", key="neighbours.query", placeholder="part of its title or id")
    titles = view.rows[view.title].to_numpy() if view.rows is not None and view.title else None
    hits, total = search_products(product_ids, titles, text, limit=MAX_MATCHES)
    if total == 0:
        st.warning(f"No product's id or title contains '{md(text)}'. Try a shorter or different part.")
        st.stop()
    choice = st.selectbox(f"Product ({total:,} match{'es' if total != 1 else ''}"
                          + (f", first {MAX_MATCHES:,} listed" if total > MAX_MATCHES else "") + ")",
                          hits.tolist(), format_func=lambda i: view.label_of(product_ids[i]),
                          key="neighbours.product")
    i = int(choice)
    pid = product_ids[i]

    st.subheader(md(view.label_of(pid)))
    if view.rows is not None:
        st.dataframe(view.rows.iloc[[i]], hide_index=True, width="stretch")

    learned_ids, learned_sims = top_k(np.asarray(run.embeddings, dtype=np.float32), i, k)
    X = runview.raw_features(view)
    columns = [c for c in [view.title, *view.keys] if c is not None]
    if X is None:
        st.markdown("**In the learned embedding**")
        st.dataframe(report.neighbour_table(learned_ids, learned_sims, product_ids, view.rows, columns),
                     hide_index=True, width="stretch")
        st.info("The raw-feature comparison needs the catalog this run was trained on (load it on the Data page).")
        st.stop()

    raw_ids, raw_sims = top_k(X, i, k)
    shared = {product_ids[j] for j in learned_ids} & {product_ids[j] for j in raw_ids}
    a, b = st.columns(2)
    with a:
        st.markdown("**In the learned embedding**")
        st.dataframe(report.neighbour_table(learned_ids, learned_sims, product_ids, view.rows, columns, shared=shared),
                     hide_index=True, width="stretch", key="neighbours.learned")
    with b:
        st.markdown("**In the raw features**")
        st.dataframe(report.neighbour_table(raw_ids, raw_sims, product_ids, view.rows, columns, shared=shared),
                     hide_index=True, width="stretch", key="neighbours.raw")

    st.subheader("Why are they alike?")
    pick = st.selectbox("Neighbour", [int(j) for j in learned_ids], format_func=lambda j: view.label_of(product_ids[j]),
                        key="neighbours.pair")
    pair = alike.explain_pair(X, run.feature_space.spans, i, int(pick),
                              rows=view.rows.reset_index(drop=True) if view.rows is not None else None)
    st.markdown(f"**{md(alike.summary(pair))}.**")
    left, right = st.columns([2, 3])
    left.plotly_chart(charts.bar_figure(pair["column"].tolist(), pair["agreement"].to_numpy(), x_title="agreement",
                                        y_title="", reference=1.0, reference_text="same"),
                      width="stretch", key="neighbours.pair_chart")
    right.dataframe(pair.rename(columns={"a": pid, "b": product_ids[int(pick)]}).round(3), hide_index=True,
                    width="stretch", key="neighbours.pair_table")
    st.caption("Per column of the encoded features: **agreement** is 1 for the same value and 0 for values as far "
               "apart as two random products'; **contribution** is the column's share of the two products' cosine "
               "similarity in the raw features (the shares add up to it; negative pulls them apart). The learned "
               "embedding mixes the columns, so the explanation is given in the features it learned from.")

    st.subheader("Overlap")
    m1, m2 = st.columns([1, 3])
    m1.metric("Shared neighbours", f"{len(shared)} of {k}",
              help="How many of this product's k nearest neighbours are the same in both spaces.")
    m2.plotly_chart(charts.overlap_figure(len(shared), len(learned_ids) - len(shared), len(raw_ids) - len(shared)),
                    width="stretch", key="neighbours.overlap")

    kk = min(RUN_WIDE_K, n - 1)
    learned_all, _ = cache.learned_neighbours(run, kk)
    raw_all, _ = runview.raw_neighbour_ids(view, kk, X)
    per_product = np.asarray(neighbours.overlap(learned_all, raw_all), dtype=np.float64)
    st.metric(f"Run-wide mean overlap at k = {kk}", f"{per_product.mean():.0%}",
              help="Averaged over all products: the share of each product's neighbours the learned embedding "
                   "keeps from the raw features. 100% means the model only copies the raw geometry; low values "
                   "mean it groups products differently (check on the Map whether the new groups make sense).")
    st.plotly_chart(charts.histogram_figure(per_product, name=f"share of {kk} neighbours shared", nbins=kk + 1),
                    width="stretch", key="neighbours.overlap_hist")
