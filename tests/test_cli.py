"""The command line end to end, in-process: demo → train → evaluate → export → dashboard, its help and its
error paths."""
from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from product_repr.analysis import evaluation
from product_repr.cli import EXAMPLES, build_parser, main
from product_repr.runs import load_run

RUN_FILES = [
    "run.json",
    "model.safetensors",
    "features.json",
    "features.npz",
    "history.csv",
    "embeddings.parquet",
    "projection.parquet",
    "neighbours.parquet",
    "reconstruction.parquet",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A demo catalog and a short denoising run trained on it through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    csv = root / "demo.csv"
    assert main(["demo", "--rows", "600", "--seed", "3", "--out", str(csv)]) == 0
    out = root / "run"
    code = main(
        ["train", str(csv), "--learner", "denoising", "--epochs", "4", "--dim", "8", "--seed", "1",
         "--label", "category", "--exclude", "subcategory", "--out", str(out), "--quiet"]
    )
    assert code == 0, "train exited non-zero on the demo catalog"
    return csv, out


def test_demo_writes_catalog_and_truth_deterministically(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["demo", "--rows", "300", "--seed", "7", "--out", str(a)]) == 0
    assert main(["demo", "--rows", "300", "--seed", "7", "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes(), "same seed gave different catalogs"
    table = pd.read_csv(a)
    assert len(table) == 300
    truth = json.loads((tmp_path / "a.truth.json").read_text())
    ids = set(table["product_id"].astype(str))
    assert truth["anomalies"] and set(truth["anomalies"]) <= ids, "anomaly ids missing from the catalog"
    assert all(len(pair) == 2 and set(pair) <= ids for pair in truth["near_duplicates"])


def test_train_writes_the_whole_run_directory(trained):
    csv, out = trained
    missing = [name for name in RUN_FILES if not (out / name).exists()]
    assert not missing, f"run directory lacks {missing}"
    info = json.loads((out / "run.json").read_text())
    assert info["learner"] == "denoising"
    assert info["config"]["embedding_dim"] == 8 and info["config"]["epochs"] == 4
    assert "category" in info["data"]["excluded"] and "subcategory" in info["data"]["excluded"]
    run = load_run(out)
    assert run.embeddings.shape == (600, 8)
    assert "category" not in run.feature_space.columns, "the label leaked into the learner's input"
    neighbours = pd.read_parquet(out / "neighbours.parquet")
    assert (neighbours["product_id"] != neighbours["neighbour_id"]).all(), "a product is its own neighbour"
    assert neighbours.groupby("product_id")["rank"].max().eq(10).all()


def test_evaluate_prints_metrics_with_baselines(trained, capsys):
    csv, out = trained
    capsys.readouterr()
    assert main(["evaluate", str(out), "--label", "category", "--data", str(csv)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    for key in ("knn_precision@10", "linear_probe_accuracy"):
        assert set(metrics[key]) >= {"model", "raw", "pca"}, f"{key} lacks a baseline: {metrics[key]}"
    run = load_run(out)
    labels = pd.read_csv(csv)["category"].astype(str).to_numpy()
    expected = evaluation.knn_precision(run.embeddings, labels, k=10)
    assert metrics["knn_precision@10"]["model"] == pytest.approx(expected, abs=1e-6)  # JSON rounds to 6 places


@pytest.mark.parametrize("fmt", ["csv", "parquet", "projector"])
def test_export_formats(trained, tmp_path, fmt, capsys):
    _, out = trained
    assert main(["export", str(out), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    files = sorted(p.name for p in (tmp_path / fmt).iterdir())
    assert files, f"export --format {fmt} wrote nothing"
    if fmt == "projector":
        tensors = next(p for p in (tmp_path / fmt).iterdir() if p.name.startswith("tensors"))
        vectors = np.loadtxt(tensors, delimiter="\t")
        assert vectors.shape == (600, 8)


def test_bad_file_is_one_line_error_with_status_2(tmp_path, capsys):
    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert main(["train", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "photo.csv" in err, err
    assert "Traceback" not in err


def test_unknown_learner_and_missing_label_are_clear(trained, capsys):
    csv, _ = trained
    assert main(["train", str(csv), "--learner", "transformer", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "transformer" in err and "denoising" in err, err
    assert main(["train", str(csv), "--label", "no_such_column", "--quiet"]) == 2
    assert "no_such_column" in capsys.readouterr().err


def test_bad_set_option_names_the_field(trained, capsys):
    csv, _ = trained
    assert main(["train", str(csv), "--set", "epochs=-3", "--quiet"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_feature_settings_reach_the_feature_space(trained, tmp_path, capsys):
    csv, _ = trained
    out = tmp_path / "weighted"
    assert main(["train", str(csv), "--epochs", "1", "--feature", "text_weight=5", "--feature", "text_dim=16",
                 "--feature", "text_encoder=tfidf", "--label", "category", "--out", str(out), "--quiet"]) == 0
    run = load_run(out)
    assert run.feature_space.text_weight == 5 and run.info["features"] == {
        "text_weight": 5, "text_dim": 16, "text_encoder": "tfidf", "text_encoder_used": "tfidf"}
    text_spans = [s for s in run.feature_space.spans if s.role.value == "text"]
    assert text_spans and all(s.width == 16 for s in text_spans)
    assert main(["train", str(csv), "--feature", "colour=3", "--quiet"]) == 2
    assert "unknown feature setting(s) colour" in capsys.readouterr().err


def test_progress_bar_shows_steps_losses_and_elapsed_time():
    import io

    from product_repr.cli import ProgressBar
    from product_repr.learners.training import TrainingReport

    stream = io.StringIO()
    bar = ProgressBar(stream)
    for step in (50, 100, 1000):
        bar(TrainingReport(step=step, steps=1000, epoch=step / 4, train_loss=100 / step, val_loss=0.5,
                           task_losses={}, seconds=0.1, best_step=step, elapsed=step / 1000))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, f"a non-terminal stream gets one line per check: {lines}"
    assert lines[-1].startswith("step   1000/1000 [" + "#" * 30 + "] epoch 250.0") and "1.0s elapsed" in lines[-1], \
        lines[-1]
    assert lines[0].startswith("step     50/1000 [" + "#" * 2 + "." * 28 + "]"), lines[0]
    assert "train 0.1000 val 0.5000" in lines[-1]


def test_default_train_uses_the_installed_sentence_encoder_and_reloads(trained, tmp_path, capsys):
    from product_repr.features import sentence

    csv, _ = trained
    out = tmp_path / "default"
    capsys.readouterr()
    assert main(["train", str(csv), "--epochs", "1", "--label", "category", "--out", str(out), "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    want = sentence.DEFAULT_MODEL if sentence.DEFAULT_MODEL in sentence.available() else "tfidf"
    assert summary["text_encoder"] == want and summary["learner"] == "multitask"
    run = load_run(out)
    assert run.feature_space.text_encoder_ == want
    df = pd.read_csv(csv)
    X = run.feature_space.transform(df)
    np.testing.assert_allclose(run.learner.encode(X), run.embeddings, atol=1e-5,
                               err_msg="a reloaded run must reproduce its embeddings from the table")


# --- help: true defaults and examples that parse ------------------------------------------------------------


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit, match="^0$"):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())  # one line: argparse wraps where the terminal is narrow


def test_train_help_shows_the_learners_real_defaults(capsys):
    from product_repr import learners

    text = help_text(capsys, "train").split(" options: ", 1)[1]
    config = learners.get(learners.DEFAULT).Config()
    for option, value in (("--learner NAME", learners.DEFAULT), ("--dim DIM", config.embedding_dim),
                          ("--steps STEPS", config.steps), ("--epochs EPOCHS", config.epochs),
                          ("--seed SEED", config.seed), ("--device {auto,cpu,cuda}", "auto")):
        shown = re.search(re.escape(option) + r" .*?\(default: ([^)]*)\)", text)
        assert shown and shown.group(1) == str(value), f"{option} help shows {shown and shown.group(1)}, not {value}"


@pytest.mark.parametrize("command", [None, *sorted(c for c in EXAMPLES if c)])
def test_every_help_has_examples_that_parse(command, capsys):
    text = help_text(capsys, *([command] if command else []))
    assert "examples" in text, f"{command or 'top-level'} --help has no examples"
    parser = build_parser()
    for example, _ in EXAMPLES[command]:
        argv = shlex.split(example.format(prog="PROG"))[1:]
        assert example.format(prog="python -m product_repr") in text, f"{example} missing from the help"
        args, extra = parser.parse_known_args(argv)
        assert not extra or args.command == "dashboard", f"{example}: unknown arguments {extra}"


def test_top_level_help_walks_through_the_whole_flow(capsys):
    text = help_text(capsys)
    steps = [text.find(f"python -m product_repr {c} ") for c in ("demo", "train", "evaluate", "export")]
    steps.append(text.find("python -m product_repr dashboard"))
    assert -1 not in steps and steps == sorted(steps), f"flow examples missing or out of order: {steps}"


# --- dashboard ---------------------------------------------------------------------------------------------


def test_dashboard_runs_streamlit_on_the_checkouts_app(monkeypatch, capsys):
    import subprocess

    from product_repr import cli

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command: calls.append(command) or 0)
    assert main(["dashboard", "--port", "8600", "--server.address", "0.0.0.0"]) == 0
    [command] = calls
    app = Path(cli.__file__).resolve().parent.parent / "app.py"
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(app)], command
    assert "--server.port=8600" in command and command[-2:] == ["--server.address", "0.0.0.0"], command
    assert "--client.showErrorDetails=none" in command, "the checkout's .streamlit/config.toml was not passed on"


def test_dashboard_without_app_py_says_so_in_one_line(monkeypatch, tmp_path, capsys):
    import subprocess

    import product_repr

    monkeypatch.setattr(product_repr, "__file__", str(tmp_path / "site-packages" / "product_repr" / "__init__.py"))
    monkeypatch.setattr(subprocess, "call", lambda command: pytest.fail(f"started {command}"))
    assert main(["dashboard"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the dashboard's app.py is not beside") and err.count("\n") == 1, err


def test_unknown_arguments_are_refused_outside_dashboard(trained, capsys):
    _, out = trained
    with pytest.raises(SystemExit, match="^2$"):
        main(["evaluate", str(out), "--server.port", "1"])
    assert "unrecognized arguments: --server.port 1" in capsys.readouterr().err


# --- evaluate: the run's own label and table ---------------------------------------------------------------


def test_evaluate_reads_label_and_table_from_the_run(trained, capsys):
    csv, out = trained
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    metrics = json.loads(captured.out)
    assert metrics["label"] == "category" and Path(metrics["data"]) == csv.resolve(), metrics
    assert "warning" not in captured.err, "subcategory was excluded: nothing leaks"


def test_evaluate_refuses_a_table_that_is_not_the_runs(trained, tmp_path, capsys):
    csv, out = trained
    changed = pd.read_csv(csv)
    changed["price"] = changed["price"] + 1.0  # same products, one column changed: another version
    other = tmp_path / "changed.csv"
    changed.to_csv(other, index=False)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", str(other)]) == 2
    err = capsys.readouterr().err
    assert str(other) in err and str(csv.resolve()) in err and "--allow-other-data" in err, err
    assert main(["evaluate", str(out), "--data", str(other), "--allow-other-data"]) == 0
    assert "price changed" in capsys.readouterr().err, "the note should say how the table differs"


def test_evaluate_warns_when_the_label_was_in_the_input(trained, capsys):
    _, out = trained
    capsys.readouterr()
    assert main(["evaluate", str(out), "--label", "brand"]) == 0
    captured = capsys.readouterr()
    assert "warning: the label 'brand' itself was in the learner's input" in captured.err, captured.err
    assert json.loads(captured.out)["label_leaks"] == ["brand"]


def test_evaluate_warns_about_label_twins_kept_in_the_input(trained, tmp_path, capsys):
    csv, _ = trained
    out = tmp_path / "twins"
    assert main(["train", str(csv), "--learner", "denoising", "--epochs", "1", "--dim", "4", "--label", "category",
                 "--keep-twins", "--feature", "text_encoder=tfidf", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 'subcategory' restates the label 'category'" in err and "--exclude subcategory" in err, err


def test_evaluate_without_a_recorded_label_asks_for_one(trained, tmp_path, capsys):
    _, out = trained
    copy = tmp_path / "nolabel"
    shutil.copytree(out, copy)
    info = json.loads((copy / "run.json").read_text())
    info["data"]["label"] = None
    info["metrics"] = {}
    (copy / "run.json").write_text(json.dumps(info))
    assert main(["evaluate", str(copy)]) == 2
    assert "trained without a label" in capsys.readouterr().err


# --- no silent overwrite -----------------------------------------------------------------------------------


def test_train_refuses_an_occupied_run_folder_before_training(trained, capsys):
    csv, out = trained
    before = (out / "run.json").read_bytes()
    assert main(["train", str(csv), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{out} already holds a run" in err and "--overwrite" in err and "--out" in err, err
    assert (out / "run.json").read_bytes() == before, "the run was touched"


# --- export: the dashboard's projector metadata ------------------------------------------------------------


def test_cli_projector_export_matches_the_dashboards(trained, tmp_path, capsys):
    from product_repr import export
    from product_repr.data.tables import read_table

    csv, out = trained
    assert main(["export", str(out), "--format", "projector", "--out", str(tmp_path / "cli")]) == 0
    cli_meta = (tmp_path / "cli" / "metadata.tsv").read_text(encoding="utf-8")
    assert cli_meta.split("\n", 1)[0].split("\t") == ["product_id", "title", "category", "error"], cli_meta[:200]
    # the Runs page's download: the run opened with its catalog loaded (colour defaults to the label)
    run = load_run(out)
    archive = zipfile.ZipFile(io.BytesIO(export.projector_zip(run, read_table(csv), label="category",
                                                                  colour="category")))
    dashboard_meta = archive.read(next(n for n in archive.namelist() if n.endswith("metadata.tsv"))).decode()
    assert dashboard_meta == cli_meta, "the CLI and the dashboard write different metadata.tsv"


def test_projector_export_without_the_table_keeps_ids_and_says_so(trained, tmp_path, capsys):
    _, out = trained
    copy = tmp_path / "moved"
    shutil.copytree(out, copy)
    info = json.loads((copy / "run.json").read_text())
    info["data"]["source"] = str(tmp_path / "gone.csv")
    (copy / "run.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["export", str(copy), "--format", "projector", "--out", str(tmp_path / "p")]) == 0
    assert "gone.csv' is not here" in capsys.readouterr().err
    header = (tmp_path / "p" / "metadata.tsv").read_text().split("\n", 1)[0]
    assert header.split("\t") == ["product_id", "error"], header


def test_cli_and_dashboard_make_the_same_run_from_the_same_file(tmp_path, capsys):
    """Same CSV, same label and settings: the CLI's run and the Train page's job exclude the same columns
    (the label and its named twins) and learn the same embeddings."""
    from pages import _catalogs
    from pages._training_job import TrainingJob
    from product_repr import learners
    from product_repr.data.tables import read_table
    from product_repr.runs import load_run

    csv = tmp_path / "demo.csv"
    assert main(["demo", "--rows", "300", "--seed", "5", "--out", str(csv)]) == 0
    out = tmp_path / "cli-run"
    assert main(["train", str(csv), "--label", "category", "--steps", "40", "--seed", "2", "--out", str(out),
                 "--quiet"]) == 0
    cli_run = load_run(out)

    catalog = _catalogs.make_catalog(read_table(csv), csv.name, label="category")  # the Data page's choice
    config = learners.get(learners.DEFAULT).Config(steps=40, seed=2)
    job = TrainingJob(name="dash", learner=learners.DEFAULT, config=config, table=catalog.df,
                      schema=catalog.schema, exclude=list(catalog.exclude), label=catalog.label,
                      source=csv.name, gate=None)
    job.start()
    job.thread.join(timeout=600)
    assert job.error is None and job.run is not None, job.error
    cli_excluded, dash_excluded = (r.info["data"]["excluded"] for r in (cli_run, job.run))
    assert sorted(cli_excluded) == sorted(dash_excluded), (cli_excluded, dash_excluded)
    assert "subcategory" in cli_excluded, "the label's named twin is excluded by both faces"
    assert list(cli_run.product_ids) == list(job.run.product_ids)
    np.testing.assert_allclose(cli_run.embeddings, job.run.embeddings, atol=1e-4,
                               err_msg="same file and settings gave different embeddings")


def test_clusters_names_the_runs_clusters_and_writes_the_assignment(trained, tmp_path, capsys):
    csv, out = trained
    capsys.readouterr()
    assignment, table = tmp_path / "products.csv", tmp_path / "clusters.csv"
    assert main(["clusters", str(out), "--out", str(table), "--assignment", str(assignment)]) == 0
    said = capsys.readouterr().err
    clusters_ = pd.read_csv(table)
    products = pd.read_csv(assignment)
    assert len(products) == 600 and set(products["cluster"]) == set(clusters_["cluster"])
    assert clusters_["size"].sum() == 600 and f"{(clusters_['cluster'] >= 0).sum()} clusters" in said
    named = clusters_[clusters_["cluster"] >= 0]
    assert named["words"].notna().all() and named["label"].str.contains(" · ").all(), named
