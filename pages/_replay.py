"""Watching a model learn: the map forming while it trains, and a replay through its snapshots afterwards.

Not a page. The snapshots come from ``product_repr.analysis.snapshots`` through the training job (a PCA
layout of up to 2,000 products' embeddings at every check, each turned to match the one before).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from pages._text import md


def colour_of(job) -> str | None:
    """The column the snapshots are coloured by: the label, else none."""
    return job.label if job.label and job.label in job.table.columns else None


def figure(job, index: int):
    """Snapshot ``index`` of ``job.replay`` as a scatter, on the same axes for every snapshot."""
    replay = job.replay
    step, coords = replay.frames[index]
    frame = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1]})
    colour = colour_of(job)
    if colour:
        frame[colour] = job.table[colour].astype("string").fillna("(missing)").iloc[replay.rows].to_numpy()
    allx = np.concatenate([c[:, 0] for _, c in replay.frames])
    ally = np.concatenate([c[:, 1] for _, c in replay.frames])
    fig = px.scatter(frame, x="x", y="y", color=colour, height=420, render_mode="webgl")
    fig.update_traces(marker={"size": 4, "opacity": 0.75})
    def pad(v: np.ndarray) -> tuple[float, float]:  # the middle 99% of every snapshot: a few outliers may leave
        lo, hi = np.quantile(v, [0.005, 0.995])
        return float(lo - 0.1 * (hi - lo)), float(hi + 0.1 * (hi - lo))

    fig.update_layout(margin={"l": 0, "r": 0, "t": 10, "b": 0}, xaxis={"visible": False, "range": pad(allx)},
                      yaxis={"visible": False, "range": pad(ally)}, legend={"title": colour})
    return fig


def caption(job, index: int) -> str:
    step, _ = job.replay.frames[index]
    n = len(job.replay.rows)
    where = "before training (the random initial encoder)" if step == 0 else \
        f"after step {step:,} of {job.replay.steps:,}"
    return (f"The embedding of {n:,} products {where}, drawn by PCA and turned to match the snapshot before"
            + (f"; colour: {colour_of(job)}" if colour_of(job) else "") + ".")


def draw_forming(job, slot, drawn: int) -> int:
    """While ``job`` trains: its newest snapshot into ``slot`` when there is a new one; returns the count drawn."""
    replay = job.replay
    if replay is None or len(replay.frames) == drawn:
        return drawn
    index = len(replay.frames) - 1
    with slot.container():
        st.markdown("**The map forming**")
        st.caption(md(caption(job, index)))
        st.plotly_chart(figure(job, index), key=f"train.forming.{index}")
    return len(replay.frames)


def replay_section(job) -> None:
    """After training: a slider through every snapshot of ``job``."""
    replay = job.replay
    if replay is None or len(replay.frames) < 2:
        return
    with st.expander("Watch it learn: replay the training", expanded=False):
        index = st.slider("Snapshot", 0, len(replay.frames) - 1, len(replay.frames) - 1, key="train.replay",
                          help="0 is the untrained encoder; each later snapshot is a training check.")
        st.caption(md(caption(job, index)))
        st.plotly_chart(figure(job, index), key="train.replay_map")
        st.caption("Train the same catalog with another learner and replay it to see how differently the "
                   "objectives organise it: an autoencoder spreads products by every column, a contrastive "
                   "learner pulls look-alikes together.")
