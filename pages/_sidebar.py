"""The sidebar drawn on every page: the current catalog and the active run, switchable among the session's runs.

Not a page; app.py calls :func:`sidebar` before the page runs.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from pages._state import JOB_KEY, collect_job, state
from pages._text import md

RUN_KEY = "sidebar.run"
SYNCED_KEY = "sidebar.synced"  # the active run the widget last showed (a key no widget owns)


def sidebar() -> None:
    """Current catalog (name, rows × columns, label) and the active run; keeps a finished training's run."""
    app = state()
    collect_job()
    with st.sidebar:
        st.markdown("**Catalog**")
        if app.catalog is None:
            st.caption("none loaded — see the Data page")
        else:
            cat = app.catalog
            st.caption(f"{md(cat.name)}  \n{len(cat.df):,} rows × {len(cat.df.columns)} columns  \n"
                       f"label: {cat.label or '—'}")
        st.markdown("**Run**")
        job = st.session_state.get(JOB_KEY)
        if job is not None and job.running:
            st.caption(f"training {md(job.name)}… (progress on the Train page)")
        if not app.runs:
            st.caption("none yet — train one on the Train page")
            return
        names = list(app.runs)
        if app.active not in app.runs:
            app.active = names[-1]
        # The widget key holds the choice; sync it with AppState both ways so a new run shows as active.
        if st.session_state.get(RUN_KEY) not in names or st.session_state.get(SYNCED_KEY) != app.active:
            st.session_state[RUN_KEY] = app.active
        choice = st.selectbox("Active run", names, key=RUN_KEY, help="the run the Map, Neighbours, "
                              "Reconstruction and Runs pages show")
        app.active = choice
        st.session_state[SYNCED_KEY] = choice
        run = app.runs[choice]
        Z = np.asarray(run.embeddings)
        dim = int(Z.shape[1]) if Z.ndim == 2 else 0
        st.caption(f"{(run.info or {}).get('learner', '?')} · {len(run.product_ids):,} products · d = {dim}")
