"""The command line end to end, in-process: demo → train → evaluate → export, and its error paths."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from product_repr.analysis import evaluation
from product_repr.cli import main
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
