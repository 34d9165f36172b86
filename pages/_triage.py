"""Triage: a person checks a flagged product or pair against the catalog and marks it.

Not a page. Marks live in this session's :class:`~pages._state.AppState` (``marks``, per run name), start
from the run's own ``marks.csv`` when it has one, and leave with the run: the Runs page's run-directory zip
carries them, and :func:`download_marks` offers them alone.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from pages._runview import RunView
from pages._state import state
from pages._text import md
from product_repr import export, findings
from product_repr.errors import ProductReprError

UNMARKED = "not checked"


def marks(run) -> dict:
    """This session's marks of ``run`` ({(kind, product_a, product_b): mark}), read once from ``run.marks``."""
    app = state()
    if run.name not in app.marks:
        try:
            app.marks[run.name] = findings.marks_from_frame(run.marks)
        except ProductReprError as err:
            st.warning(f"The run's marks could not be read ({md(err)}); starting with none.")
            app.marks[run.name] = {}
    return app.marks[run.name]


def mark_of(run, kind: str, a: str, b: str = "") -> str:
    return marks(run).get((kind, str(a), str(b)), UNMARKED)


def mark_control(run, kind: str, a: str, b: str = "") -> str:
    """A row of choices (not checked / one mark / the other) for one product or pair; returns its mark."""
    key = f"triage.{kind}.{a}.{b}"
    ours = marks(run)
    options = [UNMARKED, *findings.MARKS[kind]]

    def keep() -> None:
        value = st.session_state[key]
        if value in findings.MARKS[kind]:
            ours[(kind, str(a), str(b))] = value
        else:
            ours.pop((kind, str(a), str(b)), None)

    current = mark_of(run, kind, a, b)
    st.radio("Your mark", options, index=options.index(current), horizontal=True, key=key, on_change=keep)
    return mark_of(run, kind, a, b)


def with_marks(run) -> object:
    """``run`` with this session's marks as its ``marks`` frame (for saving or zipping it)."""
    frame = findings.marks_frame(marks(run))
    return dataclasses.replace(run, marks=frame if len(frame) else None)


def download_marks(run, key: str) -> None:
    """How many marks there are and a download of them (marks.csv)."""
    frame = findings.marks_frame(marks(run))
    counts = frame["mark"].value_counts()
    said = ", ".join(f"{n} {m}" for m, n in counts.items()) or "none yet"
    st.caption(f"Your marks on this run: {said}. They travel with the run's zip on the **Runs** page.")
    st.download_button("Download marks (CSV)", export.csv_bytes(frame), file_name=f"{run.name}-marks.csv",
                       mime="text/csv", key=key, disabled=not len(frame), icon=":material/download:")


def side_by_side(view: RunView, product_ids: list[str], names: list[str] | None = None) -> pd.DataFrame | None:
    """The catalog values of ``product_ids`` as columns (one per product), one row per catalog column."""
    if view.rows is None:
        return None
    found = view.rows.reindex([str(p) for p in product_ids])
    table = found.T.astype("string").fillna("—")
    table.columns = names or [str(p) for p in product_ids]
    return table.reset_index(names="column")
