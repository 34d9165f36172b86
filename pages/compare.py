"""Compare: this session's runs side by side — metrics against the baselines, maps, changed neighbourhoods."""
from __future__ import annotations

import numpy as np
import streamlit as st

from pages import _cache as cache, _charts as charts, _runview as runview, _views as views
from pages._shell import error_boundary
from pages._state import state
from pages._text import md
from product_repr.analysis import align, report

K = 10  # neighbour list length compared between runs
NONE = "(none)"
SEEN_KEY = "compare.seen"  # the maps' last selections (pages/_views.linked_selection), no widget's key

st.title("Compare runs")
app = state()
if len(app.runs) < 2:
    st.info("Comparing needs at least two runs: train another learner (or the same one with other settings) on "
            "the **Train** page, or open a saved run on the **Runs** page.")
    st.stop()

with error_boundary():
    names = list(app.runs)
    chosen = st.multiselect("Runs", names, default=names[-2:], key="compare.runs")
    if len(chosen) < 2:
        st.info("Pick at least two runs.")
        st.stop()
    runs = [app.runs[n] for n in chosen]

    st.subheader("Metrics")
    table = report.metrics_table(runs)
    empty = [c for c in table.columns if table[c].isna().all()]
    shown = table.drop(columns=empty)
    st.dataframe(shown, hide_index=True, width="stretch", key="compare.metrics",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in shown.columns
                                if c not in ("name", "kind", "learner", "d", "label")})
    if any(c in empty for c in ("kNN precision", "linear probe")):
        st.info("No label column was chosen for these runs, so there is no kNN precision, linear probe or baseline "
                "to show: pick a label on the **Data** page (a column such as a category) and train again.")
    st.caption("kNN precision: share of each product's 10 nearest neighbours with its label. Linear probe: accuracy "
               "of a logistic regression predicting the label from the vectors. Trustworthiness: how well the 2D map "
               "keeps the embedding's neighbourhoods (1 = perfectly). Baselines use the raw encoded features and "
               "PCA of them to the same size; a learned embedding should beat both. Empty cells: no label was "
               "chosen for that run, or the learner has no decoder.")

    st.subheader("Maps")
    left_name, right_name = st.columns(2)
    a_name = left_name.selectbox("Left", chosen, index=0, key="compare.left")
    b_name = right_name.selectbox("Right", chosen, index=1, key="compare.right")
    run_a, run_b = app.runs[a_name], app.runs[b_name]
    view_a, view_b = runview.run_view(run_a), runview.run_view(run_b)
    runview.show_notes(view_a)
    if b_name != a_name:
        runview.show_notes(view_b)
    shared_columns = [c for c in (view_a.rows.columns if view_a.rows is not None else [])
                      if view_b.rows is not None and c in view_b.rows.columns]
    options = [NONE, *map(str, shared_columns)]
    default = view_a.label or view_a.colour or next((c for c in view_a.categorical if c in shared_columns), None)
    pick, toggle = st.columns([3, 2])
    colour_by = pick.selectbox("Colour both by", options, index=options.index(default) if default in options else 0,
                               key="compare.colour")
    aligned = toggle.toggle("Align the right map to the left", value=True, key="compare.align",
                            help="Rotate, reflect, scale and shift the right map onto the left one through the products "
                                 "both runs have (Procrustes): UMAP's orientation is arbitrary, so without this the "
                                 "same group can sit in another corner.")
    layouts = {run.name: run.projection[["x", "y"]].to_numpy(dtype=np.float32)
               for run in (run_a, run_b) if run.projection is not None}
    residual = None
    if aligned and len(layouts) == 2 and a_name != b_name:
        layouts[b_name], residual = align.align_runs(run_a.product_ids, layouts[a_name], run_b.product_ids,
                                                     layouts[b_name])
    # a selection on either map (of the previous rerun) is starred on the other one
    side_of = {"a": "left", "b": "right"}
    source, picked = views.linked_selection(
        st.session_state.setdefault(SEEN_KEY, {}),
        {side: views.selected_product_ids(st.session_state.get(f"compare.map.{side}")) for side in side_of})
    map_a, map_b = st.columns(2)
    for side, column, run, view in (("a", map_a, run_a, view_a), ("b", map_b, run_b, view_b)):
        with column:
            if run.projection is None:
                st.info(f"Run {md(run.name)} has no stored map; open it on the Map page to compute one.")
                continue
            coords = layouts[run.name]
            colour, continuous = (None, False) if colour_by == NONE else runview.column_colours(view, colour_by)
            fig = views.scatter_figure(coords, run.product_ids, colour=colour,
                                       colour_name=None if colour_by == NONE else colour_by, continuous=continuous,
                                       hover=runview.hover_frame(view), title=run.name, height=480)
            if source is not None and source != side:
                position = {str(p): i for i, p in enumerate(run.product_ids)}
                rows = [position[p] for p in picked if p in position]
                if rows:
                    views.highlight(fig, coords, [str(p) for p in run.product_ids], rows,
                                    name=f"★ selected on the {side_of[source]} map")
            st.plotly_chart(fig, width="stretch", key=f"compare.map.{side}", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))
    if residual is not None:
        st.caption(f"Right map aligned to the left: {1 - residual:.0%} of the left map's spread is matched "
                   "(100% = the same layout up to rotation and scale).")
    if picked:
        other = run_b if source == "a" else run_a
        found = len(set(picked) & set(map(str, other.product_ids)))
        st.caption(f"{len(picked):,} products selected on the {side_of[source]} map; the {found:,} of them in run "
                   f"{md(other.name)} are starred on the {side_of['b' if source == 'a' else 'a']} map.")
    else:
        st.caption("Select products on either map (box, lasso or a click): they are starred on the other map, "
                   "so you can see where the other run put them.")

    st.subheader("Products whose neighbourhood changed most")
    if a_name == b_name:
        st.info("Pick two different runs above to compare their neighbourhoods.")
        st.stop()
    k = max(1, min(K, len(run_a.product_ids) - 1, len(run_b.product_ids) - 1))
    nn_a, _ = cache.learned_neighbours(run_a, k)
    nn_b, _ = cache.learned_neighbours(run_b, k)
    changes = report.neighbourhood_changes(run_a.product_ids, nn_a, run_b.product_ids, nn_b)
    if changes.empty:
        st.info(f"Runs {md(a_name)} and {md(b_name)} have no products in common.")
        st.stop()
    st.metric(f"Mean neighbourhood change at k = {k}", f"{changes['change'].mean():.0%}",
              help=f"1 − the share of a product's {k} nearest neighbours that are the same in both runs, averaged.")
    st.plotly_chart(charts.histogram_figure(changes["change"].to_numpy(), name="neighbourhood change", nbins=k + 1),
                    width="stretch", key="compare.change_hist")
    top = report.with_attributes(changes.head(50).copy(), view_a.rows, [view_a.title, *view_a.keys])
    st.dataframe(top, hide_index=True, width="stretch", key="compare.changes")
    if picked:
        mine = changes[changes["product_id"].astype(str).isin(set(picked))]
        st.markdown(f"**The {len(mine):,} selected products in both runs**, most changed first")
        st.dataframe(report.with_attributes(mine.head(200).copy(), view_a.rows, [view_a.title, *view_a.keys]),
                     hide_index=True, width="stretch", key="compare.selected")
    if residual is not None and len(changes) >= 5:
        moved = st.slider("Draw the products that changed most, from one map to the other", 5, min(200, len(changes)),
                          min(30, len(changes)), key="compare.moved")
        ids = changes["product_id"].astype(str).head(moved).tolist()
        pos_a = {str(p): i for i, p in enumerate(run_a.product_ids)}
        pos_b = {str(p): i for i, p in enumerate(run_b.product_ids)}
        st.plotly_chart(charts.moves_figure(layouts[a_name][[pos_a[p] for p in ids]],
                                            layouts[b_name][[pos_b[p] for p in ids]],
                                            [view_a.label_of(p) for p in ids], before_name=a_name, after_name=b_name),
                        width="stretch", key="compare.moves")
        st.caption("Each line joins a product's place on the left map to its place on the (aligned) right map.")
