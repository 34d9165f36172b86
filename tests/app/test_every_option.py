"""Every option of every select box and radio on every page is one the core accepts: choosing it draws the
page without an exception or error. Long data-driven lists (products, columns) are sampled evenly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pages import _catalogs, _state

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ["pages/data.py", "pages/train.py", "pages/map.py", "pages/neighbours.py", "pages/reconstruction.py",
         "pages/duplicates.py", "pages/compare.py", "pages/learn.py", "pages/runs.py"]
TIMEOUT = 120
MAX_OPTIONS = 8  # per widget; longer lists are sampled evenly, first and last included
SKIP = {"sidebar.run",  # switches the active run: covered by test_app's sidebar test
        "neighbours.product",  # a product picker (row numbers shown as titles): test_app_pages searches it
        "neighbours.pair"}  # the same, for a neighbour: test_app_pages picks one


def raw_values() -> dict[str, list]:
    """The values behind select boxes that show labels (format_func): AppTest sets them by value."""
    from product_repr.analysis import projection, search
    from product_repr.features import sentence
    from product_repr.features.space import AUTO, TFIDF

    return {"train.text_encoder": [AUTO, sentence.FAST_MODEL, TFIDF],
            "map.method": [m for m in projection.METHODS if m != "none"],
            "neighbours.meaning_space": list(search.SPACES)}


@pytest.fixture(scope="module")
def trained(one_torch_thread):
    from product_repr.data import demo
    from product_repr.pipeline import build_run

    table = demo.make_catalog(rows=200, seed=4)
    catalog = _catalogs.make_catalog(table.table, "demo (200 rows)", label="category", truth=table.truth)
    runs = {}
    for learner in ("multitask", "contrastive"):
        run = build_run(catalog.df, catalog.schema, learner=learner, config={"steps": 30, "seed": 0},
                        exclude=catalog.exclude, label=catalog.label, name=f"{learner}-options")
        runs[run.name] = run
    return catalog, runs


def fresh(catalog, runs, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[_state.STATE_KEY] = _state.AppState(
        catalog=catalog, runs=dict(runs), active=list(runs)[0],
        tables={name: catalog.df for name in runs}, labels={name: catalog.label for name in runs})
    at.run()
    at.switch_page(page).run()
    return at


def sample(options: list) -> list:
    if len(options) <= MAX_OPTIONS:
        return options
    picks = np.unique(np.linspace(0, len(options) - 1, MAX_OPTIONS).round().astype(int))
    return [options[i] for i in picks]


def problems(at: AppTest) -> list[str]:
    return [e.message for e in at.exception] + [e.value for e in at.error]


@pytest.mark.parametrize("page", PAGES)
def test_every_option_of_every_select_draws_the_page(trained, page):
    catalog, runs = trained
    at = fresh(catalog, runs, page)
    assert not problems(at), f"{page} before any choice: {problems(at)}"
    raw = raw_values()
    widgets = [(kind, w.key, raw.get(w.key, list(w.options))) for kind in ("selectbox", "radio")
               for w in getattr(at, kind) if w.key and w.key not in SKIP]
    assert widgets or page in ("pages/learn.py", "pages/runs.py", "pages/neighbours.py"), f"{page} has no select to try"
    tried = 0
    for kind, key, options in widgets:
        for option in sample(options):
            at = fresh(catalog, runs, page)
            widget = getattr(at, kind)(key=key)
            widget.set_value(option).run()  # a radio takes the label shown, a select box its value
            if any(b.label == "Apply" for b in at.button):  # a setting inside a form applies on submit
                next(b for b in at.button if b.label == "Apply").click().run()
            assert not problems(at), f"{page}: {key} = {option!r} gave {problems(at)}"
            tried += 1
    assert tried >= len(widgets)

