"""The Data page's "Label & exclusions" tab: the label runs are scored against, the map's colour, and the
columns kept out of learning, pre-filled from the core's leakage rule (``data.leakage.label_exclusions``).

Not a page. Widget values start from the catalog's choices and write back to it, so they survive page
switches (the catalog lives in session state; keyed widget state does not).
"""
from __future__ import annotations

import streamlit as st

from pages._cache import cached_twins
from pages._catalogs import CatalogState
from pages._text import md
from product_repr.data.leakage import label_exclusions

NONE = "(none)"


def _twin_advice(twins: list[str], label: str) -> str:
    one = len(twins) == 1
    return (f"Each value of {', '.join(twins)} falls within a single '{label}'. If {'it is' if one else 'they are'} "
            f"part of the same taxonomy (like a subcategory), learning from {'it' if one else 'them'} gives the "
            f"label away and flatters the evaluation; if {'it is a genuine attribute' if one else 'they are genuine attributes'} "
            f"(like a brand), keep {'it' if one else 'them'}.")


def draw_label_and_exclusions(cat: CatalogState) -> None:
    """Label, colour and exclusion widgets for ``cat`` (keys ``data.label.<sha>`` …), and what the learner sees."""
    sha = cat.sha256[:12]
    columns = [str(c) for c in cat.df.columns]
    options = [NONE, *columns]
    label_key, colour_key, exclude_key = f"data.label.{sha}", f"data.colour.{sha}", f"data.exclude.{sha}"

    def on_label() -> None:
        new = st.session_state[label_key]
        new = None if new == NONE else new
        old = cat.label
        excl = [c for c in cat.exclude if c != old]
        excl += [c for c in label_exclusions(cat.df, new, schema=cat.schema) if c not in excl]
        cat.label = new
        if cat.colour in (None, old):
            cat.colour = new
            st.session_state[colour_key] = new or NONE
        cat.exclude = excl
        st.session_state[exclude_key] = excl

    # Widget values start from the catalog's choices (set before the widget exists, so no default is passed).
    st.session_state.setdefault(label_key, cat.label if cat.label in columns else NONE)
    st.session_state.setdefault(colour_key, cat.colour if cat.colour in columns else NONE)
    st.session_state.setdefault(exclude_key, [c for c in cat.exclude if c in columns])
    st.selectbox(
        "Label column (for evaluation)", options, key=label_key, on_change=on_label,
        help="A known grouping (e.g. category). Runs are scored by how often a product's nearest neighbours "
             "share its label (kNN precision), against raw-feature and PCA baselines. The label is never used "
             "as an input, nor are columns named after it that pin it down (a subcategory).")
    colour = st.selectbox("Colour column (for the map)", options, key=colour_key,
                          help="The Map page colours points by this column first (you can change it there).")
    cat.colour = None if colour == NONE else colour
    exclude = st.multiselect(
        "Exclude from learning", columns, key=exclude_key,
        help="Columns the learner never sees. The label is excluded by default, otherwise the embedding simply "
             "learns the answer it is scored against.")
    cat.exclude = list(exclude)
    if cat.label is not None and cat.label not in cat.exclude:
        st.warning(f"The label '{md(cat.label)}' is not excluded: training will still leave it out, since learning "
                   "from the label would make its evaluation meaningless.")
    twins = [c for c in cached_twins(cat, cat.label) if c not in cat.exclude]
    if twins:
        st.info(md(_twin_advice(twins, cat.label)))

        def add_twins() -> None:
            cat.exclude = [*cat.exclude, *twins]
            st.session_state[exclude_key] = list(cat.exclude)

        st.button(f"Exclude {md(', '.join(twins))}", key=f"data.twins.{sha}", on_click=add_twins)
    used = cat.schema.usable([*cat.exclude, *([cat.label] if cat.label else [])])
    st.caption(f"The learner will see {len(used)} column{'s' if len(used) != 1 else ''}: {md(', '.join(used)) or '—'}.")
    if not used:
        st.error("No column is left to learn from: give some columns a numeric, categorical or text role, or "
                 "exclude fewer.")
