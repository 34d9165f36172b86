"""The Neighbours page's search by meaning (a free-text query, the products nearest to it) and the stars it
and a clicked product put on the Map.

Not a page. The search is ``product_repr.analysis.search`` (the run's own text encoding).
"""
from __future__ import annotations

import streamlit as st

from pages import _cache as cache, _runview as runview, _views as views
from pages._runview import RunView
from pages._text import md
from product_repr.analysis import report, search

SPACE_NAMES = {"text": "the text vectors", "learned": "the learned embedding"}
FIND_K = 25  # products starred on the map for a "Find on the map" query
STAR_K = 10  # neighbours starred around one clicked product


def section(view: RunView, k: int) -> None:
    """A query box and, once something is typed, the ``k`` products nearest to it."""
    run = view.run
    st.subheader("Search by meaning")
    left, right = st.columns([3, 2])
    text = left.text_input("Describe a product", key="neighbours.meaning",
                           placeholder="e.g. wireless earbuds, gluten free pasta, a warm winter coat")
    space = right.radio("Compare in", list(SPACE_NAMES), format_func=SPACE_NAMES.get, horizontal=True,
                        key="neighbours.meaning_space",
                        help="The text vectors retrieved more products of the right category on the real catalogs "
                             "(docs/BENCHMARKS.md); the learned embedding shows where the model would put such a product.")
    if not text.strip():
        st.caption("Products are found by what the words mean, not only by the words themselves: the query is encoded "
                   "like a product's text columns with the sentence model the run used.")
        return
    X = runview.raw_features(view)
    if X is None:
        st.info("Search needs the catalog this run was trained on: load it on the **Data** page.")
        return
    if not search.text_spans(run.feature_space):
        st.info("This run encodes no text column, so there is nothing to search by meaning.")
        return
    ids, sims = search.search(run, text, X, k=k, space=space)
    columns = [c for c in [view.title, *view.keys] if c is not None]
    st.dataframe(report.neighbour_table(ids, sims, [str(p) for p in run.product_ids], view.rows, columns),
                 hide_index=True, width="stretch", key="neighbours.meaning_results")


def find_on_map(view: RunView, fig, coords) -> str:
    """The Map page's "Find on the map" box: the :data:`FIND_K` products nearest in meaning to the words typed
    (the text vectors, as the search on the Neighbours page) starred on ``fig``. Returns a caption fragment."""
    run = view.run
    text = st.text_input("Find on the map", key="map.find",
                         placeholder="e.g. wireless earbuds: the products nearest in meaning are starred",
                         help="The words are encoded like the products' text columns; the "
                              f"{FIND_K} products whose texts are nearest in meaning are starred, wherever the "
                              "model put them.")
    if not text.strip():
        return ""
    if not search.text_spans(run.feature_space):
        st.info("This run encodes no text column, so there is nothing to find by meaning.")
        return ""
    X = runview.raw_features(view)
    if X is None:
        st.info("Finding by meaning needs the catalog this run was trained on: load it on the **Data** page.")
        return ""
    rows, _ = search.search(run, text, X, k=FIND_K, space="text")
    query = " ".join(text.split())[:60]
    views.highlight(fig, coords, [str(p) for p in run.product_ids], rows, name=f"★ {query}")
    return f" · ★ the {len(rows)} products nearest in meaning to “{md(query)}”"


def star_neighbours(view: RunView, fig, coords, selected: list[str]) -> str:
    """When exactly one product is selected on the map, star its :data:`STAR_K` nearest neighbours in the
    learned space on ``fig`` (where the model put them may be far from it on a 2D map). Returns a caption
    fragment."""
    if len(selected) != 1:
        return ""
    run = view.run
    position = {str(p): i for i, p in enumerate(run.product_ids)}
    if selected[0] not in position or len(run.product_ids) < 2:
        return ""
    ids, _ = cache.learned_neighbours(run, STAR_K)
    rows = ids[position[selected[0]]]
    views.highlight(fig, coords, [str(p) for p in run.product_ids], rows, name=f"★ nearest to {selected[0]}")
    return (f" · ★ the {len(rows)} products nearest to {md(selected[0])} in the learned space (the Neighbours page says "
            "why they are alike)")
