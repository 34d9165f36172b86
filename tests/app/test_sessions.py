"""pages/_sessions.py: a closed tab's state is let go once Streamlit could no longer resume it."""
from __future__ import annotations

import numpy as np
import pytest

from pages import _catalogs, _memory, _sessions, _state


@pytest.fixture(scope="module")
def tiny_run_and_catalog():
    from product_repr.pipeline import build_run

    catalog = _catalogs.load_demo(rows=120, seed=3)
    run = build_run(catalog.df, catalog.schema, learner="autoencoder", label=catalog.label, exclude=catalog.exclude,
                    config={"epochs": 2, "width": 16, "embedding_dim": 4, "seed": 0},
                    features={"text_encoder": "tfidf"}, analysis=False)
    return run, catalog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_gone_long_enough_is_emptied_and_forgotten_and_a_connected_one_is_kept():
    connected = {"a": True, "b": True}
    clock = Clock()
    sessions = _sessions.Sessions(lambda sid: connected[sid], after_s=60, clock=clock)
    states = {"a": {"app": np.zeros(1000), "other": 1}, "b": {"app": np.zeros(10)}}
    for sid, state in states.items():
        sessions.register(sid, state, lambda s: sum(v.nbytes for v in s.values() if hasattr(v, "nbytes")))
    assert sessions.sweep() == [] and len(sessions) == 2

    connected["a"] = False  # tab a closes
    clock.now = 30
    assert sessions.sweep() == [], "gone since t=30"
    clock.now = 80
    assert sessions.sweep() == [], "50 s gone: Streamlit could still resume it"
    clock.now = 91
    assert sessions.sweep() == [("a", 8000)]
    assert states["a"] == {} and len(sessions) == 1, "everything the session kept is let go"
    assert states["b"]["app"].shape == (10,), "the connected session keeps its state"


def test_a_session_that_comes_back_starts_its_count_over():
    connected = {"a": False}
    clock = Clock()
    sessions = _sessions.Sessions(lambda sid: connected[sid], after_s=60, clock=clock)
    state = {"app": "catalog"}
    sessions.register("a", state, lambda s: 1)
    sessions.sweep()
    clock.now = 50
    connected["a"] = True  # a reconnect within the time Streamlit resumes sessions
    sessions.sweep()
    connected["a"] = False
    clock.now = 100
    assert sessions.sweep() == [] and state == {"app": "catalog"}, "gone for 0 s at t=100, not 100 s"
    clock.now = 161
    assert sessions.sweep() == [("a", 1)] and state == {}


def test_the_release_waits_longer_than_streamlit_resumes_a_session(monkeypatch):
    from streamlit import config

    monkeypatch.delenv("PRODUCT_REPR_RELEASE_S", raising=False)
    assert _sessions.release_after_s() > float(config.get_option("server.disconnectedSessionTTL"))
    monkeypatch.setenv("PRODUCT_REPR_RELEASE_S", "3")
    assert _sessions.release_after_s() == 3.0


def test_a_session_state_is_measured_by_its_catalog_runs_and_unfinished_job(tiny_run_and_catalog):
    run, catalog = tiny_run_and_catalog
    app = _state.AppState(catalog=catalog, runs={run.name: run}, tables={run.name: catalog.df})
    alone = _memory.session_bytes(app)
    assert alone == _memory.run_bytes(run) + int(catalog.df.memory_usage(deep=True, index=True).sum()), \
        "the run's table is the catalog itself: counted once"

    class Job:
        collected, table, run = False, catalog.df.copy(), None

    total = _memory.state_bytes({_state.STATE_KEY: app, _state.JOB_KEY: Job()})
    assert total == alone + int(Job.table.memory_usage(deep=True, index=True).sum())
    assert _memory.state_bytes({}) == 0
