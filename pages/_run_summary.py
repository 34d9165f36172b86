"""A training seen on the Train page: its progress while it runs, and what the finished run took and achieved.

Not a page.
"""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from pages._state import run_label
from pages._widgets import format_seconds
from pages._text import md
from product_repr.analysis.report import QUALITY, baseline_verdict, knn_verdict, metrics_table


def follow(job, every_poll, charts, *, poll_s: float, redraw_s: float, clock=time.monotonic,
           sleep=time.sleep) -> None:
    """Until ``job.done``: ``every_poll()`` once every ``poll_s`` seconds, and ``charts()`` (what is costly to
    re-send; it returns whether it sent anything) at every poll until it sends, then at most once every
    ``redraw_s``: a chart appears as soon as it has something to show, and is then refreshed every few seconds."""
    next_chart = clock()
    while not job.done:
        every_poll()
        if clock() >= next_chart and charts():
            next_chart = clock() + redraw_s
        sleep(poll_s)


def draw_progress(job, bar, status, drawn: int = -1) -> int:
    """The progress bar when a check has ended since ``drawn``; the stage line every call.

    Returns the number of checks drawn. The stage line is the cheap st.* call of every poll that lets a click
    (Stop) interrupt the polling.
    """
    count = len(job.reports)
    if count != drawn:
        if count:
            last = job.reports[count - 1]
            bar.progress(min(1.0, last.step / max(1, last.steps)), text=progress_text(last))
        else:
            bar.progress(0.0, text="preparing")
    ahead = job.position
    queue = (f" · waiting for the CPU: {ahead} job{'s' if ahead != 1 else ''} ahead (smallest first)"
             if ahead else "")
    status.caption(f"{job.stage} · {format_seconds(job.seconds)}{queue}")
    return count


def draw_losses(job, chart, drawn: int = -1) -> int:
    """The loss chart so far, re-sent only when a check has ended since ``drawn``; returns the checks drawn
    (``drawn`` while there is no line to draw yet)."""
    count = len(job.reports)
    if count == drawn:
        return drawn
    history = job.history()
    if len(history) < 2:  # a line needs two points
        return drawn
    chart.line_chart(history.set_index("step"), x_label="step", y_label="loss", height=260)
    return count


def progress_text(report) -> str:
    """The progress bar's line for a training check: step, losses, best step and, while steps remain, the
    time left at the pace so far (early stopping may end the run sooner)."""
    text = (f"step {report.step:,} of {report.steps:,} (epoch {report.epoch:.1f}) · train loss "
            f"{report.train_loss:.4f}"
            + (f" · validation {report.val_loss:.4f}" if report.val_loss is not None else "")
            + f" · best at step {report.best_step:,}")
    if 0 < report.step < report.steps and report.elapsed > 0:
        left = report.elapsed / report.step * (report.steps - report.step)
        text += f" · training ends in about {format_seconds(left)}"
    return text


def loss_chart(run) -> None:
    """The run's losses per check (step, or epoch for runs saved before steps were counted)."""
    history = run.history
    if history is None or len(history) < 2 or "train_loss" not in history:
        return
    index = "step" if "step" in history else "epoch"
    plot = history.set_index(index)[[c for c in history.columns if c.endswith("_loss") and history[c].notna().any()]]
    st.line_chart(plot.rename(columns=lambda c: c.removesuffix("_loss")), x_label=index, y_label="loss", height=260)


def summary(run) -> None:
    """What a finished run took and achieved: time, final losses, quality against the baselines."""
    info = run.info or {}
    timings = info.get("timings", {})
    history = run.history if run.history is not None else pd.DataFrame()
    total = sum(v for v in timings.values() if isinstance(v, (int, float)))
    cols = st.columns(4)
    cols[0].metric("Total time", format_seconds(total), help="features + training + analysis")
    if "step" in history and len(history):
        cols[1].metric("Steps", f"{int(history['step'].iloc[-1]):,}",
                       help=f"optimiser steps taken ({history['epoch'].iloc[-1]:.1f} passes over the data)")
    else:
        cols[1].metric("Epochs", len(history))
    if not history.empty and "train_loss" in history:
        cols[2].metric("Final train loss", f"{history['train_loss'].iloc[-1]:.4f}")
        if "val_loss" in history and history["val_loss"].notna().any():
            cols[3].metric("Best validation loss", f"{history['val_loss'].min():.4f}",
                           help="the weights kept are those of the check with the best validation loss")
    if timings:
        st.caption(" · ".join(f"{k.removesuffix('_s')} {format_seconds(v)}" for k, v in timings.items()
                              if isinstance(v, (int, float))))
    used = (info.get("features") or {}).get("text_encoder_used")
    if used:
        st.caption("Text encoding: " + ("TF-IDF only" if used == "tfidf" else f"pretrained {used} + TF-IDF"))
    twins = (info.get("data") or {}).get("twins_excluded")
    if twins:
        st.caption(f"Excluded automatically as twins of the label: {md(', '.join(twins))}.")
    label = run_label(run)
    table = metrics_table([run]).set_index("name")[list(QUALITY)]
    if label is not None and table.notna().any().any():
        st.markdown(f"**Quality against the label '{md(label)}'** (higher is better; *raw features* = the encoded "
                    "input, *PCA* = PCA of it to the same size; with a pretrained text model, *sentence encoder* = "
                    "its vectors of the text columns alone and beside the other raw features: what you would use "
                    "without learning)")
        # formatted as text: st.dataframe shows a missing number as "None" whatever the Styler says
        st.dataframe(table.T.map(lambda v: "—" if pd.isna(v) else f"{v:.3f}"), width="stretch")
        verdict = knn_verdict(run.metrics or {})
        if verdict:
            best = baseline_verdict(run.metrics or {})
            st.caption(f"kNN precision (share of each product's 10 nearest neighbours with its label): the "
                       f"learned embedding is {verdict}" + (f", and {best}" if best and "PCA (" not in best else "")
                       + ".")
    elif label is None:
        st.caption("Choose a label column on the Data page to score runs against the raw and PCA baselines.")
