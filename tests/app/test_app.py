"""AppTest of the dashboard shell and the Data, Train, Learn and Runs pages, driven through app.py.

Covers: every page runs without exception with and without a run; the demo catalog is there on arrival; an
upload → role change → train → map path through the widgets; a broken upload keeps the previous catalog and
runs; Stop keeps what was learned; run directories open from the server's runs folder and download whole.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]

from streamlit.testing.v1 import AppTest  # noqa: E402

from product_repr import export, library  # noqa: E402
from pages import _catalogs, _state  # noqa: E402
from pages._training_job import TrainingJob  # noqa: E402
from product_repr import learners  # noqa: E402

APP = str(ROOT / "app.py")
MY_PAGES = ["pages/data.py", "pages/train.py", "pages/learn.py", "pages/runs.py"]
TIMEOUT = 180  # a first UMAP fit in a process compiles numba code (~25 s on a 2-core CPU)
TINY = {"epochs": 3, "width": 32, "seed": 0}


def catalog_csv(rows: int = 120) -> bytes:
    """A small catalog with an id, a title, a number and two categories (shape follows a real upload)."""
    rng = np.random.default_rng(0)
    kinds = np.array(["shirt", "shoe", "lamp"])[rng.integers(0, 3, rows)]
    frame = pd.DataFrame({
        "sku": [f"S{i:04d}" for i in range(rows)],
        "title": [f"{k.title()} model {i}" for i, k in enumerate(kinds)],
        "price": np.round(rng.lognormal(3, 1, rows), 2),
        "kind": kinds,
        "shop": np.array(["north", "south"])[rng.integers(0, 2, rows)],
    })
    return frame.to_csv(index=False).encode()


def set_setting(at: AppTest, key: str, value) -> None:
    """Set a Train page setting whichever widget draws it (slider, number input, select slider)."""
    for widgets in (at.slider, at.number_input, at.select_slider):
        matches = [w for w in widgets if w.key == key]
        if matches:
            matches[0].set_value(value)
            return
    raise AssertionError(f"no widget with key {key!r} on the page")


def errors_of(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


pytestmark = pytest.mark.usefixtures("navigation_as_on_a_server")


def assert_clean(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: exception shown: {[e.value for e in at.exception]}"
    assert not errors_of(at), f"{where}: error shown: {errors_of(at)}"




@pytest.fixture(scope="module")
def trained(one_torch_thread):
    """The 200-row demo catalog and one tiny denoising run on it."""

    from product_repr.pipeline import build_run

    catalog = _catalogs.load_demo(rows=200, seed=0)
    run = build_run(catalog.df, catalog.schema, learner="denoising", config=TINY, exclude=catalog.exclude,
                    label=catalog.label, name="denoising-test")
    return catalog, run


def app_with(catalog, runs: dict) -> AppTest:
    """An AppTest whose session already holds ``catalog`` and ``runs``, the last one active."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[_state.STATE_KEY] = _state.AppState(
        catalog=catalog, runs=dict(runs), active=list(runs)[-1] if runs else None,
        tables={n: catalog.df for n in runs}, labels={n: catalog.label for n in runs})
    return at


# --- arrival and every page ---------------------------------------------------------------------------------


def test_app_opens_on_the_demo_catalog_with_its_label_excluded():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert_clean(at, "Data page on arrival")
    catalog = at.session_state[_state.STATE_KEY].catalog
    assert catalog is not None and catalog.name.startswith(_catalogs.DEMO_NAME), "the app must open on the demo catalog"
    assert catalog.label == "category", f"demo label should be 'category', got {catalog.label!r}"
    assert {"category", "subcategory"} <= set(catalog.exclude), f"label and its twin not excluded: {catalog.exclude}"
    assert catalog.truth and "anomalies" in catalog.truth, "the demo's planted truth should be kept"
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert f"{len(catalog.df):,} rows" in sidebar, f"sidebar should show the catalog size: {sidebar!r}"
    assert at.data_editor, "the roles editor should be on the Data page"


@pytest.mark.parametrize("page", MY_PAGES)
def test_every_page_runs_without_a_run(page):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    assert_clean(at, f"{page} without a run")


@pytest.mark.parametrize("page", MY_PAGES)
def test_every_page_runs_with_a_run(trained, page):
    catalog, run = trained
    at = app_with(catalog, {run.name: run}).run()
    at.switch_page(page).run()
    assert_clean(at, f"{page} with a run")
    assert run.name in [s.value for s in at.sidebar.selectbox], "the sidebar should offer the active run"


def test_sidebar_switches_the_active_run_and_a_new_run_becomes_active(trained):
    import copy

    catalog, run = trained
    first, second = copy.copy(run), copy.copy(run)
    first.name, second.name = "first", "second"
    at = app_with(catalog, {"first": first, "second": second}).run()
    assert at.sidebar.selectbox(key="sidebar.run").value == "second", "the last run starts active"
    at.sidebar.selectbox(key="sidebar.run").set_value("first").run()
    assert_clean(at, "after switching runs")
    assert at.session_state[_state.STATE_KEY].active == "first", "the sidebar choice must set the active run"
    # a run added the way the Train page adds one (AppState.active set) must show as active
    third = copy.copy(run)
    third.name = "third"
    app = at.session_state[_state.STATE_KEY]
    app.runs["third"] = third
    app.active = "third"
    at.run()
    assert at.sidebar.selectbox(key="sidebar.run").value == "third", "a newly added run must show as active"
    assert at.session_state[_state.STATE_KEY].active == "third", "and stay active"


def test_runs_page_offers_every_download_of_the_active_run(trained):
    catalog, run = trained
    at = app_with(catalog, {run.name: run}).run()
    at.switch_page("pages/runs.py").run()
    labels = {b.label for b in at.get("download_button")}
    assert {"Embeddings (CSV)", "Embeddings (Parquet)", "Run directory (zip)"} <= labels, labels


def test_runs_page_places_new_products_and_refuses_a_file_without_the_runs_columns(trained):
    from pages import _placing

    catalog, run = trained
    new = catalog.df.head(6).copy()
    new["product_id"] = [f"NEW{i}" for i in range(len(new))]
    new.loc[new.index[0], "price"] = float(catalog.df["price"].max()) * 1000
    at = app_with(catalog, {run.name: run}).run()
    at.switch_page("pages/runs.py").run()
    at.file_uploader(key="runs.place_file").set_value(
        ("bad.csv", new.drop(columns=["brand"]).to_csv(index=False).encode(), "text/csv")).run()
    at.button(key="runs.place").click().run()
    assert not at.exception
    assert any("bad.csv lacks 1 column" in e and "'brand'" in e for e in errors_of(at)), errors_of(at)
    at.file_uploader(key="runs.place_file").set_value(
        ("new.csv", new.to_csv(index=False).encode(), "text/csv")).run()
    at.button(key="runs.place").click().run()
    assert_clean(at, "after placing new products")
    shown = at.dataframe[-1].value
    assert list(shown["product"]) == [f"NEW{i}" for i in range(6)]
    assert shown.loc[0, "worst column"] == "price" and shown.loc[0, "error percentile"] > 95
    assert shown["already in the catalog"].iloc[1:].all() and not shown.loc[0, "already in the catalog"]
    assert list(shown["nearest in the run"].iloc[1:]) == [str(p) for p in catalog.df["product_id"].iloc[1:6]]
    labels = {b.label for b in at.get("download_button")}
    assert {"Placed products (CSV)", "Placed products (Parquet)"} <= labels, labels
    at.switch_page("pages/map.py").run()
    at.switch_page("pages/runs.py").run()
    assert _placing.RESULT_KEY in at.session_state and at.dataframe[-1].value.shape[0] == 6, "kept after leaving"


# --- data page ----------------------------------------------------------------------------------------------


def test_upload_then_role_change_then_train_then_map():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.file_uploader(key="data.upload").set_value(("shop.csv", catalog_csv(), "text/csv")).run()
    assert_clean(at, "after upload")
    app = at.session_state[_state.STATE_KEY]
    assert app.catalog.name == "shop.csv" and len(app.catalog.df) == 120, f"upload not loaded: {app.catalog.name}"

    # role change through the editor: 'shop' (row 4) from categorical to ignore
    sha = app.catalog.sha256[:12]
    at.session_state[f"data.roles.{sha}"] = {"edited_rows": {4: {"role": "ignore"}}, "added_rows": [],
                                             "deleted_rows": []}
    at.run()
    assert_clean(at, "after role change")
    assert at.session_state[_state.STATE_KEY].catalog.schema.role("shop").value == "ignore", "role edit not applied"

    # the label: 'kind' becomes the label and is excluded from learning
    at.selectbox(key=f"data.label.{sha}").set_value("kind").run()
    catalog = at.session_state[_state.STATE_KEY].catalog
    assert catalog.label == "kind" and "kind" in catalog.exclude, f"label not set/excluded: {catalog.exclude}"

    at.switch_page("pages/train.py").run()
    assert_clean(at, "Train page")
    set_setting(at, f"train.{learners.DEFAULT}.epochs", 3)  # the learner the page opens on
    set_setting(at, f"train.{learners.DEFAULT}.width", 32)
    at.text_input(key="train.name").input("first")
    at.button(key="train.go").click().run()
    assert_clean(at, "after training")
    app = at.session_state[_state.STATE_KEY]
    assert list(app.runs) == ["first"] and app.active == "first", f"run not kept/active: {list(app.runs)}"
    run = app.runs["first"]
    assert run.embeddings.shape == (120, 32), f"embeddings of shape {run.embeddings.shape}"
    assert "kind" in run.info["data"]["excluded"], "the label must not be an input"
    metrics = [m.label for m in at.metric]
    assert "Total time" in metrics and "Final train loss" in metrics, f"no summary shown: {metrics}"
    assert any("kNN precision" in str(i) for df in at.dataframe for i in df.value.index), \
        "the summary should compare kNN precision with the baselines"

    # watch it learn: one snapshot before training and one per check, replayed with a slider
    job = at.session_state[_state.JOB_KEY]
    assert len(job.replay.frames) == len(run.history) + 1 and job.replay.frames[0][0] == 0
    at.slider(key="train.replay").set_value(0).run()
    assert_clean(at, "replay at the start")
    assert any("before training" in c.value for c in at.caption)
    at.slider(key="train.replay").set_value(len(job.replay.frames) - 1).run()
    assert any(c.value.startswith("The embedding of 120 products after step") for c in at.caption)
    assert len(at.get("plotly_chart")) == 1, "the replayed map"

    if (ROOT / "pages/map.py").exists():
        at.switch_page("pages/map.py").run()
        assert not at.exception, f"Map page failed on the new run: {[e.value for e in at.exception]}"


def test_a_real_catalog_uploads_labels_and_trains(shared_dataset):
    """400 rows of the real Amazon file, as it is written (its long descriptions make the sentence encoding of
    all 1,351 rows cost most of two minutes; the Data page's upload path is the same for any length)."""
    real = shared_dataset("amazon_sales_india/amazon_products_parsed.csv")
    rows = pd.read_csv(real).sample(n=400, random_state=0).to_csv(index=False).encode("utf-8")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.file_uploader(key="data.upload").set_value((real.name, rows, "text/csv")).run()
    assert_clean(at, "after uploading the Amazon catalog")
    catalog = at.session_state[_state.STATE_KEY].catalog
    assert catalog.name == real.name and len(catalog.df) == 400, f"not loaded: {catalog.name}"
    at.selectbox(key=f"data.label.{catalog.sha256[:12]}").set_value("category_l1").run()
    catalog = at.session_state[_state.STATE_KEY].catalog
    assert {"category_l1", "category_l2", "category_path"} <= set(catalog.exclude), \
        f"the label and the columns of its taxonomy must be excluded: {catalog.exclude}"
    at.switch_page("pages/train.py").run()
    set_setting(at, f"train.{learners.DEFAULT}.epochs", 2)
    at.button(key="train.go").click().run()
    assert_clean(at, "after training on the Amazon catalog")
    app = at.session_state[_state.STATE_KEY]
    run = app.runs[app.active]
    assert len(run.product_ids) == len(catalog.df) and run.metrics, "a real catalog should train and be scored"


def test_an_upload_over_the_row_limit_offers_a_random_sample(monkeypatch):
    monkeypatch.setattr(_catalogs, "MAX_ROWS", 50)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.file_uploader(key="data.upload").set_value(("shop.csv", catalog_csv(120), "text/csv")).run()
    assert any("Only the first 50 rows were read" in w.value for w in at.warning), [w.value for w in at.warning]
    first = at.session_state[_state.STATE_KEY].catalog.df
    at.button(key="data.sample").click().run()
    assert_clean(at, "after sampling")
    sampled = at.session_state[_state.STATE_KEY].catalog.df
    assert len(sampled) == 50 and sampled.attrs["sampled"] and sampled.attrs["rows_total"] == 120
    assert list(sampled["sku"]) != list(first["sku"]), "another set of rows than the first 50"
    assert any("A random sample of 50 of the file's 120 rows" in w.value for w in at.warning)


def test_broken_upload_keeps_the_previous_catalog_and_runs(trained):
    catalog, run = trained
    at = app_with(catalog, {run.name: run}).run()
    at.file_uploader(key="data.upload").set_value(("broken.parquet", b"\x00\x01 not parquet", "application/x")).run()
    assert not at.exception, "a broken upload must not raise"
    assert any("broken.parquet" in e for e in errors_of(at)), f"the error should name the file: {errors_of(at)}"
    app = at.session_state[_state.STATE_KEY]
    assert app.catalog is catalog, "the previous catalog must stay after a failed upload"
    assert list(app.runs) == [run.name], "runs must survive a failed upload"
    assert any("Still using the previous catalog" in c.value for c in at.caption), "say which catalog is kept"


def test_invalid_role_change_shows_the_reason_and_keeps_the_schema():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.file_uploader(key="data.upload").set_value(("shop.csv", catalog_csv(), "text/csv")).run()
    catalog = at.session_state[_state.STATE_KEY].catalog
    before = catalog.schema
    at.session_state[f"data.roles.{catalog.sha256[:12]}"] = {"edited_rows": {1: {"role": "numeric"}},
                                                             "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    assert any("title" in e and "previous roles are kept" in e for e in errors_of(at)), errors_of(at)
    assert at.session_state[_state.STATE_KEY].catalog.schema == before, "a rejected role change must not apply"


def test_load_demo_button_replaces_the_catalog():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.number_input(key="data.demo_rows").set_value(300)
    at.number_input(key="data.demo_seed").set_value(7)
    submit = [b for b in at.get("button") if getattr(b, "label", "") == "Load demo catalog"]
    assert submit, "the demo form should have a 'Load demo catalog' button"
    submit[0].click().run()
    assert_clean(at, "after loading the demo")
    catalog = at.session_state[_state.STATE_KEY].catalog
    assert len(catalog.df) == 300 and "seed 7" in catalog.name, f"demo not reloaded: {catalog.name}"


# --- training: stop keeps what was learned ------------------------------------------------------------------


def test_impossible_settings_are_refused_with_the_reason():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/train.py").run()
    at.radio(key="train.learner").set_value("multitask").run()
    for task in ("reconstruction", "mask", "contrastive"):
        set_setting(at, f"train.multitask.{task}_weight", 0.0)
    at.button(key="train.go").click().run()
    assert not at.exception, "a bad setting must not raise"
    assert any("weights are 0" in e for e in errors_of(at)), f"the reason should be shown: {errors_of(at)}"
    assert not at.session_state[_state.STATE_KEY].runs, "no run is made from impossible settings"


def test_stop_ends_training_after_the_current_epoch_and_keeps_a_complete_run(one_torch_thread):

    catalog = _catalogs.load_demo(rows=200, seed=1)
    job = TrainingJob(name="stopped", learner="denoising", config={**TINY, "epochs": 50}, table=catalog.df,
                      schema=catalog.schema, exclude=catalog.exclude, label=catalog.label)
    job.stop.set()  # as the Stop button's on_click does
    job.start()
    job.thread.join(timeout=TIMEOUT)
    assert job.done and job.error is None, f"stopped training failed: {job.error}"
    assert job.stopped and len(job.reports) == 1, f"expected one epoch before stopping, got {len(job.reports)}"
    run = job.run
    assert run is not None and run.embeddings.shape == (200, 32), "a stopped run keeps its learned encoder"
    assert run.projection is not None and run.metrics, "a stopped run is still analysed (map, metrics)"


def test_a_job_whose_tab_closed_stops_and_frees_the_cpu_for_the_next(monkeypatch, one_torch_thread):
    from pages import _training_job
    from product_repr.compute import WorkGate

    monkeypatch.setattr(_training_job, "ABANDON_AFTER_S", 0.0)
    catalog = _catalogs.load_demo(rows=200, seed=1)
    gate = WorkGate()
    calls = []

    def gone() -> bool:
        calls.append(1)
        return False

    left = TrainingJob(name="left", learner="denoising", config={**TINY, "epochs": 50}, table=catalog.df,
                       schema=catalog.schema, exclude=catalog.exclude, label=catalog.label, gate=gate, alive=gone)
    left.execute()
    assert left.abandoned and left.run is None and "tab that started this training was closed" in left.error
    assert len(calls) == 1 and not left.reports, "stopped at its first stage, before any training"
    assert gate.queue() == [] and len(left.table) == 0, "the CPU and the catalog copy are let go"
    after = TrainingJob(name="after", learner="denoising", config=TINY, table=catalog.df, schema=catalog.schema,
                        exclude=catalog.exclude, label=catalog.label, gate=gate, alive=lambda: True)
    after.execute()
    assert after.error is None and after.run is not None


def test_a_brief_disconnect_does_not_stop_a_job(monkeypatch, one_torch_thread):
    from pages import _training_job

    monkeypatch.setattr(_training_job, "ABANDON_AFTER_S", 3600.0)
    catalog = _catalogs.load_demo(rows=200, seed=1)
    answers = iter([False, False] + [True] * 10_000)  # gone for two checks, then back
    job = TrainingJob(name="blip", learner="denoising", config=TINY, table=catalog.df, schema=catalog.schema,
                      exclude=catalog.exclude, label=catalog.label, gate=None, alive=lambda: next(answers))
    job.execute()
    assert job.error is None and job.run is not None and not job.abandoned and job.gone_since is None


def test_training_error_is_reported_not_raised():
    catalog = _catalogs.load_demo(rows=200, seed=1)
    job = TrainingJob(name="bad", learner="denoising", config={"epochs": 2, "nonsense": 1}, table=catalog.df,
                      schema=catalog.schema, exclude=catalog.exclude, label=catalog.label)
    job.execute()
    assert job.run is None and job.error and "nonsense" in job.error, f"config error not reported: {job.error}"


# --- runs folder and files ----------------------------------------------------------------------------------


def test_runs_page_opens_a_run_directory_from_the_runs_folder(trained, tmp_path, monkeypatch):
    from product_repr.runs import save_run

    catalog, run = trained
    save_run(run, tmp_path / "cli-run")
    (tmp_path / "not-a-run").mkdir()
    monkeypatch.setenv(library.RUNS_ENV, str(tmp_path))
    assert library.list_run_dirs(tmp_path) == [tmp_path / "cli-run"], "only folders with run.json are runs"

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/runs.py").run()
    at.selectbox(key="runs.dir").set_value("cli-run")
    at.button(key="runs.open").click().run()
    assert_clean(at, "after opening a run")
    app = at.session_state[_state.STATE_KEY]
    assert app.active in app.runs and len(app.runs[app.active].product_ids) == 200, "opened run not active"
    opened = app.runs[app.active]
    np.testing.assert_allclose(opened.embeddings, run.embeddings, rtol=1e-6, err_msg="embeddings changed on load")
    # the demo catalog with the same content is loaded, so the run's table is recognised by its hash
    same = _catalogs.load_demo(rows=200, seed=0)
    assert same.sha256 == catalog.sha256, "the demo catalog should be deterministic"


def test_run_zip_unzips_into_a_loadable_run(trained, tmp_path):
    from product_repr.runs import load_run

    _, run = trained
    data = export.run_zip(run)
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    loaded = load_run(tmp_path / library.safe_name(run.name))
    assert list(loaded.product_ids) == list(run.product_ids), "zipped run lost its product ids"
    csv = pd.read_csv(io.BytesIO(export.embeddings_csv(run)))
    assert list(csv.columns[:2]) == ["product_id", "e0"] and len(csv) == len(run.product_ids), csv.columns
    parquet = pd.read_parquet(io.BytesIO(export.embeddings_parquet(run)))
    assert parquet.shape == (len(run.product_ids), run.embeddings.shape[1] + 1), parquet.shape


def test_projector_zip_holds_vectors_and_readable_metadata(trained):
    catalog, run = trained
    at = app_with(catalog, {run.name: run}).run()  # projector_metadata reads the session's tables
    at.switch_page("pages/runs.py").run()
    assert_clean(at, "Runs page")
    meta = pd.DataFrame({"product_id": [str(i) for i in run.product_ids], "title": catalog.df["title"]})
    archive = zipfile.ZipFile(io.BytesIO(export.projector_zip(run, meta)))
    names = {Path(n).name for n in archive.namelist()}
    assert {"tensors.tsv", "metadata.tsv"} <= names, names
    tensors = archive.read(next(n for n in archive.namelist() if n.endswith("tensors.tsv"))).decode().splitlines()
    assert len(tensors) == len(run.product_ids) and len(tensors[0].split("\t")) == run.embeddings.shape[1]
    header = archive.read(next(n for n in archive.namelist() if n.endswith("metadata.tsv"))).decode().splitlines()[0]
    assert header.split("\t")[:2] == ["product_id", "title"], header


# --- error boundary, text encoding, the live map ----------------------------------------------------------


def test_error_boundary_turns_errors_into_messages_without_tracebacks():
    at = AppTest.from_string(
        """
import streamlit as st
from pages._shell import error_boundary
from product_repr.errors import SchemaError
with error_boundary():
    raise SchemaError("column 'price' is not numeric; mark it categorical")
with error_boundary("drawing"):
    raise RuntimeError("secret internals")
st.write("still running")
""", default_timeout=30)
    at.run()
    assert not at.exception, "no exception may reach the page"
    messages = errors_of(at)
    assert messages[0] == "column 'price' is not numeric; mark it categorical", messages
    assert "secret internals" not in messages[1] and "server log" in messages[1], messages
    assert at.markdown[-1].value == "still running"


def test_text_encoding_choice_reaches_the_run_and_is_remembered():
    """The Train page offers the text encoding; 'TF-IDF only' trains without the sentence model and says so."""
    from product_repr.features import sentence

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/train.py").run()
    box = at.selectbox(key="train.text_encoder")
    titles = [o.split(" (")[0] for o in box.options]
    want = (["Pretrained sentence encoder + TF-IDF", "Fast static sentence vectors + TF-IDF", "TF-IDF only"]
            if sentence.available() else ["TF-IDF only"])
    assert titles == want, f"text encoding options: {box.options}"
    box.set_value("tfidf").run()
    set_setting(at, f"train.{learners.DEFAULT}.epochs", 2)
    set_setting(at, f"train.{learners.DEFAULT}.width", 32)
    at.button(key="train.go").click().run()
    assert_clean(at, "after training with TF-IDF only")
    run = next(iter(at.session_state[_state.STATE_KEY].runs.values()))
    assert run.info["features"]["text_encoder_used"] == "tfidf"
    assert all(not n.split("__")[-1].startswith("sent") for n in run.feature_space.feature_names)
    assert any("Text encoding: TF-IDF only" in c.value for c in at.caption), "the summary names the encoding"
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/train.py").run()
    assert at.selectbox(key="train.text_encoder").value == "tfidf", "the choice survives a visit to another page"


def test_map_page_shows_the_training_map_then_the_finished_run(trained):
    """While this session trains, the Map page shows the job's newest map (a draft first); once the job is
    finished the page shows the run itself."""
    import time as clock

    catalog, run = trained
    job = TrainingJob(name="live", learner="denoising", config=TINY, table=catalog.df, schema=catalog.schema,
                      exclude=catalog.exclude, label=catalog.label, gate=None)
    job._on_map(run.projection.copy(), {"kind": "draft", "note": "Draft: the products by their input features."})
    at = app_with(catalog, {})
    at.session_state[_state.JOB_KEY] = job
    at.run()
    at.switch_page("pages/map.py").run()
    assert_clean(at, "Map while training")
    assert any("Training **live**" in i.value for i in at.info), [i.value for i in at.info]
    assert any(c.value.startswith("Draft:") for c in at.caption), "the draft map says what it is"
    assert len(at.get("plotly_chart")) == 1, "the draft map is drawn"
    assert job.map_seconds.get("draft") is not None

    job.run, job.finished = run, clock.perf_counter()  # the thread ends with a finished run
    at.run()
    assert_clean(at, "Map after training")
    assert not any("Training **live**" in i.value for i in at.info), "no training notice once it is finished"
    assert at.session_state[_state.STATE_KEY].active == run.name, "the finished run became the active one"
    assert at.title[0].value == "Map" and len(at.get("plotly_chart")) >= 1


def test_train_page_draws_only_the_settings_the_learner_uses():
    """Contrastive with NT-Xent has no margin slider; choosing the margin loss brings it, and hides the
    temperature; the value set before hiding comes back."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/train.py").run()
    at.radio(key="train.learner").set_value("contrastive").run()
    keys = {w.key for w in at.slider} | {w.key for w in at.select_slider}
    assert "train.contrastive.temperature" in keys and "train.contrastive.margin" not in keys, sorted(keys)
    at.selectbox(key="train.contrastive.loss").set_value("margin").run()
    keys = {w.key for w in at.slider} | {w.key for w in at.select_slider}
    assert "train.contrastive.margin" in keys and "train.contrastive.temperature" not in keys, sorted(keys)
    assert not at.exception


def test_learn_page_shows_a_diagram_per_learner_and_data_page_offers_the_template():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert at.get("download_button"), "the Data page offers the catalog template"
    at.switch_page("pages/learn.py").run()
    assert not at.exception
    images = at.get("image")
    assert len(images) >= 4, f"one diagram per learner on the Learn page, got {len(images)}"
