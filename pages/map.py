"""Map: the active run's products in 2D or 3D (UMAP or PCA), coloured, hoverable and selectable."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages import _cache as cache, _clusters as clusters, _runview as runview, _search as search_view, _views as views
from pages._colours import ERROR_SCALE
from pages._live import running_job, watch_job
from pages._shell import error_boundary
from pages._state import require_run, state
from product_repr import export
from product_repr.analysis import neighbours, projection, report

# what projection.project accepts; "none" (Z itself) is only for embeddings of at most 3 dimensions
METHODS = {m: {"umap": "UMAP", "pca": "PCA"}[m] for m in projection.METHODS if m != "none"}
METRICS = projection.METRICS
NONE = "(none)"
ERROR = "reconstruction error"
ANOMALY = "anomaly score"
CLUSTER = "cluster"
AGREEMENT = "neighbour agreement"
ISOLATION = "isolation"
AGREEMENT_K = 10


def stored_settings(run) -> dict:
    """The projection settings the run was made with (defaults where the run does not say)."""
    info = (run.info or {}).get("projection", {}) or {}
    params = dict(info.get("params", {}) or {})
    dims = 3 if run.projection is not None and "z" in run.projection.columns else 2
    return {
        "method": str(info.get("method", params.get("method", "umap"))),
        "dims": int(params.get("dims", dims)),
        "n_neighbors": int(params.get("n_neighbors", 15)),
        "min_dist": float(params.get("min_dist", 0.1)),
        "metric": str(params.get("metric", "cosine")),
        "seed": params.get("seed", None),
    }


def describe(settings: dict) -> str:
    """One line naming the projection and its parameters."""
    text = f"{METHODS.get(settings['method'], settings['method'])} {settings['dims']}D"
    if settings["method"] == "umap":
        text += f" · n_neighbors={settings['n_neighbors']} · min_dist={settings['min_dist']:g} · metric={settings['metric']}"
        seed = settings["seed"]
        text += f" · seed={seed}" if seed is not None else " · no seed (fast, not reproducible)"
    return text


st.title("Map")
if not state().runs and running_job() is not None:
    watch_job(show_map=True)  # nothing finished yet: the training's newest map, replaced by the run when done
    st.stop()
watch_job(show_map=False)
run = require_run()

with error_boundary():
    view = runview.run_view(run)
    stored = stored_settings(run)
    st.caption(
        "Each point is a product placed by its learned embedding: products the model finds alike sit close "
        "together. Hover for details; drag a box (or pick lasso in the chart's toolbar) to select products."
    )
    runview.show_notes(view)

    colour_options = [NONE]
    if run.anomalies is not None:
        colour_options.append(ANOMALY)
    if run.reconstruction is not None:
        colour_options.append(ERROR)
    colour_options.append(ISOLATION)
    if len(run.product_ids) >= 20:
        colour_options.append(CLUSTER)
    if view.rows is not None:
        colour_options.append(AGREEMENT)
        colour_options += [str(c) for c in view.rows.columns]
    default_colour = view.colour or view.label or (ANOMALY if run.anomalies is not None else
                                                   ERROR if run.reconstruction is not None else NONE)
    left, middle, right = st.columns([3, 1, 3])
    colour_by = left.selectbox("Colour by", colour_options, index=colour_options.index(default_colour)
                               if default_colour in colour_options else 0, key="map.colour")
    three_d = middle.toggle("3D", value=stored["dims"] == 3, key="map.3d",
                            help="A 3D map (recomputed on first use); selection works on the 2D map.")
    with right.expander("Projection settings", expanded=False):
        with st.form("map.projection"):
            method = st.selectbox("Method", list(METHODS), format_func=METHODS.get,
                                  index=list(METHODS).index(stored["method"]) if stored["method"] in METHODS else 0,
                                  key="map.method")
            n_neighbors = st.slider("n_neighbors", 2, 200, stored["n_neighbors"], key="map.n_neighbors",
                                    help="UMAP: how many neighbours shape each point's place; small = local detail, "
                                         "large = global structure.")
            min_dist = st.slider("min_dist", 0.0, 0.99, float(stored["min_dist"]), step=0.01, key="map.min_dist",
                                 help="UMAP: how tightly points may pack together.")
            metric = st.selectbox("metric", METRICS, index=METRICS.index(stored["metric"])
                                  if stored["metric"] in METRICS else 0, key="map.metric")
            reproducible = st.checkbox("Reproducible (fixed seed, slower)", value=stored["seed"] is not None,
                                       key="map.reproducible",
                                       help="Without a seed UMAP runs in parallel: fast, but each run differs a little.")
            seed = st.number_input("seed", 0, 2**31 - 1, int(stored["seed"] or 0), key="map.seed")
            st.form_submit_button("Apply")

    settings = {"method": method, "dims": 3 if three_d else 2, "n_neighbors": int(n_neighbors),
                "min_dist": float(min_dist), "metric": metric, "seed": int(seed) if reproducible else None}
    if method == "pca":
        for name in ("n_neighbors", "min_dist", "metric", "seed"):
            settings[name] = stored[name]
    note = ""
    if run.projection is not None and settings == stored:
        coords = run.projection[["x", "y", "z"][: settings["dims"]]].to_numpy(dtype=np.float32)
    else:
        with st.spinner(f"Computing the {describe(settings)} map…"):
            projected = cache.cached_projection(run, **settings)
        coords, note = np.asarray(projected.coords, dtype=np.float32), str(projected.note or "")

    colour, continuous, scale = None, False, "Viridis"
    if colour_by == ERROR:
        colour, continuous, scale = run.reconstruction["error"].to_numpy(dtype=np.float64), True, ERROR_SCALE
    elif colour_by == CLUSTER:
        found = clusters.found(view)
        colour, continuous = clusters.names(*found), False
    elif colour_by == ANOMALY:
        colour, continuous, scale = run.anomalies["score"].to_numpy(dtype=np.float64), True, ERROR_SCALE
    elif colour_by == AGREEMENT:
        raw = runview.raw_neighbour_ids(view, AGREEMENT_K)
        learned, _ = cache.learned_neighbours(run, AGREEMENT_K)
        colour, continuous, scale = np.asarray(neighbours.overlap(learned, raw[0]), dtype=np.float64), True, "RdYlGn"
    elif colour_by == ISOLATION:
        _, sims = cache.learned_neighbours(run, AGREEMENT_K)
        colour, continuous, scale = neighbours.isolation(sims), True, ERROR_SCALE
    elif colour_by != NONE:
        colour, continuous = runview.column_colours(view, colour_by)

    shown, shown_note = runview.map_filter(view)
    rows = np.arange(len(coords)) if shown is None else np.flatnonzero(shown)
    chosen = len(rows)
    rows = views.drawn_rows(rows)  # a huge map draws a sample as points, over the density of all of them
    if len(rows) < chosen:
        shown_note += (f" · drawn: a random {len(rows):,} of the {chosen:,} products as points; the grey shading "
                       "shows where all of them lie, and search, stars and the other pages use every product")
    hover = runview.hover_frame(view)
    fig = views.scatter_figure(coords[rows], np.asarray(run.product_ids)[rows],
                               colour=None if colour is None else np.asarray(colour)[rows],
                               colour_name=None if colour_by == NONE else colour_by, continuous=continuous,
                               hover=None if hover is None else hover.iloc[rows], colorscale=scale)
    if len(rows) < chosen and coords.shape[1] == 2:
        views.add_density(fig, coords if shown is None else coords[shown])
    if colour_by == CLUSTER:
        clusters.annotate(fig, coords, *found)
    found_note = search_view.find_on_map(view, fig, coords)
    found_note += search_view.star_neighbours(view, fig, coords,  # the selection of the previous run, if one point
                                              views.selected_product_ids(st.session_state.get("map.chart")))
    event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="map.chart",
                            width="stretch")
    caption = f"{len(run.product_ids):,} products · {describe(settings)}"
    if colour_by == ANOMALY:
        caption += (" · colour: how rare the product's most surprising column is (3 = 1 in 1,000; the list is on "
                    "the Reconstruction page)")
    if colour_by == ISOLATION:
        caption += (f" · colour: 1 − mean cosine similarity to the {AGREEMENT_K} nearest neighbours "
                    "(high = a product unlike any other)")
    if colour_by == AGREEMENT:
        caption += (f" · colour: share of a product's {AGREEMENT_K} nearest neighbours that are also its neighbours "
                    "in the raw features (1 = the model keeps the raw neighbourhood, 0 = it found new look-alikes)")
    st.caption(caption + shown_note + found_note + (f" · {note}" if note else ""))

    selected = views.selected_product_ids(event)
    if selected:
        st.subheader(f"{len(selected):,} selected products")
        extra = {"x": coords[:, 0], "y": coords[:, 1], **({} if colour is None else {colour_by: colour})}
        if run.anomalies is not None:
            extra["anomaly score"] = run.anomalies["score"].to_numpy()
        if run.reconstruction is not None:
            extra["reconstruction error"] = run.reconstruction["error"].to_numpy()
        table = report.selection_table(run.product_ids, selected, view.rows, extra=extra)
        counts, stats = report.selection_summary(table, categorical=view.categorical[:3], numeric=view.numeric[:4])
        left, right = st.columns(2)
        left.dataframe(counts.round({"share": 3}), hide_index=True, width="stretch", key="map.selection_counts")
        right.dataframe(stats.round(3), hide_index=True, width="stretch", key="map.selection_stats")
        st.dataframe(table, hide_index=True, width="stretch")
        position = {str(p): i for i, p in enumerate(run.product_ids)}
        embedding = np.asarray(run.embeddings)[[position[p] for p in table["product_id"]]]
        table = pd.concat([table, pd.DataFrame(embedding, columns=[f"e{j}" for j in range(embedding.shape[1])])], axis=1)
        st.caption("The download adds each product's map position, scores and embedding (e0 …).")
        st.download_button("Download selection (CSV)", export.csv_bytes(table),
                           file_name=f"{run.name}-selection.csv", mime="text/csv", key="map.download")
    else:
        st.caption("Select points on the map to list them here.")

    if colour_by == CLUSTER:
        clusters.section(view, *found)
