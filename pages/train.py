"""Train: pick a learner, set it up with widgets drawn from its config, watch it learn, stop it any time."""
from __future__ import annotations

import dataclasses
import time
import uuid

import pandas as pd
import streamlit as st

from pages import _live as live, _ui
from pages._training_job import TrainingJob
from product_repr import learners
from product_repr.features import sentence
from product_repr.compute import SERVER_GATE
from product_repr.errors import ProductReprError
from product_repr.features.space import AUTO, TFIDF
from product_repr.features.text import clean_texts

# shared settings shown up front; the rest of LearnerConfig's fields go under "Training settings"
FRONT = ("embedding_dim", "steps", "max_seconds")
SHARED = {f.name for f in learners.config_fields(learners.LearnerConfig)}
POLL_S = 0.25


def draw_field(learner: str, spec, columns: list[str]):
    """One widget for one config field (slider, select_slider on a log grid, select, checkbox, multiselect).

    The value chosen last is remembered outside the widget (Streamlit forgets a widget's state when its page
    is left), so settings survive a visit to another page.
    """
    key = f"train.{learner}.{spec.name}"
    saved = st.session_state.setdefault("train.saved", {}).setdefault(learner, {})
    if spec.name in saved:
        spec = dataclasses.replace(spec, default=saved[spec.name])
    value = _widget(key, spec, columns)
    saved[spec.name] = value
    return value


def text_encoding(text_columns: list[str], table: pd.DataFrame | None = None) -> dict:
    """The text-encoding choice as FeatureSpace settings (remembered across pages); {} keeps the default."""
    installed = sentence.available()
    if not text_columns:
        return {}
    options = [AUTO] if sentence.DEFAULT_MODEL in installed else []
    options += [sentence.FAST_MODEL] if sentence.FAST_MODEL in installed else []
    options.append(TFIDF)
    titles = {AUTO: f"Pretrained sentence encoder + TF-IDF ({sentence.DEFAULT_MODEL})",
              sentence.FAST_MODEL: f"Fast static sentence vectors + TF-IDF ({sentence.FAST_MODEL})",
              TFIDF: "TF-IDF only (word and character n-grams)"}
    saved = st.session_state.setdefault("train.saved", {}).setdefault("_features", {})
    current = saved.get("text_encoder", options[0])
    choice = st.selectbox(
        "Text encoding", options, index=options.index(current) if current in options else 0,
        format_func=titles.get, key="train.text_encoder",
        help="How titles and descriptions become numbers before the learner sees them. The pretrained encoder "
             "(shipped with the package, nothing is downloaded) knows that 'banana' and 'apple' are both fruit; "
             "it raised 10-NN precision by 0.015-0.10 on every real catalog measured (docs/QUALITY.md). Texts "
             "this server has encoded before come from its cache. The fast static vectors (a distilled copy of "
             "the same model) encode 100x faster but keep less meaning (0.02-0.05 lower 10-NN precision); "
             "TF-IDF only is the fastest.")
    saved["text_encoder"] = choice
    model = sentence.DEFAULT_MODEL if choice == AUTO else choice
    if choice != TFIDF and table is not None:
        texts = [t for c in text_columns for t in clean_texts(table[c])]
        seconds = sentence.estimate_seconds(texts, model)
        if seconds >= 5:
            st.caption(f"Encoding this catalog's new texts with the pretrained model takes about "
                       f"{_ui.format_seconds(seconds)} on two CPU cores; a draft map is shown meanwhile, and "
                       "later trainings (yours or anyone's on this server) reuse the encodings.")
    if sentence.DEFAULT_MODEL not in installed:
        st.caption("No pretrained sentence encoder is installed; `pip install -r requirements.txt` adds one.")
    return {"text_encoder": choice}


def _widget(key: str, spec, columns: list[str]):
    label = spec.name.replace("_", " ")
    helptext = spec.help or None
    if spec.kind == "bool":
        return st.checkbox(label, value=bool(spec.default), key=key, help=helptext)
    if spec.kind == "choice":
        choices = list(spec.choices)
        return st.selectbox(label, choices, index=choices.index(spec.default), key=key, help=helptext)
    if spec.kind == "columns":
        return tuple(st.multiselect(label, columns, default=[c for c in spec.default if c in columns], key=key,
                                    help=helptext))
    low, high = spec.low, spec.high
    if spec.kind == "int":
        if spec.log:
            grid = _ui.log_grid(low, high, spec.default, integer=True)
            return int(st.select_slider(label, grid, value=spec.default, key=key, help=helptext))
        if low is None or high is None or (high - low) / (spec.step or 1) > 400:  # too fine for a slider
            return int(st.number_input(label, min_value=None if low is None else int(low),
                                       max_value=None if high is None else int(high), value=int(spec.default),
                                       step=int(spec.step or 1), key=key, help=helptext))
        return int(st.slider(label, int(low), int(high), int(spec.default), step=int(spec.step or 1), key=key,
                             help=helptext))
    # float
    if spec.log and low is not None and high is not None:
        grid = _ui.log_grid(low, high, spec.default)
        return float(st.select_slider(label, grid, value=spec.default, key=key, help=helptext,
                                      format_func=lambda v: f"{v:g}"))
    if spec.step is None or low is None or high is None:
        return float(st.number_input(label, min_value=low, max_value=high, value=float(spec.default),
                                     step=float(spec.step or (spec.default or 1e-3) / 2 or 1e-3), format="%g",
                                     key=key, help=helptext))
    return float(st.slider(label, float(low), float(high), float(spec.default), step=float(spec.step), key=key,
                           help=helptext))


def draw_progress(job: TrainingJob, bar, chart, status, drawn: int = -1) -> int:
    """Progress bar and loss chart when a check has ended since ``drawn``; the stage line every call.

    Returns the number of checks drawn. The stage line is the cheap st.* call of every poll that lets a click
    (Stop) interrupt the polling; the chart is only re-sent when it has changed.
    """
    count = len(job.reports)
    if count != drawn:
        if count:
            last = job.reports[count - 1]
            bar.progress(min(1.0, last.step / max(1, last.steps)),
                         text=f"step {last.step:,} of {last.steps:,} (epoch {last.epoch:.1f}) · train loss "
                              f"{last.train_loss:.4f}"
                              + (f" · validation {last.val_loss:.4f}" if last.val_loss is not None else "")
                              + f" · best at step {last.best_step:,}")
        else:
            bar.progress(0.0, text="preparing")
        history = job.history()
        if len(history) >= 2:  # a line needs two points
            chart.line_chart(history.set_index("step"), x_label="step", y_label="loss", height=260)
    ahead = job.position
    queue = (f" · waiting for the CPU: {ahead} job{'s' if ahead != 1 else ''} ahead (smallest first)"
             if ahead else "")
    status.caption(f"{job.stage} · {_ui.format_seconds(job.seconds)}{queue}")
    return count


def summary(run) -> None:
    """What a finished run took and achieved: time, final losses, quality against the baselines."""
    info = run.info or {}
    timings = info.get("timings", {})
    history = run.history if run.history is not None else pd.DataFrame()
    total = sum(v for v in timings.values() if isinstance(v, (int, float)))
    cols = st.columns(4)
    cols[0].metric("Total time", _ui.format_seconds(total), help="features + training + analysis")
    if "step" in history and len(history):
        cols[1].metric("Steps", f"{int(history['step'].iloc[-1]):,}",
                       help=f"optimiser steps taken ({history['epoch'].iloc[-1]:.1f} passes over the data)")
    else:
        cols[1].metric("Epochs", len(history))
    if not history.empty and "train_loss" in history:
        cols[2].metric("Final train loss", f"{history['train_loss'].iloc[-1]:.4f}")
        if "val_loss" in history and history["val_loss"].notna().any():
            best = history["val_loss"].min()
            cols[3].metric("Best validation loss", f"{best:.4f}",
                           help="the weights kept are those of the check with the best validation loss")
    if timings:
        st.caption(" · ".join(f"{k.removesuffix('_s')} {_ui.format_seconds(v)}" for k, v in timings.items()
                              if isinstance(v, (int, float))))
    used = (info.get("features") or {}).get("text_encoder_used")
    if used:
        st.caption("Text encoding: " + ("TF-IDF only" if used == TFIDF else f"pretrained {used} + TF-IDF"))
    table = _ui.metrics_table(run.metrics)
    label = _ui.run_label(run)
    if not table.empty:
        st.markdown(f"**Quality against the label '{label}'** (higher is better; *raw* = the encoded features, "
                    "*pca* = PCA of them to the same size)")
        names = {"knn_precision@10": "kNN precision@10", "linear_probe_accuracy": "linear probe accuracy"}
        table = table.rename(index=lambda k: names.get(k, k.replace("_", " ")))
        # formatted as text: st.dataframe shows a missing number as "None" whatever the Styler says
        st.dataframe(table.map(lambda v: "—" if pd.isna(v) else f"{v:.3f}"), width="stretch")
        knn = run.metrics.get("knn_precision@10") or next(
            (v for k, v in run.metrics.items() if k.startswith("knn_precision") and isinstance(v, dict)), None)
        if isinstance(knn, dict) and knn.get("model") is not None and knn.get("pca") is not None:
            gain = knn["model"] - knn["pca"]
            verdict = "better than" if gain > 0.01 else ("no better than" if gain > -0.01 else "worse than")
            st.caption(f"kNN precision: the learned embedding is {verdict} PCA ({knn['model']:.3f} vs "
                       f"{knn['pca']:.3f}).")
    elif label is None:
        st.caption("Choose a label column on the Data page to score runs against the raw and PCA baselines.")


st.title("Train")
app = _ui.state()
cat = _ui.require_catalog()
job: TrainingJob | None = st.session_state.get(_ui.JOB_KEY)

names = list(learners.REGISTRY)
default = getattr(learners, "DEFAULT", names[0])
learner = st.radio(
    "Learner", names, index=names.index(default) if default in names else 0, horizontal=True, key="train.learner",
    format_func=lambda n: learners.REGISTRY[n].title,
    help="Start with multi-task (the default): it rebuilds rows, so it scores how unusual each product is, and "
         "learns from each product's nearest neighbours, which gave the best neighbours on the real catalogs "
         "measured (docs/QUALITY.md). The Learn page explains each objective.",
)
cls = learners.get(learner)
st.markdown(f"**{cls.title}** — {cls.description}")
if learner != default and default in learners.REGISTRY:
    st.caption(f"New here? Start with {learners.REGISTRY[default].title.lower()}: with default settings it beat "
               "raw features, PCA and TF-IDF on every real catalog measured, and it scores how unusual each "
               "product is (docs/QUALITY.md).")

columns = [c for c in cat.schema.names() if c not in cat.exclude]
specs = learners.config_fields(cls.Config)
values = {}
own = [s for s in specs if s.name not in SHARED]
front = [s for s in specs if s.name in FRONT]
rest = [s for s in specs if s.name in SHARED and s.name not in FRONT]
with _ui.error_boundary("drawing the settings"):
    left, right = st.columns(2, gap="large")
    with left:
        for spec in front:
            values[spec.name] = draw_field(learner, spec, columns)
    with right:
        for spec in own:
            values[spec.name] = draw_field(learner, spec, columns)
    with st.expander("Training settings (encoder shape, optimiser, early stopping, seed)"):
        a, b = st.columns(2, gap="large")
        for i, spec in enumerate(rest):
            with a if i % 2 == 0 else b:
                values[spec.name] = draw_field(learner, spec, columns)



features: dict = {}
with _ui.error_boundary("drawing the text settings"):
    features = text_encoding([c for c in cat.schema.names("text") if c in columns], cat.df)

count = sum(1 for r in app.runs.values() if (r.info or {}).get("learner") == learner) + 1
name = st.text_input("Run name", value="", placeholder=f"{learner}-{count}", key="train.name",
                     help="Each training is kept as a named run; switch between runs in the sidebar.").strip()
st.caption(f"Trains on **{cat.name}** ({len(cat.df):,} rows), "
           f"label {repr(cat.label) if cat.label else '—'}, excluded: {', '.join(cat.exclude) or 'none'}.")

busy = job is not None and job.running
go_col, stop_col = st.columns([1, 5])
clicked = go_col.button("Train", type="primary", icon=":material/play_arrow:", disabled=busy, key="train.go",
                        help="The server runs one training at a time on its CPU, for everyone using it: waiting "
                             "jobs go smallest first, a running one hands over at each of its checks, and none "
                             "waits behind newer jobs for more than a minute.")
others = [owner for owner, _ in SERVER_GATE.queue() if owner != (job.owner if job else None)]
if others and not busy:
    stop_col.caption(f"The server's CPU is busy with {len(others)} other job{'s' if len(others) != 1 else ''}; "
                     "yours will wait its turn (smallest jobs first).")
if busy:
    stop_col.button("Stop", icon=":material/stop:", key="train.stop", on_click=job.stop.set,
                    help="Stop at the next check (a twentieth of the run), keep the best weights so far, and analyse the run.")

if clicked and not busy:
    try:
        config = cls.Config.from_dict(values)
    except ProductReprError as err:
        st.error(str(err))
        st.stop()
    job = TrainingJob(name=name or f"{learner}-{count}", learner=learner, config=config, table=cat.df,
                      schema=cat.schema, exclude=list(cat.exclude), label=cat.label,
                      source=cat.df.attrs.get("source", cat.name), features=features,
                      owner=f"{name or f'{learner}-{count}'}@{st.session_state.setdefault('train.session', uuid.uuid4().hex[:8])}")
    st.session_state[_ui.JOB_KEY] = job
    job.start()
    st.rerun()  # draw the Stop button for the running job

if job is not None and not job.collected:
    st.subheader(f"Run {job.name}")
    bar, chart, status = st.empty(), st.empty(), st.empty()
    # Poll until the thread ends. A click (Stop, or anything else) reruns the script and ends this loop —
    # not the training, which lives in its own thread and is picked up again by the next run.
    live_slot = st.empty()
    drawn, drawn_map = -1, 0
    while not job.done:
        drawn = draw_progress(job, bar, chart, status, drawn)
        drawn_map = live.draw_live_map(job, live_slot, drawn_map)
        time.sleep(POLL_S)
    draw_progress(job, bar, chart, status, drawn)
    if job.error:
        job.collected = True
        st.error(job.error)
    else:
        _ui.collect_job()
        st.rerun()  # so the sidebar lists the new run as active

last = app.runs.get(st.session_state.get(_ui.LAST_RUN_KEY, ""))
if last is not None:
    st.subheader(f"Run {last.name}")
    if job is not None and job.run is last and job.stopped:
        st.info("Stopped early: the weights of the best check so far were kept and the run was analysed.")
    history = last.history
    if history is not None and len(history) >= 2 and "train_loss" in history:
        index = "step" if "step" in history else "epoch"  # runs saved before steps were counted
        plot = history.set_index(index)[[c for c in history.columns if c.endswith("_loss")
                                         and history[c].notna().any()]]
        st.line_chart(plot.rename(columns=lambda c: c.removesuffix("_loss")), x_label=index, y_label="loss",
                      height=260)
    with _ui.error_boundary("summarising the run"):
        summary(last)
    if (_ui.ROOT / "pages" / "map.py").exists():
        st.page_link("pages/map.py", label="See it on the Map", icon=":material/scatter_plot:")
