"""The Runs page's files: a dashboard save never overwrites a run, and the command it prints really works."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages import _catalogs, _memory, _state
from product_repr import library
from pages._training_job import TrainingJob
from product_repr.cli import main
from product_repr.runs import load_run

TINY = {"epochs": 2, "width": 16, "embedding_dim": 4, "seed": 0}
APP = str(Path(__file__).resolve().parents[1] / "app.py")


pytestmark = pytest.mark.usefixtures("navigation_as_on_a_server")  # tests/conftest.py


@pytest.fixture(scope="module")
def dashboard_run():
    """A run trained the way the Train page trains one: a TrainingJob on the demo catalog of the Data page."""
    catalog = _catalogs.load_demo(rows=200, seed=1)
    job = TrainingJob(name="dash run", learner="denoising", config=TINY, table=catalog.df, schema=catalog.schema,
                      exclude=catalog.exclude, label=catalog.label,
                      source=catalog.df.attrs.get("source", catalog.name), features={"text_encoder": "tfidf"},
                      gate=None)
    job.execute()
    assert job.error is None and job.run is not None, f"training failed: {job.error}"
    job.catalog = catalog
    return job


def test_dashboard_save_picks_a_free_folder(dashboard_run, tmp_path):
    run = dashboard_run.run
    first = library.save_into(run, tmp_path, "my run", table=dashboard_run.table)
    second = library.save_into(run, tmp_path, "my run", table=dashboard_run.table)
    assert (first.name, second.name) == ("my-run", "my-run-2"), "a second save must not replace the first"
    assert load_run(first).name == load_run(second).name == run.name
    assert "table_file" not in run.info["data"], "saving must not change the session's run"


def test_dashboard_save_hint_is_a_command_that_works(dashboard_run, tmp_path, capsys):
    path = library.save_into(dashboard_run.run, tmp_path / "runs", dashboard_run.name, table=dashboard_run.table)
    hint = library.evaluate_hint(path)
    assert hint.endswith("works on it."), hint
    command = re.search(r"`([^`]+)`", hint).group(1)
    argv = shlex.split(command)
    assert argv[:4] == ["python", "-m", "product_repr", "evaluate"], command
    capsys.readouterr()
    assert main(argv[3:]) == 0, f"{command} failed: {capsys.readouterr().err}"
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["label"] == "category" and metrics["data"] == str(path / library.TABLE_FILE), metrics


def test_hint_without_the_table_says_what_to_add(dashboard_run, tmp_path):
    path = library.save_into(dashboard_run.run, tmp_path, "no-table")  # e.g. an opened run whose catalog is gone
    hint = library.evaluate_hint(path)
    assert "--data FILE` evaluates it, with FILE the table it was trained on" in hint, hint


def test_an_opened_dashboard_save_brings_its_table(dashboard_run, tmp_path):
    path = library.save_into(dashboard_run.run, tmp_path, "with-table", table=dashboard_run.table)
    opened = load_run(path)
    table = library.saved_table(path, opened)
    assert table is not None and table["title"].tolist() == dashboard_run.table["title"].tolist()


def test_runs_page_save_button_never_overwrites_and_keeps_the_marks(dashboard_run, tmp_path, monkeypatch):
    monkeypatch.setenv(library.RUNS_ENV, str(tmp_path))
    run, catalog = dashboard_run.run, dashboard_run.catalog
    first, second = (str(p) for p in run.product_ids[:2])
    marks = {("product", first, ""): "anomaly", ("pair", first, second): "not a duplicate"}
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[_state.STATE_KEY] = _state.AppState(
        catalog=catalog, runs={run.name: run}, active=run.name, tables={run.name: dashboard_run.table},
        labels={run.name: catalog.label}, marks={run.name: dict(marks)})
    at.run()
    at.switch_page("pages/runs.py").run()
    for _ in range(2):
        at.text_input(key="runs.save_name").set_value("kept")
        at.button(key="runs.save").click().run()
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "kept-2"]
    said = at.success[-1].value
    assert "kept-2 ('kept' already holds a run)" in said and "` works on it." in said, said
    from product_repr import findings

    assert findings.marks_from_frame(load_run(tmp_path / "kept").marks) == marks, "the marks go with the run"
    assert run.marks is None, "the session's run itself is left as it was"


@pytest.mark.parametrize("crafted", ["../../etc/passwd", "/etc/passwd", "..", "a\x00b", "x" * 5000, "名前/../..", ""])
def test_a_crafted_run_name_stays_a_plain_folder_name(crafted):
    name = library.safe_name(crafted)
    assert name and len(name) <= library.MAX_NAME and "/" not in name and "\x00" not in name
    assert name not in (".", "..") and not name.startswith(".")


def _zip(entries: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _entries(data: bytes) -> dict[str, bytes]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {m.filename: archive.read(m) for m in archive.infolist()}


def test_a_downloaded_run_zip_opens_again_with_its_table(dashboard_run, tmp_path):
    import numpy as np

    from product_repr import export

    run = dashboard_run.run
    opened, table = library.open_run_zip(export.run_zip(run))
    np.testing.assert_array_equal(opened.embeddings, run.embeddings)
    assert opened.name == run.name and table is None, "the download holds no table"
    saved = library.save_into(run, tmp_path, "zipped", table=dashboard_run.table)
    again, table = library.open_run_zip(export.zip_directory(saved))
    assert table is not None and table["title"].tolist() == dashboard_run.table["title"].tolist()


def test_a_run_zip_cannot_write_outside_its_folder_or_smuggle_files(dashboard_run, tmp_path, monkeypatch):
    import tempfile

    from product_repr import export

    entries = _entries(export.run_zip(dashboard_run.run))
    folder = next(n for n in entries if n.endswith("run.json")).rpartition("/")[0]
    evil = {**entries, f"{folder}/../../escaped.txt": b"x", f"{folder}/payload.pkl": b"\x80\x04N.",
            "/abs/run.parquet": b"x", "__MACOSX/._run.json": b"junk"}
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    opened, _ = library.open_run_zip(_zip(evil))
    assert opened.name == dashboard_run.run.name
    assert not list(tmp_path.parent.rglob("escaped.txt")), "a ../ path wrote outside the temporary folder"
    assert not list(tmp_path.rglob("payload.pkl")) and not list(tmp_path.iterdir()), \
        "only the run's own files are written, and the temporary folder is gone"


@pytest.mark.parametrize("make, message", [
    (lambda e: b"not a zip at all", r"bad\.zip is not a zip archive"),
    (lambda e: _zip({"readme.txt": b"hello"}), r"bad\.zip holds no run"),
    (lambda e: _zip({**e, **{f"second/{k.rpartition('/')[2]}": v for k, v in e.items()}}), r"holds 2 runs"),
    (lambda e: _zip({k: (b"\x00garbage" if k.endswith("model.safetensors") else v) for k, v in e.items()}),
     r"model\.safetensors is corrupt or unreadable"),
    (lambda e: _zip({k: v for k, v in e.items() if not k.endswith("features.npz")}), r"features\.npz is missing"),
], ids=["not a zip", "no run", "two runs", "damaged weights", "a file missing"])
def test_a_bad_run_zip_is_refused_naming_the_problem(dashboard_run, make, message):
    from product_repr import export
    from product_repr.errors import RunError

    with pytest.raises(RunError, match=message):
        library.open_run_zip(make(_entries(export.run_zip(dashboard_run.run))), name="bad.zip")


def test_a_run_zip_that_unpacks_too_far_is_refused(dashboard_run, monkeypatch):
    from product_repr import export
    from product_repr.errors import RunError

    monkeypatch.setattr(library, "MAX_ZIP_BYTES", 1000)
    with pytest.raises(RunError, match=r"would unpack to .* MB, more than the 0 MB a run may take here"):
        library.open_run_zip(export.run_zip(dashboard_run.run))


def test_runs_page_opens_an_uploaded_run_zip_and_keeps_the_session_after_a_bad_one(dashboard_run):
    from product_repr import export

    run, catalog = dashboard_run.run, dashboard_run.catalog
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[_state.STATE_KEY] = _state.AppState(catalog=catalog)
    at.run()
    at.switch_page("pages/runs.py").run()
    at.file_uploader(key="runs.zip_upload").set_value(("broken.zip", b"PK\x03\x04 nope", "application/zip")).run()
    assert not at.exception
    assert any("broken.zip is not a zip archive" in e.value for e in at.error), [e.value for e in at.error]
    assert not at.session_state[_state.STATE_KEY].runs
    at.file_uploader(key="runs.zip_upload").set_value(("dash.zip", export.run_zip(run), "application/zip")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    app = at.session_state[_state.STATE_KEY]
    assert list(app.runs) == [run.name] and app.active == run.name
    assert any("Opened dash.zip as run" in s.value for s in at.success)


def _open_one_more_run(run, catalog, *, old: int, active: str):
    """A session holding ``old`` copies of ``run`` ("old 0"…) opens one more from a run zip on the Runs page;
    returns the AppTest and the session's AppState after it."""
    import dataclasses

    from product_repr import export

    runs = {f"old {i}": dataclasses.replace(run, name=f"old {i}") for i in range(old)}
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[_state.STATE_KEY] = _state.AppState(catalog=catalog, runs=runs, active=active,
                                                         labels={n: None for n in runs})
    at.run()
    at.switch_page("pages/runs.py").run()
    at.file_uploader(key="runs.zip_upload").set_value(("new.zip", export.run_zip(run), "application/zip")).run()
    assert not at.exception
    return at, at.session_state[_state.STATE_KEY]


def test_a_session_over_its_byte_budget_closes_its_oldest_runs(dashboard_run, monkeypatch):
    from product_repr.runs import frame_bytes, memory_parts

    run, catalog = dashboard_run.run, dashboard_run.catalog
    size = sum(memory_parts(run).values())
    assert size > 100_000, "a run's weights, features and frames are counted"
    # room for the catalog and two and a half runs: a fourth run must close the two oldest
    monkeypatch.setattr(_state, "MAX_SESSION_BYTES", frame_bytes(catalog.df) + int(2.5 * size))
    at, app = _open_one_more_run(run, catalog, old=3, active="old 2")
    assert list(app.runs) == ["old 2", run.name], list(app.runs)
    assert _memory.session_bytes(app) <= _state.MAX_SESSION_BYTES
    assert any("Closed runs 'old 0', 'old 1': a session keeps at most" in i.value for i in at.info), \
        [i.value for i in at.info]
    held = next(c.value for c in at.caption if "This session holds about" in c.value)
    assert f"{_memory.session_bytes(app) / 1e6:,.1f} MB" in held


def test_a_session_keeps_at_most_max_runs_and_says_which_it_closed(dashboard_run):
    run, catalog = dashboard_run.run, dashboard_run.catalog
    at, app = _open_one_more_run(run, catalog, old=_state.MAX_RUNS, active="old 3")
    assert len(app.runs) == _state.MAX_RUNS and "old 0" not in app.runs and app.active == run.name
    assert "old 3" in app.runs and "old 0" not in app.labels
    assert any("Closed run 'old 0': a session keeps at most 12 runs" in i.value for i in at.info), \
        [i.value for i in at.info]
