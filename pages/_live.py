"""A running training job seen from any page: its newest map (draft, then the run's own) and a poll that
reruns the app the moment the run is finished, so the Map page shows the finished run as soon as it exists."""
from __future__ import annotations

import plotly.express as px
import streamlit as st

from pages._state import JOB_KEY
from pages._text import md

POLL_S = 1.0


def live_map_figure(frame):
    """A light WebGL scatter of a map frame (product_id, x, y) with the axes hidden."""
    fig = px.scatter(frame, x="x", y="y", hover_name="product_id", height=420, render_mode="webgl")
    fig.update_traces(marker={"size": 4, "opacity": 0.7})
    fig.update_layout(margin={"l": 0, "r": 0, "t": 10, "b": 0})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def caption(job) -> str:
    """What the newest map of ``job`` is, in words."""
    if job.map_info.get("kind") == "final":
        return "The learned map; reconstruction errors and quality metrics are being computed."
    return job.map_info.get("note") or ""


def draw_live_map(job, slot, drawn: int) -> int:
    """Draw the job's newest map into ``slot`` when it changed since ``drawn`` (an id); returns the new id."""
    frame = job.map
    if frame is None or id(frame) == drawn:
        return drawn
    with slot.container():
        st.caption(md(caption(job)))
        st.plotly_chart(live_map_figure(frame), key=f"live_map.{id(frame)}")
    return id(frame)


def running_job():
    """This session's training job while it runs, else None."""
    job = st.session_state.get(JOB_KEY)
    return job if job is not None and not job.done else None


def watch_job(*, show_map: bool) -> None:
    """While this session trains: a status line (and with ``show_map`` the newest map), refreshed every second;
    when the job ends the whole app reruns, so the sidebar collects the run and the page shows it."""
    job = running_job()
    if job is None:
        return

    @st.fragment(run_every=POLL_S)
    def poll() -> None:
        if job.done:
            st.rerun(scope="app")
        ahead = job.position
        queue = f" — waiting for the CPU, {ahead} job{'s' if ahead != 1 else ''} ahead" if ahead else ""
        st.info(f"Training **{job.name}**: {job.stage}{queue}. This page shows the run as soon as it is "
                "finished.", icon=":material/hourglass_top:")
        if show_map and job.map is not None:
            st.caption(md(caption(job)))
            st.plotly_chart(live_map_figure(job.map), key="live_map.watch")

    poll()
