"""Train: pick a learner, set it up with widgets drawn from its config, watch it learn, stop it any time."""
from __future__ import annotations

import uuid

import streamlit as st

from pages import _live as live, _replay as replay
from pages._run_summary import draw_losses, draw_progress, follow, loss_chart, summary
from pages._shell import ROOT, error_boundary, session_alive
from pages._state import JOB_KEY, LAST_RUN_KEY, collect_job, require_catalog, state
from pages._training_job import TrainingJob
from pages._widgets import current_values, draw_field, text_encoding
from pages._text import md
from product_repr import learners
from product_repr.compute import SERVER_GATE
from product_repr.errors import ProductReprError

# shared settings shown up front; the rest of LearnerConfig's fields go under "Training settings"
FRONT = ("embedding_dim", "steps", "max_seconds")
SHARED = {f.name for f in learners.config_fields(learners.LearnerConfig)}
POLL_S = 0.5  # how often the page looks at the job: a Stop click is answered within this
# While a job trains, its loss chart and the map forming are re-sent at most this often (the progress line at
# every check). Each re-sent chart costs the server a figure and a browser on the same machine a redraw, on the
# CPU the training needs (bench/browser_speed.py; docs/BENCHMARKS.md).
REDRAW_S = 4.0

st.title("Train")
app = state()
cat = require_catalog()
job: TrainingJob | None = st.session_state.get(JOB_KEY)

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
# only the settings the learner uses at its current choices are drawn (e.g. no margin under NT-Xent); the
# others keep their values for the config
values = current_values(learner, learners.config_fields(cls.Config))
specs = learners.visible_fields(cls.Config, values)
own = [s for s in specs if s.name not in SHARED]
front = [s for s in specs if s.name in FRONT]
rest = [s for s in specs if s.name in SHARED and s.name not in FRONT]
with error_boundary("drawing the settings"):
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
with error_boundary("drawing the text settings"):
    features = text_encoding([c for c in cat.schema.names("text") if c in columns], cat.df)

count = sum(1 for r in app.runs.values() if (r.info or {}).get("learner") == learner) + 1
name = st.text_input("Run name", value="", placeholder=f"{learner}-{count}", key="train.name",
                     help="Each training is kept as a named run; switch between runs in the sidebar.").strip()
st.caption(f"Trains on **{md(cat.name)}** ({len(cat.df):,} rows), "
           f"label {repr(cat.label) if cat.label else '—'}, excluded: {', '.join(cat.exclude) or 'none'}.")

busy = job is not None and job.running
go_col, stop_col = st.columns([1, 5])
clicked = go_col.button("Train", type="primary", icon=":material/play_arrow:", disabled=busy, key="train.go",
                        help="The server runs one training at a time on its CPU, for everyone using it: waiting "
                             "jobs go smallest first, a running one hands over at each of its checks (and every "
                             "1.5 s while it encodes texts), and none waits behind newer jobs for more than a "
                             "minute.")
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
        st.error(md(str(err)))
        st.stop()
    job = TrainingJob(name=name or f"{learner}-{count}", learner=learner, config=config, table=cat.df,
                      schema=cat.schema, exclude=list(cat.exclude), label=cat.label,
                      source=cat.df.attrs.get("source", cat.name), features=features,
                      owner=f"{name or f'{learner}-{count}'}@{st.session_state.setdefault('train.session', uuid.uuid4().hex[:8])}",
                      alive=session_alive())
    st.session_state[JOB_KEY] = job
    job.start()
    st.rerun()  # draw the Stop button for the running job

if job is not None and not job.collected:
    st.subheader(f"Run {md(job.name)}")
    bar, chart, status = st.empty(), st.empty(), st.empty()
    # Poll until the thread ends. A click (Stop, or anything else) reruns the script and ends this loop —
    # not the training, which lives in its own thread and is picked up again by the next run.
    forming_slot, live_slot = st.empty(), st.empty()
    drawn = {"checks": -1, "charted": -1, "map": 0, "forming": 0}

    def every_poll() -> None:
        drawn["checks"] = draw_progress(job, bar, status, drawn["checks"])
        drawn["map"] = live.draw_live_map(job, live_slot, drawn["map"])

    def charts() -> bool:
        before = drawn["charted"], drawn["forming"]
        drawn["charted"] = draw_losses(job, chart, drawn["charted"])
        drawn["forming"] = replay.draw_forming(job, forming_slot, drawn["forming"])
        return (drawn["charted"], drawn["forming"]) != before

    follow(job, every_poll, charts, poll_s=POLL_S, redraw_s=REDRAW_S)
    draw_progress(job, bar, status, drawn["checks"])
    if job.error:
        job.collected = True
        st.error(md(job.error))
    else:
        collect_job()
        st.rerun()  # so the sidebar lists the new run as active

last = app.runs.get(st.session_state.get(LAST_RUN_KEY, ""))
if last is not None:
    st.subheader(f"Run {md(last.name)}")
    if job is not None and job.run is last and job.stopped:
        st.info("Stopped early: the weights of the best check so far were kept and the run was analysed.")
    loss_chart(last)
    if job is not None and job.run is last:
        replay.replay_section(job)
    with error_boundary("summarising the run"):
        summary(last)
    if (ROOT / "pages" / "map.py").exists():
        st.page_link("pages/map.py", label="See it on the Map", icon=":material/scatter_plot:")
