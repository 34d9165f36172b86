"""Duplicates: the pairs and groups of products the catalog lists twice, the columns that differ, marks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages import _charts as charts, _odd as odd, _runview as runview, _triage as triage
from pages._shell import error_boundary
from pages._state import require_run
from product_repr import export, findings
from product_repr.analysis import duplicates

st.title("Duplicates")
run = require_run()


@st.cache_data(max_entries=8, show_spinner="Looking for duplicates…")
def _candidates(key: str, _run, _X: np.ndarray | None) -> pd.DataFrame:
    return findings.duplicate_candidates(_run, _X, threshold=duplicates.FLOOR)


with error_boundary():
    view = runview.run_view(run)
    runview.show_notes(view)
    st.caption("Two products are near-duplicates when nearly all their columns match: for each column the two "
               "values' distance is compared with that column's typical distance between two random products, "
               "and **similarity** is 1 minus the average over the columns (1 = identical). Pairs that share a "
               "product form a **group**. The learned embedding's cosine is shown for context: it puts similar "
               "products close, so it cannot tell a copy from a sibling.")
    X = runview.raw_features(view) if run.duplicates is None else None
    if run.duplicates is None and X is None:
        st.info("This run was saved without its duplicate pairs; load the catalog it was trained on on the "
                "**Data** page to search them.")
        st.stop()
    candidates = _candidates(runview.cache_key(view), run, X)
    threshold = st.slider("Similarity threshold", float(duplicates.FLOOR), 1.0, float(duplicates.THRESHOLD), 0.005,
                          format="%.3f", key="duplicates.threshold")
    columns = [c for c in (view.rows.columns if view.rows is not None else []) if c != run.schema.id_column]
    pairs = findings.duplicate_list(candidates, threshold, view.rows, title=view.title, columns=columns)
    m1, m2, m3 = st.columns(3)
    m1.metric("Pairs", f"{len(pairs):,}")
    m2.metric("Groups", f"{pairs['group'].nunique() if len(pairs) else 0:,}")
    involved = len(set(pairs["product_a"]) | set(pairs["product_b"])) if len(pairs) else 0
    m3.metric("Products involved", f"{involved:,}", f"{involved / max(len(run.product_ids), 1):.1%} of the catalog",
              delta_color="off")
    st.plotly_chart(charts.histogram_figure(candidates["similarity"].to_numpy(), name="similarity", log_y=True,
                                            y_title="candidate pairs", marker=threshold, marker_text="threshold"),
                    width="stretch", key="duplicates.histogram")
    st.caption(f"Every product's nearest candidates from similarity {duplicates.FLOOR:g} up; the pairs right of "
               "the line are listed. Copies sit near 1, apart from the bulk of merely similar products.")
    evidence = findings.planted_evidence(odd.demo_truth(run, view), pairs=pairs)
    if evidence:
        st.success(f"The demo catalog has {evidence['duplicate_pairs']} planted near-duplicate pairs: "
                   f"{evidence['pairs_found']} are listed at this threshold, beside {evidence['other_pairs']} "
                   "other pairs.")
    if not len(pairs):
        st.info(f"No pair of products is at least {threshold:.3f} similar. Lower the threshold to see closer "
                f"siblings (the run keeps pairs from {duplicates.FLOOR:g} up).")
        st.stop()
    shown = pairs.copy()
    shown["your mark"] = [triage.mark_of(run, "pair", a, b) for a, b in zip(shown["product_a"], shown["product_b"])]
    st.dataframe(shown.round({"similarity": 4, "embedding_similarity": 4}), hide_index=True, width="stretch",
                 key="duplicates.pairs")
    st.download_button("Download pairs (CSV)", export.csv_bytes(pairs), file_name=f"{run.name}-duplicates.csv",
                       mime="text/csv", key="duplicates.download", icon=":material/download:")

    st.subheader("Check a pair")
    options = list(range(min(len(pairs), 500)))
    label = (lambda i: f"#{i + 1} · {pairs['product_a'].iloc[i]} / {pairs['product_b'].iloc[i]}"
             + (f" — {str(pairs['title_a'].iloc[i])[:60]}" if "title_a" in pairs.columns else ""))
    i = st.selectbox("Pair", options, format_func=label, key="duplicates.check")
    a, b = str(pairs["product_a"].iloc[i]), str(pairs["product_b"].iloc[i])
    if view.rows is not None:
        rows = view.rows.reset_index(drop=True)
        position = {str(p): j for j, p in enumerate(run.product_ids)}
        side = duplicates.differences(rows, position[a], position[b], columns)
        side.columns = ["column", a, b, "same"]
        st.dataframe(side, hide_index=True, width="stretch", key="duplicates.side")
        st.caption("The columns that differ come first.")
    triage.mark_control(run, "pair", a, b)
    triage.download_marks(run, key="duplicates.marks")
